"""What a choice of model size costs: the excess loss over the best size along the IsoFLOP line, per draw."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_scaling.analysis.choice_cost import choice_cost, excess_loss, near_optimal, shifted, smoothed
from bayes_scaling.result import FitResult
from bayes_scaling.uncertainty.discrepancy import Discrepancy

from .conftest import TRUE_PARAMS, synthetic_tree


@pytest.fixture(scope="module")
def fit():
    return FitResult(synthetic_tree(draws=300))


def _law_alone(tree):
    still = Discrepancy(("n_params", "n_tokens"), 1e-6, 3.0, 0.004, 60)
    tree.attrs["discrepancy"] = still.to_json()
    return FitResult(tree)


def test_the_excess_loss_of_the_true_laws_profile_matches_the_closed_form():
    """With the parameters known exactly, the excess of N at C is L(N, C/6N) / L(N_opt, C/6N_opt) - 1."""
    from bayes_scaling.laws import get_law

    law = get_law("chinchilla")
    fit = _law_alone(synthetic_tree(draws=50))
    found = excess_loss(fit, 1e22, discrepancy=False)
    n = found["n_params"].values
    truth = law.loss(n_params=n, n_tokens=1e22 / (6 * n), **TRUE_PARAMS)
    median = found["relative"].median(("chain", "draw")).values
    np.testing.assert_allclose(median, truth / truth.min() - 1, rtol=0.1, atol=2e-3)  # draws differ a little
    assert float(found["relative"].min()) == 0.0 and (found["excess"].values >= 0).all()


def test_near_optimal_sizes_contain_the_optimum_and_shrink_as_the_tolerance_does(fit):
    found = excess_loss(fit, 1e23)
    wide, narrow = near_optimal(found, 0.02), near_optimal(found, 0.005)
    n_opt = float(fit.optimal_allocation(1e23)["n_params"].median())
    assert wide["n_params"]["lower"] < n_opt < wide["n_params"]["upper"]
    assert wide["n_params"]["lower"] <= narrow["n_params"]["lower"] <= narrow["n_params"]["upper"] <= \
        wide["n_params"]["upper"]
    assert wide["tolerance"]["nats"] == pytest.approx(0.02 * 2.0, rel=0.2)
    assert near_optimal(found, 1e-6, 0.99)["n_params"] is None  # nothing is that safe
    with pytest.raises(ValueError):
        near_optimal(found, 1.5)


def test_a_size_far_from_the_optimum_costs_more_and_sizes_off_the_grid_say_so(fit):
    found = excess_loss(fit, 1e23)
    n_opt = float(fit.optimal_allocation(1e23)["n_params"].median())
    close, far = choice_cost(found, n_opt), choice_cost(found, n_opt / 20)
    assert far["relative"]["median"] > 5 * close["relative"]["median"]
    assert far["excess"]["lower"] <= far["excess"]["median"] <= far["excess"]["upper"]
    assert choice_cost(found, n_opt * 1e3)["relative"] is None


def test_the_smoothed_discrepancy_keeps_a_quadratic_and_drops_roughness():
    x = np.linspace(-1.5, 1.5, 61)
    quadratic = 0.01 + 0.02 * x - 0.005 * x**2
    rough = quadratic + 0.003 * np.random.default_rng(0).standard_normal(x.size)
    np.testing.assert_allclose(smoothed(quadratic[None, :], x)[0], quadratic, atol=1e-12)
    assert np.abs(smoothed(rough[None, :], x)[0] - quadratic).max() < 0.002


def test_draws_are_seeded_per_budget(fit):
    first, second = excess_loss(fit, 1e23, seed=3), excess_loss(fit, 1e23, seed=3)
    np.testing.assert_array_equal(first["relative"].values, second["relative"].values)


def test_plan_gives_the_near_optimal_range_and_the_cost_of_chosen_sizes(fit):
    from bayes_scaling.analysis.planning import plan

    row = plan(fit, compute=[1e23], n_params=[3e9, 3e10])["compute"][0]
    found = row["near_optimal"]
    assert found["tolerance"]["fraction"] == 0.005 and found["probability"] == 0.9
    assert found["n_params"]["lower"] < row["n_params"]["median"] < found["n_params"]["upper"]
    small, close = row["choices"]
    assert small["relative"]["mean"] > close["relative"]["mean"] >= 0
    stricter = plan(fit, compute=[1e23], tolerance=0.002)["compute"][0]["near_optimal"]
    assert stricter["n_params"] is None or stricter["n_params"]["upper"] <= found["n_params"]["upper"]


def test_shifting_every_draw_at_once_reads_each_row_as_numpys_interp_does():
    rng = np.random.default_rng(4)
    x = np.linspace(-1.5, 1.5, 61)
    rows = rng.standard_normal((50, 61)).cumsum(axis=1)
    shift = rng.normal(0, 1.0, 50)  # some beyond the grid's ends: held at the end values
    expected = np.stack([np.interp(x - s, x, row) for s, row in zip(shift, rows, strict=True)])
    np.testing.assert_allclose(shifted(rows, x, shift), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(shifted(rows, x, np.zeros(50)), rows)
