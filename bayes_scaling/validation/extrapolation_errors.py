"""Leave-future-out errors of a development suite: fit the budgets at least ``decades`` below the top one, as
``bayes-scaling fit --law`` would, and record how far the law missed each larger run.

The held-out runs are every run of the larger budgets that the suite's own filters keep (not the law's default
filters: a user scores all the runs they trained since, ``bayes-scaling score``), with their error (observed log
loss minus the fit's median law), the fit's predictive variance there (law, noise spread, GP amplitude) and the
part of it the held-out runs share (the law's), their
decades of compute beyond the fit's data and their budget. These are the data of the cross-suite extrapolation model
(:mod:`bayes_scaling.validation.extrapolation_learning`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayes_scaling.data.budgets import budget_labels, budgets_above
from bayes_scaling.data.errors import DataError
from bayes_scaling.data.load import load_runs
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.result import FitResult, load
from bayes_scaling.sampling.io import save_tree
from bayes_scaling.sampling.run import prepare
from bayes_scaling.uncertainty import fit_with_uncertainty
from bayes_scaling.uncertainty.distance import beyond, largest_scale
from bayes_scaling.uncertainty.drift import error_terms
from bayes_scaling.uncertainty.extrapolation import ExtrapolationPrior
from bayes_scaling.validation.suites import get_suite

log = logging.getLogger(__name__)

#: How far below the top budget the fits of each suite stop, in decades of compute: the errors at several distances.
CUTS = (0.5, 1.0, 1.5)
#: The cut the leave-one-suite-out table scores (budgets up to a tenth of the top one).
SCORED_CUT = 1.0
#: Seed of every suite fit (the same numbers on every run).
SEED = 20261201
#: A weak cross-suite prior for the collection fits (their own slope distribution is recombined later with the
#: prior learned without the suite): slope 0 +- 0.05 per decade.
WEAK = ExtrapolationPrior("any", "weak", (), {"mu": np.zeros(1), "tau": np.full(1, 0.05), "psi": np.full(1, 0.01),
                                              "rho": np.full(1, 0.01)})


@dataclass(frozen=True)
class Task:
    """One fit of a suite: the ``law`` on the budgets at least ``cut`` decades below its top."""

    suite: str
    law: str
    cut: float

    @property
    def key(self) -> str:
        return f"{self.suite}-{self.law}-cut{self.cut:g}"


def all_tasks() -> list[Task]:
    """Every (suite, law, cut) of the development suites."""
    from bayes_scaling.validation.suites import SUITES

    return [Task(suite.name, law, cut) for suite in SUITES for law in suite.laws for cut in CUTS]


def heldout_frame(task: Task) -> pd.DataFrame:
    """The runs of the suite's budgets less than ``cut`` decades below the top (suite filters only) and their
    budget labels."""
    suite = get_suite(task.suite)
    frame = load_runs(suite.data).frame
    held = frame[budgets_above(frame, task.cut)].copy()
    held["budget_label"] = budget_labels(frame)[budgets_above(frame, task.cut)]
    return held


def run_task(task: Task, folder: str | Path, discrepancy: str = "after", budget_effect: str = "none"
             ) -> dict[str, Any]:
    """Fit the task (the whole method: law, GP fitted ``discrepancy`` ("after" or "in_model"), a random offset per
    budget if ``budget_effect`` is "auto", own refits when
    ``cut`` is :data:`SCORED_CUT`), save the fit to ``folder/<key>.nc`` and return the held-out errors as a dict of
    lists (with the fit's convergence)."""
    folder = Path(folder)
    path = folder / f"{task.key}.nc"
    suite = get_suite(task.suite)
    if path.exists():
        fit = load(path)
    else:
        try:
            prepared = prepare(suite.spec(task.law, filters={"below_top_compute": task.cut}, seed=SEED,
                                          discrepancy=discrepancy, budget_effect=budget_effect))
        except DataError as error:  # too few budgets left below the cut for this law
            log.warning("%s: not fitted (%s)", task.key, error)
            return {"suite": task.suite, "law": task.law, "cut": task.cut, "converged": False, "skipped": str(error),
                    **{key: [] for key in ("error", "variance", "shared", "distance", "budget", "compute")}}
        tree = fit_with_uncertainty(prepared, prior=WEAK, refits=task.cut == SCORED_CUT)
        save_tree(tree, path)
        fit = FitResult(tree, path)
    return errors_of(fit, task)


def errors_of(fit: FitResult, task: Task) -> dict[str, Any]:
    """Held-out errors of a suite fit (see the module docstring)."""
    held = heldout_frame(task)
    law = fit.law
    inputs = {name: held[name].to_numpy(dtype=float) for name in law.inputs}
    likelihood = get_likelihood(str(fit.tree.attrs["likelihood"]))
    errors, variances, shared = error_terms(law, likelihood, fit.draws(law.parameters),
                                            fit.draws(likelihood.parameters), inputs,
                                            held["loss"].to_numpy(dtype=float), fit.discrepancy.eta,
                                            fit.budget_sd_draws)
    return {
        "suite": task.suite, "law": task.law, "cut": task.cut, "converged": bool(fit.converged),
        "error": errors.tolist(),
        "variance": variances.tolist(),
        "shared": shared.tolist(),
        "distance": beyond(inputs, run_inputs_scale(fit)).tolist(),
        "budget": held["budget_label"].astype(int).tolist(),
        "compute": held["compute"].to_numpy(dtype=float).tolist(),
    }


def run_inputs_scale(fit: FitResult) -> float:
    """log10 of the largest compute (or N·D) among the fit's runs."""
    return largest_scale({name: fit.runs[name].values for name in fit.law.inputs})


def errors_table(results: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per held-out run of every task (``refit`` numbers the tasks)."""
    frames = []
    for refit, result in enumerate(results):
        columns = {key: result[key] for key in ("error", "variance", "shared", "distance", "budget", "compute")
                   if key in result}
        frame = pd.DataFrame(columns)
        for key in ("suite", "law", "cut", "converged"):
            frame[key] = result[key]
        frame["refit"] = refit
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)

