r"""Learn kappa, the factor on the extrapolation drift's spread, across suites by leave-one-suite-out CRPS.

The whole model's predictive of a run beyond the data is the law's (with the discrepancy GP inside the model, its
hyperparameters integrated, so it already widens with the distance) plus the drift: a slope per decade learned across
suites and updated by the fit's own leave-future-out errors
(:mod:`bayes_scaling.uncertainty.extrapolation`). kappa scales the drift's spread around its mean slope
(:meth:`~bayes_scaling.uncertainty.extrapolation.DriftModel.scaled`): 0 keeps only the learned mean shift, 1 is the
cross-suite model's own spread. It is the value on the grid :data:`SCALES` that minimises

.. math::

    \bar S(\kappa) = \frac{1}{|P|} \sum_{p \in P} \frac{1}{n_p} \sum_{i \in p} \mathrm{CRPS}_{p}(\kappa; y_i)

over the suite-law pairs :math:`P` of one law (each pair weighed equally, its held-out runs averaged), where each
pair's predictive is made with a cross-suite prior learned without that pair's suite. Scored nested: the kappa a
left-out suite is scored with is learned from the other suites alone, each of them predicted with a prior learned
without both (:func:`learn_scales`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayes_scaling.result import FitResult, load
from bayes_scaling.uncertainty.distance import beyond
from bayes_scaling.uncertainty.extrapolation import prior_from_dict
from bayes_scaling.validation.extrapolation_errors import SCORED_CUT, Task
from bayes_scaling.validation.extrapolation_learning import fit_cross_suite
from bayes_scaling.validation.holdout import predictive_samples_and_score, sample_scores
from bayes_scaling.validation.leave_one_suite_out import held_dataset

log = logging.getLogger(__name__)

#: The grid kappa is chosen on: 0 to 1.5 in steps of 0.05 (fixed before any score of it was seen).
SCALES = np.round(np.arange(31) * 0.05, 2)


def crps_by_scale(fit: FitResult, held, *, seed: int = 0, scales: np.ndarray = SCALES) -> np.ndarray:
    """Mean CRPS of log loss at the ``held`` runs (a Dataset over ``run``) for each of ``scales``, from one set of
    draws: the whole model's predictive without the drift plus the fit's drift draws scaled around their mean, the
    same distribution :meth:`~bayes_scaling.uncertainty.extrapolation.DriftModel.scaled` gives."""
    model = fit.discrepancy.extrapolation
    if model is None:
        raise ValueError(f"{fit.name}: the fit has no extrapolation drift to scale")
    base, _ = predictive_samples_and_score(fit.without_drift(), held, seed=seed, discrepancy=True)
    distance = beyond({name: held[name].values for name in fit.law.inputs}, fit.discrepancy.drift_from)
    drift = model.draws(np.random.default_rng([seed, 3]), base.shape[0], distance)
    centre = float(np.mean(model.slope_mean)) * distance[None, :]
    observed = np.log(held["loss"].values)
    return np.array([sample_scores(base + centre + kappa * (drift - centre), observed)["crps"] for kappa in scales])


class _PairScorer:
    """The cross-suite priors of one law learned without sets of suites, and the CRPS curves of each suite's scored
    fit under them, each computed once."""

    def __init__(self, folder: Path, errors: pd.DataFrame, law: str, *, seed: int, between: str) -> None:
        self.errors = errors[errors["law"] == law]
        self.law, self.seed, self.between = law, seed, between
        self.fits: dict[str, tuple[FitResult, Any]] = {}
        for suite in dict.fromkeys(self.errors["suite"]):
            task = Task(suite, law, SCORED_CUT)
            path = folder / f"{task.key}.nc"
            if path.exists():
                self.fits[suite] = (load(path), held_dataset(task))
        self.priors: dict[frozenset, dict[str, Any]] = {}
        self.curves: dict[tuple[frozenset, str], np.ndarray] = {}

    def learned(self, without: frozenset) -> dict[str, Any]:
        """The cross-suite posterior learned from every suite but ``without``."""
        if without not in self.priors:
            rows = self.errors[~self.errors["suite"].isin(without)]
            self.priors[without] = fit_cross_suite(rows, seed=self.seed, between=self.between)
        return self.priors[without]

    def curve(self, suite: str, without: frozenset) -> np.ndarray:
        """CRPS by scale of ``suite``'s scored fit with the prior learned without ``without`` (which holds it)."""
        key = (without, suite)
        if key not in self.curves:
            fit, held = self.fits[suite]
            prior = prior_from_dict(self.law, self.learned(without), f"without {', '.join(sorted(without))}")
            self.curves[key] = crps_by_scale(fit.with_extrapolation(prior), held, seed=self.seed)
        return self.curves[key]


def best_scale(curves: list[np.ndarray], scales: np.ndarray = SCALES) -> float:
    """The scale whose mean CRPS over the pairs' ``curves`` (one per pair, a value per scale) is least."""
    return float(scales[int(np.argmin(np.mean(np.vstack(curves), axis=0)))])


def learn_scales(folder: str | Path, errors: pd.DataFrame, law: str, *, seed: int = 0,
                 between: str = "normal") -> dict[str, Any]:
    """kappa for ``law`` learned from the suites' scored fits in ``folder`` and their held-out errors ``errors``.

    Returns
    -------
    dict: ``packaged`` (learned from every suite, each predicted with a prior learned without it: what a user's fit
    gets), ``left_out`` (per suite, learned from the other suites alone, each predicted with a prior learned without
    both: what the suite is scored with), ``curves`` (per suite, its mean CRPS by scale under the prior learned
    without it), ``scales`` and ``priors_converged`` (whether every cross-suite fit it needed passed its
    diagnostics).
    """
    scorer = _PairScorer(Path(folder), errors, law, seed=seed, between=between)
    suites = list(scorer.fits)
    left_out = {}
    for suite in suites:
        others = [other for other in suites if other != suite]
        left_out[suite] = best_scale([scorer.curve(other, frozenset({suite, other})) for other in others])
        log.info("%s, %s left out: kappa %.2f", law, suite, left_out[suite])
    curves = {suite: scorer.curve(suite, frozenset({suite})) for suite in suites}
    packaged = best_scale(list(curves.values()))
    converged = all(found["diagnostics"]["converged"] for found in scorer.priors.values())
    return {"law": law, "packaged": packaged, "left_out": left_out, "scales": SCALES.tolist(),
            "curves": {suite: values.tolist() for suite, values in curves.items()}, "priors_converged": converged,
            "priors": {suite: scorer.learned(frozenset({suite})) for suite in suites}}

