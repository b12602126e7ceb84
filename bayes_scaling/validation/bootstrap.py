r"""The bootstrap baseline: Hoffmann et al.'s and Epoch AI's point fit, with runs resampled for intervals.

Each fit minimises the Huber loss (delta = 1e-3) of log-loss residuals over the law's parameters in log space,

.. math:: \hat\theta = \arg\min_\theta \sum_i \mathrm{Huber}_\delta\big(\log \hat L(x_i; e^\theta) - \log L_i\big),

from a grid of starts (Hoffmann's procedure; Epoch AI's refit, both with L-BFGS-B; here every start and every
replicate in one batch, :mod:`~bayes_scaling.validation.batched_huber`), and the bootstrap refits it to runs
resampled with replacement (their counts as weights), each replicate starting from the full-data optimum. A
replicate's predictive for a new run is its law's prediction plus one of its own residuals drawn at random, so
intervals carry noise as the Bayesian posterior predictive does and the two can be scored the same way. Works for
any law with positive parameters.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass

import numpy as np

from bayes_scaling.laws import Law
from bayes_scaling.util.blas import with_one_blas_thread
from bayes_scaling.validation.batched_huber import best_of, fit_many, huber

__all__ = ["BootstrapFit", "bootstrap_fit", "grid_starts", "huber", "typical_values"]

log = logging.getLogger(__name__)

#: Multipliers of each parameter's prior typical value that make the grid of starts (3^k starts, at most MAX_STARTS).
GRID = {"exponent": (0.5, 1.0, 2.0), "other": (1e-2, 1.0, 1e2)}
MAX_STARTS = 243


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
    with replacement, all in batches (:func:`~bayes_scaling.validation.batched_huber.fit_many`). BLAS is held to
    one thread: the batch solves many 5 x 5 systems, which a thread pool only slows."""
    start_time = time.perf_counter()
    names = law.parameters
    log_observed = np.log(np.asarray(loss, dtype=float))
    inputs = {k: np.asarray(v, dtype=float) for k, v in inputs.items()}
    best = best_of(law, names, inputs, log_observed, np.array(grid_starts(law, inputs, seed, max_starts)))
    rng = np.random.default_rng(seed)
    n = log_observed.size
    index = np.array([rng.integers(0, n, n) for _ in range(replicates)], dtype=int).reshape(replicates, n)
    counts = np.array([np.bincount(row, minlength=n) for row in index], dtype=float).reshape(replicates, n)
    thetas, _ = fit_many(law, names, inputs, log_observed, np.tile(best, (replicates, 1)), counts)
    params = {name: np.exp(thetas[:, j])[:, None] for j, name in enumerate(names)}
    predicted = np.log(law.loss(**{k: v[None, :] for k, v in inputs.items()}, **params))  # (B, n)
    residuals = np.take_along_axis(log_observed[None, :] - predicted, index, axis=1)
    seconds = time.perf_counter() - start_time
    log.info("bootstrap of %s: %d replicates in %.1f s", law.name, replicates, seconds)
    return BootstrapFit(law, names, best, thetas, residuals, seconds)
