r"""The bootstrap baseline: Hoffmann et al.'s and Epoch AI's point fit, with runs resampled for intervals.

Each fit minimises the Huber loss (delta = 1e-3) of log-loss residuals over the law's parameters in log space,

.. math:: \hat\theta = \arg\min_\theta \sum_i \mathrm{Huber}_\delta\big(\log \hat L(x_i; e^\theta) - \log L_i\big),

by L-BFGS-B from a grid of starts (Hoffmann's procedure; Epoch AI's refit), and the bootstrap refits it to runs
resampled with replacement, each replicate starting from the full-data optimum. A replicate's predictive for a new
run is its law's prediction plus one of its own residuals drawn at random, so intervals carry noise as the Bayesian
posterior predictive does and the two can be scored the same way. Works for any law with positive parameters.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from bayes_scaling.laws import Law
from bayes_scaling.util.blas import with_one_blas_thread

log = logging.getLogger(__name__)

HUBER_DELTA = 1e-3
#: Multipliers of each parameter's prior typical value that make the grid of starts (3^k starts, at most MAX_STARTS).
GRID = {"exponent": (0.5, 1.0, 2.0), "other": (1e-2, 1.0, 1e2)}
MAX_STARTS = 243


def huber(r: np.ndarray, delta: float = HUBER_DELTA) -> np.ndarray:
    """Huber loss: r^2 / 2 within delta, delta (|r| - delta / 2) outside."""
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


@dataclass
class BootstrapFit:
    """Point fit and bootstrap replicates of one law on one set of runs."""

    law: Law
    names: tuple[str, ...]
    best: np.ndarray  # log parameters of the full-data fit
    replicates: np.ndarray  # (B, k) log parameters
    residuals: np.ndarray  # (B, n) residuals of each replicate on its own resampled runs
    seconds: float

    def params(self, log_values: np.ndarray) -> dict[str, np.ndarray]:
        return {name: np.exp(log_values[..., i]) for i, name in enumerate(self.names)}

    def predictive_log_loss(self, inputs: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """(B, n) draws of log loss at ``inputs`` (arrays over runs): each replicate's prediction plus one of its
        residuals."""
        params = {k: v[:, None] for k, v in self.params(self.replicates).items()}
        mu = np.log(self.law.loss(**{k: np.asarray(v)[None, :] for k, v in inputs.items()}, **params))
        pick = rng.integers(0, self.residuals.shape[1], size=mu.shape)
        return mu + np.take_along_axis(self.residuals, pick, axis=1)


def _objective(law: Law, names, inputs, log_observed):
    """Huber loss of the log residuals and its exact gradient in the log parameters (complex-step derivatives of
    the law's prediction, chained with the Huber loss's clipped residual)."""
    k, step = len(names), 1e-30

    def value_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        shifted = theta[None, :] + 1j * step * np.eye(k)  # row j moves parameter j by i*step
        with np.errstate(all="ignore"):
            pred = np.log(law.loss(**inputs, **dict(zip(names, np.exp(theta), strict=True))))
            tangent = np.log(law.loss(**{n: v[None, :] for n, v in inputs.items()},
                                      **{n: np.exp(shifted[:, j])[:, None] for j, n in enumerate(names)}))
        if not np.all(np.isfinite(pred)):
            return 1e10, np.zeros(k)
        r = pred - log_observed
        gradient = np.imag(tangent) / step @ np.clip(r, -HUBER_DELTA, HUBER_DELTA)
        # divided by delta, so that L-BFGS-B's absolute tolerances suit the loss's scale
        return float(np.sum(huber(r))) / HUBER_DELTA, np.nan_to_num(gradient) / HUBER_DELTA

    return value_and_gradient


TIGHT = {"ftol": 1e-12, "gtol": 1e-8, "maxiter": 2000}
#: Grid starts are screened with L-BFGS-B's default tolerances; the best few are then refined with TIGHT ones.
REFINE = 3


def _fit_from(objective, starts: list[np.ndarray]) -> np.ndarray:
    """The lowest-loss optimum from ``starts`` (screened loosely, the best :data:`REFINE` refined)."""
    if len(starts) > REFINE:
        screened = sorted((minimize(objective, s, method="L-BFGS-B", jac=True) for s in starts),
                          key=lambda result: result.fun)
        starts = [result.x for result in screened[:REFINE]]
    results = [minimize(objective, s, method="L-BFGS-B", jac=True, options=TIGHT) for s in starts]
    return min(results, key=lambda result: result.fun).x


def typical_values(law: Law, inputs: dict[str, np.ndarray]) -> dict[str, float]:
    """Each parameter's prior typical value on the natural scale; an amplitude whose prior is on its term at the
    data centre is converted with its exponent's typical value and the inputs' geometric mean."""
    typical = {name: law.default_priors[name].typical() for name in law.parameters}
    for term in law.power_terms:
        if law.default_priors[term.amplitude].at_centre:
            centre = float(np.mean(np.log(inputs[term.input])))
            typical[term.amplitude] = float(np.exp(term.log_amplitude_at_centre(
                np.log(typical[term.amplitude]), typical[term.exponent], centre)))
    return typical


def grid_starts(law: Law, inputs: dict[str, np.ndarray], seed: int = 0, most: int = MAX_STARTS) -> list[np.ndarray]:
    """Log-parameter starts: each parameter's prior typical value (:func:`typical_values`) times the :data:`GRID`
    multipliers (a seeded subset of ``most`` if there are more)."""
    exponents = {term.exponent for term in law.power_terms}
    typical_of = typical_values(law, inputs)
    axes = []
    for name in law.parameters:
        typical = typical_of[name]
        multipliers = GRID["exponent"] if name in exponents else GRID["other"]
        axes.append([np.log(typical * m) for m in multipliers])
    starts = [np.array(point) for point in itertools.product(*axes)]
    if len(starts) > most:
        keep = np.random.default_rng(seed).choice(len(starts), most, replace=False)
        starts = [starts[i] for i in sorted(keep)]
    return starts


@with_one_blas_thread
def bootstrap_fit(law: Law, inputs: dict[str, np.ndarray], loss: np.ndarray, *, replicates: int = 200,
                  seed: int = 0, max_starts: int = MAX_STARTS) -> BootstrapFit:
    """Point fit from the grid of starts (at most ``max_starts``), then ``replicates`` refits to runs resampled
    with replacement. BLAS is held to one thread: L-BFGS-B on a few parameters makes many tiny calls, which a
    thread pool only slows (53 against 13 CPU s for Epoch's runs and 100 replicates, the same numbers)."""
    start_time = time.perf_counter()
    names = law.parameters
    log_observed = np.log(np.asarray(loss, dtype=float))
    inputs = {k: np.asarray(v, dtype=float) for k, v in inputs.items()}
    best = _fit_from(_objective(law, names, inputs, log_observed), grid_starts(law, inputs, seed, max_starts))
    rng = np.random.default_rng(seed)
    n = log_observed.size
    thetas, residuals = [], []
    for _ in range(replicates):
        index = rng.integers(0, n, n)
        sample_inputs = {k: v[index] for k, v in inputs.items()}
        theta = _fit_from(_objective(law, names, sample_inputs, log_observed[index]), [best])
        params = dict(zip(names, np.exp(theta), strict=True))
        thetas.append(theta)
        residuals.append(log_observed[index] - np.log(law.loss(**sample_inputs, **params)))
    seconds = time.perf_counter() - start_time
    log.info("bootstrap of %s: %d replicates in %.1f s", law.name, replicates, seconds)
    return BootstrapFit(law, names, best, np.array(thetas), np.array(residuals), seconds)
