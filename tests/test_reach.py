"""The smallest compute that reaches a target loss with a stated probability."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_scaling.analysis.reach import PRECISION, chance_at, compute_to_reach
from bayes_scaling.result import FitResult

from .conftest import synthetic_tree


@pytest.fixture(scope="module")
def fit():
    return FitResult(synthetic_tree(draws=300))


def test_the_law_alones_answer_is_the_quantile_of_the_compute_each_draw_needs(fit):
    needed = fit.compute_for_loss(2.2)["compute"].values.ravel()
    found = compute_to_reach(fit, 2.2, 0.9, discrepancy=False)
    assert found["reachable"] and found["compute"] == pytest.approx(np.quantile(needed, 0.9), rel=0.01)
    assert compute_to_reach(fit, 2.2, 0.5, discrepancy=False)["compute"] < found["compute"]


def test_the_whole_predictives_answer_is_the_first_budget_that_reaches_the_probability(fit):
    found = compute_to_reach(fit, 2.2, 0.9)
    assert found["reachable"] and found["n_params"] > 0 and found["n_tokens"] > 0
    assert chance_at(fit, found["compute"], 2.2) >= 0.9
    assert chance_at(fit, found["compute"] / 10 ** (2 * PRECISION), 2.2) < 0.9


def test_a_target_below_the_floor_is_unreachable_and_says_how_close_it_came(fit):
    found = compute_to_reach(fit, 1.0, 0.9, discrepancy=False)  # the floor E is 1.8
    assert not found["reachable"] and found["compute"] is None and found["highest_probability"] == 0.0
    with pytest.raises(ValueError):
        compute_to_reach(fit, 2.2, 1.5)


def test_plan_carries_it_for_each_target(fit):
    from bayes_scaling.analysis.planning import plan

    row = plan(fit, target_loss=[2.2], probability=0.8)["target_loss"][0]
    assert row["with_probability"]["probability"] == 0.8 and row["with_probability"]["reachable"]
