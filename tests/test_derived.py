"""Derived quantities on posterior draws, checked against closed forms of the Chinchilla law."""

import numpy as np
import pytest
import xarray as xr

from bayes_scaling import derived
from bayes_scaling.analysis.planning import plan
from bayes_scaling.laws import get_law
from bayes_scaling.result import FitResult

from .conftest import TRUE_PARAMS, synthetic_tree


@pytest.fixture(scope="module")
def fit() -> FitResult:
    return FitResult(synthetic_tree())


def closed_form_compute_for_loss(target, E, A, B, alpha, beta):
    """At the optimum alpha A N^-alpha = beta B D^-beta, so the N term is R beta/(alpha+beta) with R = target - E."""
    r = target - E
    n = (A * (alpha + beta) / (beta * r)) ** (1 / alpha)
    d = (B * (alpha + beta) / (alpha * r)) ** (1 / beta)
    return 6 * n * d, n, d


def test_outputs_keep_chain_and_draw_dims(fit):
    alloc = fit.optimal_allocation([1e23, 1e24])
    assert alloc["n_params"].dims == ("chain", "draw", "compute")
    assert set(alloc) == {"n_params", "n_tokens", "tokens_per_param", "loss"}
    product = (6 * alloc["n_params"] * alloc["n_tokens"]) / alloc["compute"]
    np.testing.assert_allclose(product.values, 1.0, rtol=1e-10)
    assert fit.predict_loss(n_params=70e9, n_tokens=1.4e12).dims == ("chain", "draw")
    assert fit.predict_loss(n_params=[1e9, 7e10], n_tokens=[2e10, 1.4e12]).dims == ("chain", "draw", "point")


def test_compute_for_loss_matches_the_closed_form(fit):
    params = fit.params
    out = fit.compute_for_loss([2.0, 2.2])
    expected, n, _ = closed_form_compute_for_loss(xr.DataArray([2.0, 2.2], dims="target_loss"), **params)
    np.testing.assert_allclose(out["compute"], expected.transpose(*out["compute"].dims), rtol=1e-6)
    np.testing.assert_allclose(out["n_params"], n.transpose(*out["n_params"].dims), rtol=1e-6)
    assert bool(out["reachable"].all())


def test_unreachable_targets_are_nan_and_counted(fit):
    out = fit.compute_for_loss([1.0])  # below every draw's E
    assert bool(out["compute"].isnull().all())
    assert float(out["reachable"].mean()) == 0.0


def test_optimal_for_params_inverts_the_allocation(fit):
    sizes = [1e9, 70e9]
    budgets = fit.optimal_for_params(sizes)
    back = get_law("chinchilla").optimal_allocation(budgets["compute"], **fit.params)["n_params"]
    np.testing.assert_allclose(back, xr.DataArray(sizes, dims="n_params").broadcast_like(back), rtol=1e-8)


def test_named_models_and_intervals(fit):
    losses = fit.named_model_losses()
    assert list(losses["model"].values) == ["Chinchilla", "Gopher", "GPT-3"]
    stats = derived.interval(losses, 0.9)
    assert bool((stats["lower"] < stats["median"]).all()) and bool((stats["median"] < stats["upper"]).all())
    with pytest.raises(ValueError, match="interval level"):
        derived.interval(losses, 1.5)


def test_bad_queries_are_refused(fit):
    with pytest.raises(ValueError, match="compute must be positive finite numbers"):
        fit.optimal_allocation([1e23, -1])
    with pytest.raises(ValueError, match="cannot derive n_tokens"):
        fit.predict_loss(n_params=1e9)


def test_plan_reports_medians_and_intervals(fit):
    result = plan(fit, compute=[5.76e23], n_params=[70e9], target_loss=[2.0, 1.0], level=0.8)
    row = result["compute"][0]
    exact = get_law("chinchilla").optimal_allocation(5.76e23, **TRUE_PARAMS)["n_params"]
    assert row["n_params"]["lower"] < exact < row["n_params"]["upper"]
    assert result["target_loss"][0]["probability_reachable"] == 1.0
    assert result["target_loss"][1]["probability_reachable"] == 0.0
    assert result["target_loss"][1]["compute"]["median"] is None
    assert result["converged"] is True and result["level"] == 0.8


def test_the_interval_of_one_number_per_draw_is_arviz_equal_tailed_interval():
    import arviz_stats as azs

    rng = np.random.default_rng(2)
    values = xr.DataArray(rng.lognormal(size=(4, 250)), dims=("chain", "draw"))
    values[1, 3] = np.nan  # NaN draws ignored
    found = derived.interval(values, 0.9)
    bounds = azs.eti(values, prob=0.9, dim=["chain", "draw"], skipna=True)
    assert float(found["lower"]) == float(bounds[0]) and float(found["upper"]) == float(bounds[1])
    assert float(found["median"]) == float(values.median())
    per_budget = derived.interval(values.expand_dims(compute=[1e20, 1e21]), 0.9)  # other dims: ArviZ's path
    assert per_budget["lower"].dims == ("compute",) and float(per_budget["lower"][0]) == float(bounds[0])
