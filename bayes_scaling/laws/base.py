"""The law interface: a name, inputs, parameters with default priors, and one pure function.

A law's :meth:`Law.loss` is written with operators and ``np.*`` ufuncs only, so the same function evaluates on numpy
arrays (tests), PyTensor tensors (the model) and xarray objects (posterior curves with ``chain, draw`` dims).
Laws never import PyMC; :mod:`bayes_scaling.fit.model` builds the model from the declarations here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from bayes_scaling.priors import Prior

#: Names of the inputs a law may take, with their units. Every dataset provides them under these names.
INPUT_UNITS: dict[str, str] = {
    "n_params": "parameters",
    "n_tokens": "tokens",
    "compute": "FLOP",
}


@dataclass(frozen=True)
class PowerTerm:
    """A term ``amplitude * x**(-exponent)`` of a law, declared so that the sampler can centre it.

    The sampler sees ``log(amplitude) - exponent * mean(log x)``, the log of the term at the data's geometric-mean
    input, instead of ``log(amplitude)``; the two are a shear apart (unit Jacobian), so the prior stays on the
    natural-scale amplitude and the posterior is unchanged, but the strong correlation between an amplitude and its
    exponent disappears.
    """

    amplitude: str
    exponent: str
    input: str


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
    inputs: ClassVar[tuple[str, ...]]
    default_priors: ClassVar[dict[str, Prior]]
    power_terms: ClassVar[tuple[PowerTerm, ...]] = ()

    @property
    def parameters(self) -> tuple[str, ...]:
        """Parameter names in declaration order."""
        return tuple(self.default_priors)

    def loss(self, **values: Any) -> Any:
        """Expected loss in nats per token given the inputs and parameters (keyword arguments)."""
        raise NotImplementedError

    def optimal_allocation(self, compute: Any, **params: Any) -> dict[str, Any]:
        """Compute-optimal ``n_params`` and ``n_tokens`` for a budget ``compute`` (FLOP) under C = 6 N D."""
        raise LawNotApplicable(f"law {self.name!r} defines no compute-optimal allocation")

    def allocation_exponents(self, **params: Any) -> dict[str, Any]:
        """Exponents ``a`` and ``b`` of N_opt ∝ C^a and D_opt ∝ C^b."""
        raise LawNotApplicable(f"law {self.name!r} defines no allocation exponents")

    def __repr__(self) -> str:
        return f"<law {self.name}: {self.equation}>"
