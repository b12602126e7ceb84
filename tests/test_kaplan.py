"""Kaplan's laws, the IsoFLOP law, Porian's configurations and the L* crossover."""

import numpy as np
import pytest
import xarray as xr

from bayes_scaling.data.errors import DataError
from bayes_scaling.data.load import load_runs
from bayes_scaling.laws import get_law
from bayes_scaling.laws.isoflop import profile, scaled_profile
from bayes_scaling.spec import DataSpec
from bayes_scaling.study.crossover import KAPLAN_PUBLISHED, intersection, posterior_crossover, published_crossover

KAPLAN_RW = {"dataset": "rw", "hparams": "base", "warmup": "long", "decay": "kaplan", "param_count": "kaplan",
             "val": "train"}
TABLE2 = {"alpha_N": 0.076, "alpha_D": 0.103, "N_c": 6.4e13, "D_c": 1.8e13}


def test_single_power_laws_match_hand_written_numpy():
    n = np.array([1e7, 1e9])
    np.testing.assert_allclose(get_law("kaplan_params").loss(n_params=n, alpha_N=0.076, N_c=8.8e13),
                               (8.8e13 / n) ** 0.076)
    np.testing.assert_allclose(get_law("kaplan_data").loss(n_tokens=n, alpha_D=0.095, D_c=5.4e13),
                               (5.4e13 / n) ** 0.095)
    np.testing.assert_allclose(get_law("kaplan_compute").loss(compute=n, alpha_C=0.05, C_c=2.7e28),
                               (2.7e28 / n) ** 0.05)


def test_kaplan_steps_law_is_two_power_terms_without_an_allocation():
    law = get_law("kaplan_steps")
    table3 = {"alpha_N": 0.077, "alpha_S": 0.76, "N_c": 6.5e13, "S_c": 2.1e3}
    n, s = np.array([1e7, 1e9]), np.array([1e3, 1e5])
    np.testing.assert_allclose(law.loss(n_params=n, steps=s, **table3),
                               (6.5e13 / n) ** 0.077 + (2.1e3 / s) ** 0.76, rtol=1e-12)
    assert law.loss(n_params=n, steps=1e30, **table3) == pytest.approx((6.5e13 / n) ** 0.077, rel=1e-9)
    assert law.inputs == ("n_params", "steps") and not law.answers_allocation and law.floor is None
    with pytest.raises(ValueError, match="cannot derive steps"):
        law.loss_at(n_params=1e9, n_tokens=2e10, **table3)  # steps are not tokens: the batch is not known


def test_kaplan_joint_law_limits_and_allocation():
    law = get_law("kaplan_joint")
    n, d = 1e9, 1e30
    assert law.loss(n_params=n, n_tokens=d, **TABLE2) == pytest.approx((6.4e13 / n) ** 0.076, rel=1e-9)
    assert law.loss(n_params=1e40, n_tokens=1e10, **TABLE2) == pytest.approx((1.8e13 / 1e10) ** 0.103, rel=1e-9)
    compute = 1e21
    alloc = law.optimal_allocation(compute, **TABLE2)
    grid = alloc["n_params"] * np.geomspace(0.5, 2.0, 201)
    losses = law.loss(n_params=grid, n_tokens=compute / (6 * grid), **TABLE2)
    assert np.argmin(losses) == 100
    assert law.allocation_exponents(**TABLE2)["a"] == pytest.approx(0.103 / 0.179)


def test_isoflop_profile_has_its_minimum_at_n_opt():
    law = get_law("isoflop")
    params = {"a": 0.7, "N_0": 1e-5, "alpha_C": 0.05, "C_c": 3e28, "u": 0.3, "v": 0.9, "E": 1.5}
    compute = 1e19
    n_opt = law.optimal_allocation(compute, **params)["n_params"]
    grid = n_opt * np.exp(np.linspace(-2, 2, 401))
    losses = law.loss(n_params=grid, compute=compute, **params)
    assert np.argmin(losses) == 200
    assert losses[200] == pytest.approx(law.frontier(compute, **params))
    assert profile(np.array(0.0), 0.3, 0.9) == pytest.approx(1.0)
    # asymmetric: the large-model side (slope v) rises faster than the small-model side (slope u)
    assert losses[-1] > losses[0]


def test_the_scaled_profile_is_the_frontier_times_the_profile():
    """The IsoFLOP laws write (C_c / C)^alpha_C g(delta) as one sum of two exponentials (fewer per run for the
    sampler's gradient): the same numbers."""
    rng = np.random.default_rng(1)
    delta, scale = rng.normal(0, 2, 200), rng.normal(0, 1, 200)
    u, v = 0.3, 0.9
    np.testing.assert_allclose(scaled_profile(scale, delta, u, v), np.exp(scale) * profile(delta, u, v), rtol=1e-13)
    law = get_law("isoflop_power")
    params = {"a": 0.7, "N_0": 1e-5, "alpha_C": 0.05, "C_c": 3e28, "u": 0.3, "v": 0.9}
    grid = np.exp(np.linspace(np.log(1e6), np.log(1e10), 50))
    np.testing.assert_allclose(law.loss(n_params=grid, compute=1e19, **params),
                               law.frontier(1e19, **params) * profile(
                                   np.log(grid) - np.log(params["N_0"]) - params["a"] * np.log(1e19), 0.3, 0.9),
                               rtol=1e-13)


def test_loss_at_derives_the_missing_input():
    law = get_law("isoflop")
    params = {"a": 0.5, "N_0": 0.1, "alpha_C": 0.05, "C_c": 3e28, "u": 0.3, "v": 0.3, "E": 1.5}
    by_tokens = law.loss_at(n_params=1e9, n_tokens=2e10, **params)
    assert by_tokens == pytest.approx(law.loss(n_params=1e9, compute=6 * 1e9 * 2e10, **params))


def test_published_crossover_reproduces_kaplan():
    out = published_crossover()
    assert out["compute_pf_days"] == pytest.approx(1.1e4, rel=0.2)
    assert out["loss"] == pytest.approx(1.67, abs=0.05)
    assert out["n_params"] == pytest.approx(1.3e9 * out["compute_pf_days"] ** 0.73)


def test_crossover_is_where_both_lines_meet():
    p = KAPLAN_PUBLISHED
    out = intersection(**p)
    frontier = (p["C_c"] / out["compute"]) ** p["alpha_C"]
    data_limited = (p["D_c"] / (p["D_e"] * out["compute"] ** p["p_D"])) ** p["alpha_D"]
    assert frontier == pytest.approx(data_limited, rel=1e-9)
    assert bool(out["kaplan_direction"])


def test_posterior_crossover_pairs_draws_reproducibly():
    rng = np.random.default_rng(0)
    shape, dims = (2, 50), ("chain", "draw")

    def draws(centre, spread):
        return xr.DataArray(centre * np.exp(spread * rng.standard_normal(shape)), dims=dims)

    frontier = {"a": draws(0.73, 0.01), "N_0": draws(3.7e-6, 0.1), "alpha_C": draws(0.05, 0.02),
                "C_c": draws(2.7e28, 0.1)}
    data = {"alpha_D": draws(0.095, 0.02), "D_c": draws(5.4e13, 0.1)}
    one = posterior_crossover(frontier, data, seed=3, max_budget=1e20)
    two = posterior_crossover(frontier, data, seed=3, max_budget=1e20)
    xr.testing.assert_identical(one, two)
    assert one.sizes["sample"] == 100
    assert np.all(np.isfinite(one["loss"]))


@pytest.mark.usefixtures("shared_data")
def test_porian_configuration_is_selected_by_its_fields():
    runs = load_runs(DataSpec(dataset="porian2024-summary", select=KAPLAN_RW))
    assert runs.source["configuration"]["published_a"] == pytest.approx(0.834, abs=1e-3)
    assert runs.n_counts_embeddings is False
    assert runs.frame["budget"].nunique() == 11
    np.testing.assert_allclose(runs.column("compute"), 6 * runs.column("n_params") * runs.column("n_tokens"))
    window = load_runs(DataSpec(dataset="porian2024-summary", select=KAPLAN_RW, filters={"isoflop_loss_window": 0.1}))
    best = window.frame.groupby("budget")["loss"].transform("min")
    assert (window.frame["loss"] <= 1.1 * best).all() and len(window) < len(runs)


@pytest.mark.usefixtures("shared_data")
def test_ambiguous_porian_selection_lists_the_configurations():
    with pytest.raises(DataError, match=r"3 configurations match.*hparams=tuned"):
        load_runs(DataSpec(dataset="porian2024-summary", select={"decay": "kaplan"}))
    with pytest.raises(DataError, match="unknown configuration field"):
        load_runs(DataSpec(dataset="porian2024-summary", select={"optimiser": "adam"}))


def test_floored_frontier_crossing_is_found_numerically():
    p = KAPLAN_PUBLISHED
    no_floor = intersection(**p, E=0.0)
    floor = intersection(**p, E=0.2)
    assert bool(floor["kaplan_direction"]) and floor["compute"] > no_floor["compute"]
    frontier = 0.2 + (p["C_c"] / floor["compute"]) ** p["alpha_C"]
    data_limited = (p["D_c"] / (p["D_e"] * floor["compute"] ** p["p_D"])) ** p["alpha_D"]
    assert frontier == pytest.approx(data_limited, rel=1e-9) and floor["loss"] == pytest.approx(frontier)
    # with E = 0.5 the gap between the lines beyond the floorless C* never exceeds 0.40 nats: no crossing
    never = intersection(**p, E=0.5)
    assert not bool(never["kaplan_direction"]) and np.isnan(never["compute"])
