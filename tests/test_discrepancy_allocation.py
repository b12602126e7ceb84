"""The allocation that allows for the law's discrepancy: seeded per budget, near the law's where the runs are, wider
than the law's far beyond them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bayes_scaling.analysis.discrepancy_allocation import allocation_with_discrepancy
from bayes_scaling.analysis.planning import plan
from bayes_scaling.result import FitResult

from .conftest import synthetic_tree


@pytest.fixture(scope="module")
def fit():
    return FitResult(synthetic_tree(draws=300))


def _interval(values):
    return np.nanquantile(np.asarray(values).ravel(), [0.05, 0.5, 0.95])


def test_a_budget_gets_the_same_draws_alone_or_with_others(fit):
    alone = allocation_with_discrepancy(fit, 1e24)["n_params"].sel(compute=1e24)
    together = allocation_with_discrepancy(fit, [1e20, 1e24])["n_params"].sel(compute=1e24)
    np.testing.assert_array_equal(alone.values, together.values)
    assert alone.dims == ("chain", "draw")


def test_near_the_runs_it_follows_the_law_and_far_beyond_it_is_wider():
    """With a discrepancy as large as Epoch AI's runs show (eta 0.03 over a few decades): close to the law's
    allocation among the runs, much wider than it three decades beyond them."""
    from bayes_scaling.uncertainty.discrepancy import Discrepancy

    tree = synthetic_tree(draws=300)
    tree.attrs["discrepancy"] = Discrepancy(("n_params", "n_tokens"), 0.03, 3.0, 0.004, 60).to_json()
    fit = FitResult(tree)
    inside, beyond = 3e20, 1e24  # the runs' budgets span 6e18 to 3e21
    law = fit.optimal_allocation([inside, beyond])["n_params"]
    with_gp = allocation_with_discrepancy(fit, [inside, beyond])["n_params"]
    law_in, gp_in = _interval(law.sel(compute=inside)), _interval(with_gp.sel(compute=inside))
    assert abs(np.log(gp_in[1] / law_in[1])) < np.log(1.3)
    law_far, gp_far = _interval(law.sel(compute=beyond)), _interval(with_gp.sel(compute=beyond))
    assert np.log(gp_far[2] / gp_far[0]) > np.log(law_far[2] / law_far[0]) + 1.0
    assert np.log(gp_far[2] / gp_far[0]) > np.log(gp_in[2] / gp_in[0]) + 1.0
    # the loss at that optimum: with a negligible discrepancy (eta 1e-5) the law's; with eta 0.03 each draw moves by
    # about the discrepancy's spread there
    law_loss = fit.optimal_allocation([beyond])["loss"].values.ravel()
    gp_loss = allocation_with_discrepancy(fit, [beyond])["loss"].values.ravel()
    tree.attrs["discrepancy"] = Discrepancy(("n_params", "n_tokens"), 1e-5, 3.0, 0.004, 60).to_json()
    still = allocation_with_discrepancy(FitResult(tree), [beyond])["loss"].values.ravel()
    np.testing.assert_allclose(still, law_loss, rtol=2e-3)
    assert 0.01 < np.nanstd(np.log(gp_loss / still)) < 0.05  # NaN: draws whose profile had no minimum


def test_plan_answers_with_it_and_keeps_the_law_alone_beside_it(fit):
    found = plan(fit, compute=[1e24])["compute"][0]
    assert {"n_params", "n_tokens", "tokens_per_param", "loss", "no_minimum", "law_only", "includes",
            "extrapolation"} <= set(found)
    assert found["loss"]["lower"] < found["loss"]["median"] < found["loss"]["upper"]
    assert found["n_params"]["lower"] < found["n_params"]["median"] < found["n_params"]["upper"]
    assert 0.0 <= found["no_minimum"] < 0.2
    law = plan(fit, compute=[1e24], discrepancy=False)["compute"][0]
    assert "law_only" not in law and law["includes"].startswith("the law alone")
    assert law["n_params"] == found["law_only"]["n_params"]


def test_beyond_the_data_the_allocation_moves_by_the_learned_drift_of_n_opt():
    """A drift of log10 N_opt of -0.1 +- 0.001 decades per decade of compute: no change inside the runs' budgets,
    N_opt a factor 10^-0.3 lower three decades beyond them (the GP as good as absent)."""
    from bayes_scaling.uncertainty.discrepancy import Discrepancy
    from bayes_scaling.uncertainty.extrapolation import DriftModel

    tree = synthetic_tree(draws=300)
    still = Discrepancy(("n_params", "n_tokens"), 1e-5, 3.0, 0.004, 60, drift_from=np.log10(3e21 / 6))
    tree.attrs["discrepancy"] = still.to_json()
    base = allocation_with_discrepancy(FitResult(tree), [3e20, 3e24])["n_params"]
    model = DriftModel(np.full(10, -0.1), np.full(10, 1e-3), np.zeros(10), "test", "chinchilla", 0)
    tree.attrs["discrepancy"] = dataclasses.replace(still, allocation_model=model.to_dict()).to_json()
    moved = allocation_with_discrepancy(FitResult(tree), [3e20, 3e24])["n_params"]
    ratio = np.log10(np.nanmedian(moved.values, axis=(0, 1)) / np.nanmedian(base.values, axis=(0, 1)))
    np.testing.assert_allclose(ratio, [0.0, -0.3], atol=0.02)
