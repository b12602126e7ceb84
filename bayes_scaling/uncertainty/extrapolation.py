r"""The extrapolation error beyond the data: a slope per decade of compute, learned across suites, updated by the
fit's own leave-future-out errors.

A law fitted to small budgets errs at larger ones by an amount that grows with the distance and can have a sign (on
the development suites the laws over-predict the larger runs' losses). Beyond the largest compute of a fit's data,

.. math::

    \delta_{ext}(x) = b \, d(x) + \gamma \min(1, d(x)), \qquad
    b \sim \mathcal{N}(m, s^2), \quad \gamma \sim \mathcal{N}(0, \rho^2)

with :math:`d(x)` the decades of compute beyond the data (:mod:`bayes_scaling.uncertainty.distance`). The
cross-suite model (fitted by :mod:`bayes_scaling.validation.extrapolation_learning` to the leave-future-out errors of
every development suite, stored in ``extrapolation_prior.json``) is

.. math::

    e_{i} = b_{r} d_{i} + \gamma_{g} \min(1, d_{i}) + \varepsilon_i, \quad
    \varepsilon_i \sim \mathcal{N}(0, v_i), \quad
    b_r = \beta_{suite(r)} + \omega_r, \quad \omega_r \sim \mathcal{N}(0, \psi^2), \quad
    \beta_j \sim \mathcal{N}(\mu, \tau^2), \quad \gamma_g \sim \mathcal{N}(0, \rho^2)

for the error :math:`e_i` (observed log loss minus the refit's median) of held-out run :math:`i` of refit
:math:`r`, with :math:`v_i` the refit's own predictive variance there (law, noise spread, GP amplitude) and
:math:`g` the run's budget in that refit: each refit has one slope (its errors err together), each budget one
offset. A new dataset's slope is :math:`\beta \sim \mathcal{N}(\mu, \tau^2)`; the fit's own leave-future-out errors
(:mod:`bayes_scaling.uncertainty.drift`) update it, with their information divided by the number of nested refits
(they reuse the same runs), and its own extrapolation adds :math:`\omega`: per posterior draw
:math:`(\mu, \tau, \psi, \rho)` of the cross-suite model,
:math:`m = (\mu/\tau^2 + I \hat\beta / k) / P`, :math:`s^2 = 1/P + \psi^2`, :math:`P = 1/\tau^2 + I/k`, with
:math:`\hat\beta` and :math:`I` the generalised-least-squares slope and information of the own errors under the
covariance :math:`\mathrm{diag}(v) + \psi^2 d d^\top + \rho^2 \min(1,d)\min(1,d)^\top` within a refit and budget.

Where the prior was learned with a Student-t spread between suites (draws of :math:`\nu` stored), a new suite's
slope is the scale mixture :math:`\beta \mid \lambda \sim \mathcal{N}(\mu, \tau^2/\lambda)`,
:math:`\lambda \sim \mathrm{Gamma}(\nu/2, \nu/2)`: per hyperparameter draw one :math:`\lambda` is drawn from
:data:`MIXTURE_PROPOSALS` prior draws with weights :math:`\mathcal{N}(\hat\beta; \mu, \tau^2/\lambda + 1/I)` (its
posterior given the own errors; the prior's draw without them), then :math:`\tau^2/\lambda` takes the place of
:math:`\tau^2` above.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: The packaged file of cross-suite posteriors, one per law (and ``"any"``, pooled over laws).
PRIOR_FILE = "extrapolation_prior.json"
#: The packaged prior of each way of fitting, keyed by (``discrepancy``, ``budget_effect``) (``[discrepancy] gp`` and
#: ``budgets``): learned from the development suites fitted the same way, since a law fitted with its discrepancy
#: inside the model, or with offsets per budget, errs differently beyond its data. A combination without a file of
#: its own uses the one of its ``discrepancy`` without offsets.
PRIOR_FILES = {("after", "none"): PRIOR_FILE, ("after", "auto"): "extrapolation_prior_budget_effect.json",
               ("in_model", "none"): "extrapolation_prior_in_model.json"}
#: Hyperparameters the cross-suite model's posterior draws hold (and ``nu`` where the suites spread as a Student-t).
HYPER = ("mu", "tau", "psi", "rho")
#: Prior draws of a Student-t's mixing scale per hyperparameter draw, from which the own errors pick one.
MIXTURE_PROPOSALS = 64
#: Seed of those draws: the same prior and own errors give the same slope distribution in every process.
MIXTURE_SEED = 20261203


@dataclass(frozen=True)
class ExtrapolationPrior:
    """Posterior draws of the cross-suite model's hyperparameters for one law (log loss per decade: ``mu`` mean slope,
    ``tau`` its spread between suites, ``psi`` between refits of one suite; ``rho`` a held-out budget's offset).
    ``version`` names the packaged file's release, ``suites`` the suites it was learned from."""

    law: str
    version: str
    suites: tuple[str, ...]
    draws: dict[str, np.ndarray]
    #: Whether it was learned with each refit's systematic uncertainty as one term its held-out runs share (session
    #: 19; own errors are then weighed the same way), or with every error's variance independent (before).
    shared_errors: bool = False
    #: kappa, the factor on the drift's spread around its mean slope (session 20, :meth:`DriftModel.scaled`): learned
    #: across suites by leave-one-suite-out CRPS (:mod:`bayes_scaling.validation.drift_scale`); 1 where not learned.
    drift_scale: float = 1.0

    def mixing_scales(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draws (hyperparameter draws x ``size``) of the Student-t's mixing scale lambda ~ Gamma(nu/2, rate nu/2)
        per hyperparameter draw; all ones where the suites spread as a Normal (no ``nu`` stored)."""
        draws = self.draws["mu"].size
        if "nu" not in self.draws:
            return np.ones((draws, size))
        half = self.draws["nu"][:, None] / 2.0
        return rng.gamma(np.broadcast_to(half, (draws, size)), 1.0 / half)

    def describe(self) -> str:
        mu, tau = self.draws["mu"], self.draws["tau"]
        return (f"extrapolation prior {self.version} ({self.law}, {len(self.suites)} suites): slope "
                f"{np.median(mu):+.4f} per decade (90% {np.quantile(mu, 0.05):+.4f} to {np.quantile(mu, 0.95):+.4f}), "
                f"between suites {np.median(tau):.4f}"
                + (f" (Student-t, nu {np.median(self.draws['nu']):.1f})" if "nu" in self.draws else ""))


@dataclass(frozen=True)
class OwnErrors:
    """A fit's own leave-future-out errors: ``errors`` (observed minus refit median, log loss), ``variances`` (the
    refit's predictive variance there), ``distances`` (decades beyond the refit's data), ``refits`` and ``budgets``
    (labels: which refit and which budget of it each error comes from), ``rows`` (the held-out run's row in the
    data; empty for fits made before it was stored), ``shared`` (the part of each variance the refit's held-out runs
    share: the law's posterior variance; empty for fits made before session 19,
    :meth:`with_shared`)."""

    errors: np.ndarray
    variances: np.ndarray
    distances: np.ndarray
    refits: np.ndarray
    budgets: np.ndarray
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0))
    shared: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def with_shared(self, independent: float) -> OwnErrors:
        """The errors of a fit made before the shared part was stored, with it derived: each variance less
        ``independent`` (the noise spread, GP amplitude and a new budget's offset squared, of the fit itself, not of
        its refits: close, since the refits fit most of the same runs)."""
        if self.shared.size == self.errors.size:
            return self
        return replace(self, shared=np.maximum(self.variances - independent, 0.0))

    @classmethod
    def empty(cls) -> OwnErrors:
        return cls(*(np.zeros(0) for _ in range(6)))

    def to_dict(self) -> dict[str, list[float]]:
        return {key: np.round(np.asarray(value, dtype=float), 8).tolist() for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> OwnErrors:
        return cls(**{key: np.asarray(raw[key], dtype=float) for key in ("errors", "variances", "distances",
                                                                           "refits", "budgets")},
                   rows=np.asarray(raw.get("rows", []), dtype=float),
                   shared=np.asarray(raw.get("shared", []), dtype=float))


def prior_file(budget_effect: str = "none", discrepancy: str = "after") -> str:
    """The packaged prior's file name for a fit with ``budget_effect`` and ``discrepancy`` (:data:`PRIOR_FILES`)."""
    found = PRIOR_FILES.get((discrepancy, budget_effect))
    if found is None:
        found = PRIOR_FILES[(discrepancy, "none")]
        log.info("no extrapolation prior learned for discrepancy %r with budget offsets %r; using %s", discrepancy,
                 budget_effect, found)
    return found


@cache
def _packaged(budget_effect: str = "none", discrepancy: str = "after") -> dict[str, Any]:
    text = resources.files("bayes_scaling.uncertainty").joinpath(prior_file(budget_effect, discrepancy)).read_text(
        encoding="utf-8")
    return json.loads(text)


def prior_from_dict(law: str, raw: dict[str, Any], version: str) -> ExtrapolationPrior:
    """An :class:`ExtrapolationPrior` from its stored form (``suites`` and ``draws``)."""
    names = (*HYPER, *(("nu",) if "nu" in raw["draws"] else ()))
    return ExtrapolationPrior(law, version, tuple(raw["suites"]),
                              {name: np.asarray(raw["draws"][name], dtype=float) for name in names},
                              bool(raw.get("shared_errors", False)), float(raw.get("drift_scale", 1.0)))


def packaged_prior(law: str, budget_effect: str = "none", discrepancy: str = "after") -> ExtrapolationPrior:
    """The packaged cross-suite prior for ``law`` fitted with ``budget_effect`` and ``discrepancy``, or the one
    pooled over laws (``"any"``) for a law it has none for."""
    stored = _packaged(budget_effect, discrepancy)
    key = law if law in stored["laws"] else "any"
    return prior_from_dict(key, stored["laws"][key], stored["version"])


def packaged_allocation_prior(law: str, budget_effect: str = "none",
                              discrepancy: str = "after") -> ExtrapolationPrior | None:
    """The packaged cross-suite prior of the N_opt drift for ``law`` fitted with ``budget_effect`` and
    ``discrepancy`` (or the pooled one), None if the file has none."""
    stored = _packaged(budget_effect, discrepancy)
    key = law if law in stored["laws"] else "any"
    found = stored["laws"][key].get("allocation")
    return None if found is None else prior_from_dict(key, found, stored["version"])


def allocation_model(prior: ExtrapolationPrior) -> DriftModel:
    r"""The drift of log10 N_opt beyond the data from its cross-suite prior alone (a new suite's slope
    :math:`\beta \sim \mathcal{N}(\mu, \tau^2)` plus its refit's :math:`\omega \sim \mathcal{N}(0, \psi^2)`):
    decades of N per decade of compute, the change of the allocation exponent a beyond the data."""
    draws = prior.draws
    spread = draws["tau"] / np.sqrt(prior.mixing_scales(np.random.default_rng(MIXTURE_SEED), 1)[:, 0])
    return DriftModel(draws["mu"].copy(), np.hypot(spread, draws["psi"]), draws["rho"].copy(), prior.version,
                      prior.law, 0)


def independent_variance(likelihood, noise: dict[str, np.ndarray], eta: float,
                         budget_sd: np.ndarray | None = None) -> float:
    """The part of a held-out run's predictive variance that is not the law's: the noise's spread squared, the GP
    amplitude ``eta`` squared (the misfit differs from size to size within a budget) and a new budget's offset (the
    median of ``budget_sd`` squared) where the model has them."""
    spread = float(np.median(likelihood.spread(**noise)))
    return spread**2 + eta**2 + (0.0 if budget_sd is None else float(np.median(np.square(budget_sd))))


def own_slope(own: OwnErrors, psi: float, rho: float, shared: bool = False) -> tuple[float, float]:
    """:func:`own_slopes` at one ``psi`` and ``rho``: the slope and its information as floats."""
    slopes, information = own_slopes(own, np.array([psi], dtype=float), np.array([rho], dtype=float), shared)
    return float(slopes[0]), float(information[0])


def own_slopes(own: OwnErrors, psi: np.ndarray, rho: np.ndarray,
               shared: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Generalised-least-squares slope of the own errors on their distances and its information, divided by the
    number of refits (nested refits reuse the same runs), for each pair of hyperparameters ``psi[k]``, ``rho[k]``
    (zeros without errors beyond the refits' data).

    Within a refit the covariance is C = V + F S F^T: V diagonal (the errors' variances), F the n x m columns of the
    slope (d) and of each budget's offset (min(1, d) on its runs), S = diag(psi^2, rho^2, ...). By the Woodbury
    identity C^-1 d = V^-1 d - V^-1 F (S^-1 + F^T V^-1 F)^-1 F^T V^-1 d, so the information d^T C^-1 d and
    e^T C^-1 d need one m x m solve per hyperparameter pair (only S^-1 differs between pairs): O(n m^2) time and
    O(n m) memory, never an n x n matrix (a refit of 100,000 runs holds out tens of thousands). With ``shared``,
    the refit's systematic uncertainty is one more column, sqrt(shared), with scale one, and only the rest of each
    variance is diagonal."""
    if shared and own.shared.size != own.errors.size:
        raise ValueError("the own errors store no shared part of their variances; derive it (OwnErrors.with_shared)")
    psi, rho = np.asarray(psi, dtype=float), np.asarray(rho, dtype=float)
    slope_sum, information = np.zeros(psi.size), np.zeros(psi.size)
    beyond = own.distances > 0
    if not beyond.any():
        return slope_sum, information
    for refit in np.unique(own.refits[beyond]):
        pick = beyond & (own.refits == refit)
        d, e, v = own.distances[pick], own.errors[pick], own.variances[pick]
        budgets = own.budgets[pick]
        ramp = np.minimum(1.0, d)
        labels = np.unique(budgets)
        columns = [d, *(ramp * (budgets == label) for label in labels)]
        inverse_scales = [1.0 / np.maximum(psi**2, 1e-300), *([1.0 / np.maximum(rho**2, 1e-300)] * labels.size)]
        if shared:
            common = np.minimum(own.shared[pick], v)
            v = np.maximum(v - common, 1e-12)
            columns.append(np.sqrt(common))
            inverse_scales.append(np.ones(psi.size))
        factors = np.column_stack(columns)  # n x m, m = 1 + B [+ 1]
        weighted = factors / v[:, None]
        inner = np.repeat((factors.T @ weighted)[None], psi.size, axis=0)  # S^-1 + F^T V^-1 F, per pair
        diagonal = np.arange(factors.shape[1])
        inner[:, diagonal, diagonal] += np.column_stack(inverse_scales)
        projected_d, projected_e = weighted.T @ d, weighted.T @ e
        solved = np.linalg.solve(inner, np.broadcast_to(projected_d[:, None], (*inner.shape[:2], 1)))[..., 0]
        information += float(d @ (d / v)) - solved @ projected_d
        slope_sum += float(e @ (d / v)) - solved @ projected_e
    refits = np.unique(own.refits[beyond]).size
    return slope_sum / information, information / refits


@dataclass(frozen=True)
class DriftModel:
    """The slope distribution of one fit's extrapolation, per posterior draw of the cross-suite model:
    ``slope_mean`` and ``slope_sd`` (log loss per decade beyond ``reference``), ``budget_sd`` (rho), with the prior's
    ``version`` and ``law`` and the number of ``own_errors`` that updated it."""

    slope_mean: np.ndarray
    slope_sd: np.ndarray
    budget_sd: np.ndarray
    version: str
    law: str
    own_errors: int
    #: The factor kappa its spread was scaled by (:meth:`scaled`); 1 for the cross-suite model's own spread.
    spread_scale: float = 1.0

    def scaled(self, kappa: float) -> DriftModel:
        r"""The same drift with its spread around the mean slope scaled by ``kappa``: each draw
        :math:`\delta = b d + \gamma \min(1, d)` becomes :math:`\bar b d + \kappa (\delta - \bar b d)`, with
        :math:`\bar b` the mean slope over the mixture (the mean is kept; the slope's and a new budget's offset's
        spreads are multiplied by kappa, their variances by kappa squared)."""
        if kappa < 0:
            raise ValueError(f"a spread scale must be at least 0, not {kappa}")
        centre = float(np.mean(self.slope_mean))
        return replace(self, slope_mean=centre + kappa * (self.slope_mean - centre), slope_sd=kappa * self.slope_sd,
                       budget_sd=kappa * self.budget_sd, spread_scale=self.spread_scale * kappa)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("slope_mean", "slope_sd", "budget_sd"):
            out[key] = np.round(np.asarray(out[key], dtype=float), 8).tolist()
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DriftModel:
        return cls(**{**raw, **{key: np.asarray(raw[key], dtype=float)
                               for key in ("slope_mean", "slope_sd", "budget_sd")}})

    def describe(self) -> str:
        low, high = np.quantile(self.slope_mean + self.slope_sd * _QUANTILE_NORMALS[:, None], [0.05, 0.95])
        return (f"extrapolation slope {np.median(self.slope_mean):+.4f} log loss per decade beyond the data (90% "
                f"{low:+.4f} to {high:+.4f}; cross-suite prior {self.version}, updated by {self.own_errors} own "
                "held-out runs" + (f"; spread scaled by {self.spread_scale:.2f}" if self.spread_scale != 1.0 else "")
                + ")")

    @property
    def slope_variance(self) -> float:
        """The variance of the slope over the mixture: mean of slope_sd^2 plus the variance of slope_mean."""
        return float(np.mean(self.slope_sd**2) + np.var(self.slope_mean))

    @property
    def offset_variance(self) -> float:
        """The variance of the offset of a budget beyond the data (rho^2 over the mixture)."""
        return float(np.mean(self.budget_sd**2))

    def draws(self, rng: np.random.Generator, n_draws: int, distances: np.ndarray) -> np.ndarray:
        """Extrapolation errors (draws x points) at points ``distances`` decades beyond the data: one slope and one
        budget offset per draw, so the points of a draw move together."""
        pick = rng.integers(0, self.slope_mean.size, size=n_draws)
        slope = self.slope_mean[pick] + self.slope_sd[pick] * rng.standard_normal(n_draws)
        offset = self.budget_sd[pick] * rng.standard_normal(n_draws)
        d = np.asarray(distances, dtype=float)[None, :]
        return slope[:, None] * d + offset[:, None] * np.minimum(1.0, d)


#: Normal quantiles used to summarise a mixture of Normals by sampling it evenly.
_QUANTILE_NORMALS = np.linspace(-3, 3, 61)


def drift_model(prior: ExtrapolationPrior, own: OwnErrors) -> DriftModel:
    """Combine the cross-suite prior with a fit's own leave-future-out errors (see the module docstring), the spread
    scaled by the prior's ``drift_scale``."""
    rng = np.random.default_rng(MIXTURE_SEED)
    scales = prior.mixing_scales(rng, MIXTURE_PROPOSALS)
    slopes, informations = own_slopes(own, prior.draws["psi"], prior.draws["rho"], prior.shared_errors)
    mean, sd = [], []
    for mu, tau, psi, _, mixing, slope, information in zip(*(prior.draws[name] for name in HYPER), scales, slopes,
                                                           informations, strict=True):
        slope, information = float(slope), float(information)
        tau = _mixed_spread(tau, mixing, mu, slope, information, rng)
        precision = 1.0 / tau**2 + information
        mean.append((mu / tau**2 + information * slope) / precision)
        sd.append(np.sqrt(1.0 / precision + psi**2))
    found = DriftModel(np.array(mean), np.array(sd), prior.draws["rho"].copy(), prior.version, prior.law,
                       int(np.sum(own.distances > 0)))
    if prior.drift_scale != 1.0:
        found = found.scaled(prior.drift_scale)
    log.info("drift: %s", found.describe())
    return found


def _mixed_spread(tau: float, mixing: np.ndarray, mu: float, slope: float, information: float,
                  rng: np.random.Generator) -> float:
    r"""The spread between suites :math:`\tau/\sqrt\lambda` of one hyperparameter draw: ``tau`` itself for a Normal
    (all mixing scales one); else one of the prior draws ``mixing`` of :math:`\lambda`, picked with weights
    :math:`\mathcal{N}(\hat\beta; \mu, \tau^2/\lambda + 1/I)` where the own errors give a slope (uniformly
    without them)."""
    if np.all(mixing == 1.0):
        return float(tau)
    variance = tau**2 / mixing
    if information > 0:
        total = variance + 1.0 / information
        log_weight = -0.5 * (np.log(total) + (slope - mu) ** 2 / total)
        weight = np.exp(log_weight - log_weight.max())
        pick = rng.choice(mixing.size, p=weight / weight.sum())
    else:
        pick = rng.integers(mixing.size)
    return float(np.sqrt(variance[pick]))
