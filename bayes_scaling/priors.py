"""Plain prior objects: a PyMC distribution name and its keyword arguments.

A law declares its default priors with :class:`Prior`; analysis specs override them with TOML tables such as
``alpha = { dist = "Gamma", mu = 0.4, sigma = 0.3 }``. Laws never import PyMC: only :meth:`Prior.dist` and
:meth:`Prior.create` touch it, and they are called by the model builder.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Distributions a prior may name, with the keyword arguments each accepts. Kept explicit so that a typo in a spec
#: is caught with the list of valid names before any model is built.
DISTRIBUTIONS: dict[str, frozenset[str]] = {
    "Normal": frozenset({"mu", "sigma"}),
    "TruncatedNormal": frozenset({"mu", "sigma", "lower", "upper"}),
    "HalfNormal": frozenset({"sigma"}),
    "LogNormal": frozenset({"mu", "sigma"}),
    "Gamma": frozenset({"alpha", "beta", "mu", "sigma"}),
    "InverseGamma": frozenset({"alpha", "beta", "mu", "sigma"}),
    "Exponential": frozenset({"lam"}),
    "HalfStudentT": frozenset({"nu", "sigma"}),
    "StudentT": frozenset({"nu", "mu", "sigma"}),
    "Uniform": frozenset({"lower", "upper"}),
    "Beta": frozenset({"alpha", "beta", "mu", "sigma"}),
}

#: Keyword arguments that must be positive (scales, shapes, rates, degrees of freedom) wherever they appear.
POSITIVE_ARGUMENTS = frozenset({"sigma", "alpha", "beta", "lam", "nu"})

#: Distributions whose support is the positive half-line (usable for scale parameters such as E, A, B).
POSITIVE = frozenset({"HalfNormal", "LogNormal", "Gamma", "InverseGamma", "Exponential", "HalfStudentT"})


#: What a prior may be placed on: the parameter's value, or (amplitudes of power terms) the term at the data centre.
PRIOR_TARGETS = ("value", "centre")


class PriorError(ValueError):
    """A prior specification that cannot be used; the message says what to change."""


@dataclass(frozen=True)
class Prior:
    """A prior distribution named after its PyMC class.

    Parameters
    ----------
    dist : str
        PyMC distribution name, one of :data:`DISTRIBUTIONS`.
    params : dict
        Keyword arguments of the distribution, e.g. ``{"mu": 0.0, "sigma": 1.0}``.
    at : str
        ``"value"`` (default): the prior is on the parameter itself. ``"centre"``, for the amplitude of a power term
        only: the prior is on the term's value at the data's geometric-mean input (``A / N̄^α`` for ``A / N^α``), in
        the loss's units, so the amplitude's scale follows the exponent instead of fighting it.
    """

    dist: str
    params: Mapping[str, float] = field(default_factory=dict)
    at: str = "value"

    def __post_init__(self) -> None:
        if self.dist not in DISTRIBUTIONS:
            raise PriorError(
                f"unknown prior distribution {self.dist!r}; valid: {', '.join(sorted(DISTRIBUTIONS))}"
            )
        unknown = set(self.params) - DISTRIBUTIONS[self.dist]
        if unknown:
            raise PriorError(
                f"{self.dist} prior does not take {sorted(unknown)}; "
                f"it takes {sorted(DISTRIBUTIONS[self.dist])}"
            )
        for key, value in self.params.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise PriorError(f"{self.dist} prior: {key} must be a finite number, got {value!r}")
        for key in POSITIVE_ARGUMENTS & set(self.params):
            if self.params[key] <= 0:
                raise PriorError(f"{self.dist} prior: {key} must be positive, got {self.params[key]!r}")
        low, high = self.params.get("lower"), self.params.get("upper")
        if low is not None and high is not None and not low < high:
            raise PriorError(f"{self.dist} prior: lower ({low!r}) must be below upper ({high!r})")
        if self.dist in ("Gamma", "InverseGamma", "Beta"):
            pairs = ({"alpha", "beta"}, {"mu", "sigma"})
            if not any(pair == set(self.params) for pair in pairs):
                raise PriorError(f"{self.dist} prior: give either alpha and beta, or mu and sigma; got "
                                 f"{sorted(self.params)}")
            if self.dist != "Beta" and self.params.get("mu", 1.0) <= 0:
                raise PriorError(f"{self.dist} prior: mu must be positive, got {self.params['mu']!r}")
            if self.dist == "Beta" and "mu" in self.params and not 0 < self.params["mu"] < 1:
                raise PriorError(f"Beta prior: mu must lie between 0 and 1, got {self.params['mu']!r}")
        if self.at not in PRIOR_TARGETS:
            raise PriorError(f"a prior's 'at' must be one of {', '.join(PRIOR_TARGETS)}, got {self.at!r}")
        object.__setattr__(self, "params", dict(self.params))

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any]) -> Prior:
        """Build from ``{"dist": "Normal", "mu": 0, "sigma": 1}`` (the TOML form)."""
        if "dist" not in spec:
            raise PriorError(f"a prior table needs a 'dist' key naming a distribution, got {dict(spec)}")
        params = {k: v for k, v in spec.items() if k not in ("dist", "at")}
        return cls(str(spec["dist"]), params, str(spec.get("at", "value")))

    def to_mapping(self) -> dict[str, Any]:
        """The TOML/JSON form, inverse of :meth:`from_mapping`."""
        return {"dist": self.dist, **self.params, **({"at": self.at} if self.at != "value" else {})}

    @property
    def at_centre(self) -> bool:
        """Whether the prior is on a power term's value at the data centre rather than on the parameter."""
        return self.at == "centre"

    @property
    def is_positive(self) -> bool:
        """Whether the support is the positive half-line."""
        return self.dist in POSITIVE

    def describe(self) -> str:
        """Short human form, e.g. ``LogNormal(mu=6, sigma=3)``."""
        args = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{self.dist}({args})" + (" on the term at the data centre" if self.at_centre else "")

    def typical(self) -> float:
        """A central value of the prior (median or mean where closed-form), used to start the sampler."""
        p = self.params
        if self.dist == "LogNormal":
            return math.exp(p["mu"])
        if self.dist in ("Normal", "TruncatedNormal", "StudentT"):
            return float(p.get("mu", 0.0))
        if self.dist in ("Gamma", "InverseGamma", "Beta") and "mu" in p:
            return float(p["mu"])
        if self.dist == "Gamma":
            return p["alpha"] / p["beta"]
        if self.dist == "InverseGamma":
            return p["beta"] / max(p["alpha"] - 1.0, 1.0)
        if self.dist == "Beta":
            return p["alpha"] / (p["alpha"] + p["beta"])
        if self.dist in ("HalfNormal", "HalfStudentT"):
            return 0.67 * p["sigma"]
        if self.dist == "Exponential":
            return math.log(2.0) / p["lam"]
        if self.dist == "Uniform":
            return 0.5 * (p["lower"] + p["upper"])
        return 1.0

    def dist_object(self, size: int | None = None):
        """An unnamed PyMC distribution (``pm.X.dist``), for densities and (with ``size``) a vector of prior
        draws."""
        import pymc as pm

        return getattr(pm, self.dist).dist(**self.params, **({} if size is None else {"size": size}))

    def draw_object(self, size: int):
        """:meth:`dist_object` for forward draws: ``size`` draws of this prior, the same numbers to the bit. A
        HalfNormal is drawn as ``|Normal(0, sigma)|`` (one standard normal a draw either way): PyTensor draws its
        HalfNormal through ``scipy.stats``, whose import is about 0.7 CPU s of a fit that needs nothing else from
        it (``tests/test_priors.py`` checks the draws equal)."""
        if self.dist != "HalfNormal":
            return self.dist_object(size=size)
        import pymc as pm
        import pytensor.tensor as pt

        return pt.abs(pm.Normal.dist(mu=0.0, sigma=self.params["sigma"], size=size))

    def create(self, name: str):
        """A named random variable in the PyMC model on the context stack, started at :meth:`typical`.

        (PyMC would start a LogNormal at its mean, exp(mu + sigma^2 / 2), which overflows for the wide priors on
        Kaplan's scales.)
        """
        import pymc as pm

        return getattr(pm, self.dist)(name, **self.params, initval=self.typical())


def merge_priors(
    defaults: Mapping[str, Prior], overrides: Mapping[str, Prior | Mapping[str, Any]] | None, *, owner: str
) -> dict[str, Prior]:
    """Overrides on top of defaults, without mutating either; unknown names are rejected with the valid list."""
    merged = dict(defaults)
    for name, prior in (overrides or {}).items():
        if name not in defaults:
            raise PriorError(
                f"{owner} has no parameter {name!r} to put a prior on; valid: {', '.join(defaults)}"
            )
        merged[name] = prior if isinstance(prior, Prior) else Prior.from_mapping(prior)
    return merged
