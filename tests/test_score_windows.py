"""New runs beyond the fit's per-budget window (the IsoFLOP law's default ``isoflop_loss_window``): judged within
their own budgets as the fit's runs were, flagged, and counted apart in the score's summary."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from bayes_scaling.data.filters import outside_windows
from bayes_scaling.result import FitResult
from bayes_scaling.validation.scoring import _window_summary, fit_windows
from tests.conftest import synthetic_tree


def _profile(compute: float, losses) -> pd.DataFrame:
    n = np.geomspace(1e8, 1e10, len(losses))
    return pd.DataFrame({"n_params": n, "compute": compute, "loss": losses})


def test_runs_far_up_their_budgets_profile_lie_outside_the_loss_window():
    frame = pd.concat([_profile(1e20, [3.4, 3.05, 3.0, 3.02, 3.2]), _profile(1e21, [2.9, 2.72, 2.7, 2.71, 3.5])],
                      ignore_index=True)
    outside = outside_windows(frame, {"isoflop_loss_window": 0.1})
    assert outside.tolist() == [True, False, False, False, False, False, False, False, False, True]
    assert not outside_windows(frame, {"drop_highest_loss": 2}).any()  # not a per-budget window
    wider = outside_windows(frame, {"isoflop_loss_window": 0.2})
    assert wider.sum() == 1 and wider[-1]


def test_a_run_in_no_budget_cannot_be_judged_and_counts_as_inside():
    frame = pd.concat([_profile(1e20, [3.4, 3.05, 3.0, 3.02, 3.2]), _profile(7e22, [9.0])], ignore_index=True)
    assert outside_windows(frame, {"isoflop_loss_window": 0.1}).tolist() == [True] + [False] * 5


def test_the_summary_counts_runs_beyond_the_window_apart():
    tree = synthetic_tree()
    assert fit_windows(FitResult(tree)) == {}
    tree.attrs["spec"] = json.dumps({"data": {"filters": {"isoflop_loss_window": 0.1, "drop_highest_loss": 2}}})
    assert fit_windows(FitResult(tree)) == {"isoflop_loss_window": 0.1}
    runs = [{"outside_window": out, "intervals": {"0.9": {"covered": covered}}}
            for out, covered in [(True, False), (False, True), (False, True), (False, False)]]
    summary = _window_summary({"isoflop_loss_window": 0.1}, runs, [0.9])
    assert summary["outside"] == 1 and summary["coverage_inside"]["0.9"] == 2 / 3
    assert _window_summary({}, runs, [0.9]) is None


def test_a_sweep_of_four_sizes_per_budget_keeps_its_budgets_under_the_window():
    """Budgets found from compute need five runs; runs sharing one compute exactly still form a budget, so a small
    sweep is windowed instead of losing every run. A run alone at its compute is dropped, as before."""
    from bayes_scaling.data.filters import _per_budget, window_budgets

    small = pd.concat([_profile(1e19, [3.5, 3.3, 3.25, 3.9]), _profile(1e20, [3.1, 2.95, 3.0, 3.5]),
                       _profile(3e21, [2.6])], ignore_index=True)
    assert [len(members) for members in window_budgets(small)] == [4, 4]
    kept = _per_budget(small, "isoflop_loss_window", 0.1)
    assert kept.tolist() == [0, 1, 2, 4, 5, 6]  # 3.9 and 3.5 above 1.1x their budget's best; the lone run dropped
    assert outside_windows(small, {"isoflop_loss_window": 0.1}).tolist() == [False] * 3 + [True] + [False] * 3 + \
        [True, False]
