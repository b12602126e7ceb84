"""The law interface: a name, inputs, parameters with default priors, and one pure function.

A law's :meth:`Law.loss` is written with operators and ``np.*`` ufuncs only, so the same function evaluates on numpy
arrays (tests), PyTensor tensors (the model) and xarray objects (posterior curves with ``chain, draw`` dims).
Laws never import PyMC; :mod:`bayes_scaling.sampling.model` builds the model from the declarations here.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from bayes_scaling.laws.inputs import INPUTS
from bayes_scaling.priors import Prior

#: Names of the inputs a law may take, with their units (:data:`~bayes_scaling.laws.inputs.INPUTS`).
INPUT_UNITS: dict[str, str] = {name: item.unit for name, item in INPUTS.items()}

#: Every law class with a ``name``, registered when its class is defined (:meth:`Law.__init_subclass__`).
LAWS: dict[str, type[Law]] = {}


#: The three shapes of a power term, with the parameter the sampler replaces by its centred coordinate.
TERM_FORMS = ("decay", "growth", "scale")


@dataclass(frozen=True)
class PowerTerm:
    """A power term of a law, declared so that the sampler can centre it.

    ``form`` says how ``amplitude`` (the parameter that is re-coordinated), ``exponent`` and the input ``x`` combine:

    - ``decay`` (default): ``amplitude * x**-exponent`` (Chinchilla's ``A / N^alpha``);
    - ``growth``: ``amplitude * x**exponent`` (an allocation ``N_0 C^a``);
    - ``scale``: ``(amplitude / x)**exponent`` (Kaplan's ``(N_c / N)^alpha_N``).

    The sampler sees the log of the term at the data's geometric-mean input, ``log t(exp(mean log x))``, instead of
    ``log(amplitude)``. For ``decay`` and ``growth`` that is a shear with unit Jacobian; for ``scale`` the Jacobian
    ``1 / exponent`` is added. The prior stays on the natural-scale amplitude and the posterior is unchanged, but the
    strong correlation between an amplitude and its exponent, which far-away data produce, disappears.

    ``floor`` names a constant the term sits on (``E + term``, as in the IsoFLOP law's frontier). The data pin down
    their sum far better than either, so the sampler then sees the log of the sum at the centre,
    ``level = log(E + t)``, and the logit of the term's share of it, ``share``, instead of the term and ``E``; the
    map (level, share) -> (centred coordinate, E) has Jacobian E, which is added with E's prior.

    ``centre_unit = (k, p)``: a prior ``at = "centre"`` is on the term at the centre measured in units of
    ``(k x̄)^p``. The default ``(1, 0)`` is the term's own units (nats, for a term of the loss). A term that is
    itself a size, such as ``N_opt = N_0 C^a``, needs a unit that moves with the data's scale to get a prior that
    holds for any dataset: ``(1/6, 1/2)`` makes it ``N_opt / sqrt(C̄/6) = sqrt(N_opt / D_opt)`` under C = 6 N D.
    """

    amplitude: str
    exponent: str
    input: str
    form: str = "decay"
    floor: str | None = None
    centre_unit: tuple[float, float] = (1.0, 0.0)

    def __post_init__(self) -> None:
        if self.form not in TERM_FORMS:
            raise ValueError(f"unknown power-term form {self.form!r}; valid: {', '.join(TERM_FORMS)}")

    def centred(self, log_amplitude, exponent, centre: float):
        """The centred coordinate from the natural log-amplitude and exponent."""
        if self.form == "decay":
            return log_amplitude - exponent * centre
        if self.form == "growth":
            return log_amplitude + exponent * centre
        return exponent * (log_amplitude - centre)

    def log_amplitude(self, coordinate, exponent, centre: float):
        """The natural log-amplitude from the centred coordinate (the inverse of :meth:`centred`)."""
        if self.form == "decay":
            return coordinate + exponent * centre
        if self.form == "growth":
            return coordinate - exponent * centre
        return coordinate / exponent + centre

    def log_centre_unit(self, centre: float) -> float:
        """log of the unit ``(k x̄)^p`` a prior on the term at the centre measures it in (``centre`` = mean log x)."""
        factor, power = self.centre_unit
        return power * (math.log(factor) + centre)

    def log_amplitude_at_centre(self, log_value, exponent, centre: float):
        """The natural log-amplitude whose term at the centre is ``exp(log_value)`` units (:attr:`centre_unit`)."""
        return self.log_amplitude(log_value + self.log_centre_unit(centre), exponent, centre)

    def log_jacobian(self, exponent, log):
        """log |d log(amplitude) / d coordinate| (``log`` is ``np.log`` or ``pt.log``)."""
        return 0.0 if self.form != "scale" else -log(exponent)


class LawNotApplicable(NotImplementedError):
    """The law does not define the requested derived quantity (e.g. an allocation for a one-input law)."""


class Law:
    """Base class of a scaling law.

    Subclasses set the class attributes and implement :meth:`loss`; optional methods give derived quantities in
    closed form. Parameters are stored on the natural scale under the papers' symbols.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    equation: ClassVar[str]
    reference: ClassVar[str] = ""
    #: What the law says, without the papers' names: the title of pages about a user's own runs, where published
    #: references appear only if the analysis declares them.
    plain_title: ClassVar[str] = "Scaling law"
    inputs: ClassVar[tuple[str, ...]]
    default_priors: ClassVar[dict[str, Prior]]
    power_terms: ClassVar[tuple[PowerTerm, ...]] = ()
    #: The parameter that is the loss's floor (the irreducible loss E), if the law has one.
    floor: ClassVar[str | None] = None
    #: The likelihood a fit of this law uses unless its spec or ``--likelihood`` says otherwise.
    default_likelihood: ClassVar[str] = "student_t"
    #: Where a fit of this law fits its discrepancy GP unless its spec or ``--discrepancy`` says otherwise: "after"
    #: sampling, on the law's residuals, or "in_model", sampled with the law's parameters (its coefficients
    #: integrated out, which needs the normal likelihood; :mod:`bayes_scaling.sampling.gp_term`).
    default_discrepancy: ClassVar[str] = "after"
    #: Data filters a fit from the command line (``fit --law``) applies unless told otherwise (a spec file states its
    #: own): names of :data:`bayes_scaling.data.filters.FILTERS` and their values.
    default_filters: ClassVar[dict[str, float]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Check a law's declaration when its class is created, and register it under its ``name``: its inputs are
        registered inputs, its power terms name its parameters and inputs, and :meth:`loss` takes exactly its inputs
        and parameters as keywords (no ``**kwargs`` that would swallow a misspelt name)."""
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            return  # a shared base of several laws, not a law
        where = f"law {cls.__name__} ({cls.name!r})"
        unknown = [name for name in cls.inputs if name not in INPUTS]
        if unknown:
            raise TypeError(f"{where}: unknown input(s) {unknown}; register them in bayes_scaling/laws/inputs.py "
                            f"(known: {', '.join(INPUTS)})")
        parameters = set(cls.default_priors)
        for term in cls.power_terms:
            names = {term.amplitude, term.exponent} | ({term.floor} if term.floor else set())
            if not names <= parameters or term.input not in cls.inputs:
                raise TypeError(f"{where}: power term {term} names a parameter or input the law does not have")
        if cls.floor is not None and cls.floor not in parameters:
            raise TypeError(f"{where}: floor {cls.floor!r} is not one of its parameters {sorted(parameters)}")
        signature = inspect.signature(cls.loss).parameters.values()
        keywords = {p.name for p in signature if p.kind is p.KEYWORD_ONLY}
        swallows = any(p.kind is p.VAR_KEYWORD for p in signature)
        if keywords or not swallows:  # a generic loss(**values) reads its names from the declaration instead
            expected = set(cls.inputs) | parameters
            if swallows or keywords != expected:
                raise TypeError(f"{where}: loss() must take exactly the keywords {sorted(expected)} (its inputs and "
                                f"the parameters of default_priors); it takes {sorted(keywords)}"
                                + (" and **kwargs" if swallows else ""))
        if cls.name in LAWS and LAWS[cls.name] is not cls:
            raise TypeError(f"{where}: the name {cls.name!r} is taken by {LAWS[cls.name].__name__}")
        LAWS[cls.name] = cls

    @property
    def answers_allocation(self) -> bool:
        """Whether the law defines a compute-optimal allocation (N_opt, D_opt for a budget)."""
        return type(self).optimal_allocation is not Law.optimal_allocation

    @property
    def parameters(self) -> tuple[str, ...]:
        """Parameter names in declaration order."""
        return tuple(self.default_priors)

    def loss(self, **values: Any) -> Any:
        """Expected loss in nats per token given the inputs and parameters (keyword arguments)."""
        raise NotImplementedError

    def complete_inputs(self, **values: Any) -> dict[str, Any]:
        """The law's inputs from any two of ``n_params``, ``n_tokens``, ``compute`` (the third from C = 6 N D) and
        any other input it takes, as given."""
        values = {name: value for name, value in values.items() if value is not None}
        given = set(values)
        if "n_params" in self.inputs and "n_params" not in given and {"compute", "n_tokens"} <= given:
            values["n_params"] = values["compute"] / (6.0 * values["n_tokens"])
        if "n_tokens" in self.inputs and "n_tokens" not in given and {"compute", "n_params"} <= given:
            values["n_tokens"] = values["compute"] / (6.0 * values["n_params"])
        if "compute" in self.inputs and "compute" not in given and {"n_params", "n_tokens"} <= given:
            values["compute"] = 6.0 * values["n_params"] * values["n_tokens"]
        missing = [name for name in self.inputs if values.get(name) is None]
        if missing:
            raise ValueError(f"law {self.name!r} needs {', '.join(self.inputs)}; cannot derive {', '.join(missing)}")
        return {name: values[name] for name in self.inputs}

    def loss_at(self, **values: Any) -> Any:
        """:meth:`loss` given any two of ``n_params``, ``n_tokens``, ``compute`` (the third from C = 6 N D)."""
        parameters = {name: values[name] for name in self.parameters}
        return self.loss(**self.complete_inputs(**{k: v for k, v in values.items() if k not in self.parameters}),
                         **parameters)

    def log_loss(self, params: dict[str, Any], inputs: dict[str, Any]) -> np.ndarray:
        """log L per draw (axis 0, from 1-d arrays of parameter draws) and point (axis 1, from the inputs)."""
        values = {name: np.asarray(params[name], dtype=float).reshape(-1, 1) for name in self.parameters}
        points = {name: np.asarray(inputs[name], dtype=float).reshape(1, -1) for name in self.inputs}
        return np.log(self.loss(**points, **values))

    def optimal_allocation(self, compute: Any, **params: Any) -> dict[str, Any]:
        """Compute-optimal ``n_params`` and ``n_tokens`` for a budget ``compute`` (FLOP) under C = 6 N D."""
        raise LawNotApplicable(f"law {self.name!r} defines no compute-optimal allocation")

    def allocation_exponents(self, **params: Any) -> dict[str, Any]:
        """Exponents ``a`` and ``b`` of N_opt ∝ C^a and D_opt ∝ C^b."""
        raise LawNotApplicable(f"law {self.name!r} defines no allocation exponents")

    def __repr__(self) -> str:
        return f"<law {self.name}: {self.equation}>"
