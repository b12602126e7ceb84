"""Extrapolation drift: its slope is the maximum-likelihood growth of refit errors with decades beyond the data,
and predictions carry it only beyond the data's largest compute, as one shared slope per draw."""

import dataclasses

import numpy as np
import pytest

from bayes_scaling.laws import get_law
from bayes_scaling.uncertainty.discrepancy import Discrepancy, discrepancy_draws
from bayes_scaling.uncertainty.distance import beyond, log10_scale
from bayes_scaling.uncertainty.drift import slope_estimate

LAW = get_law("chinchilla")
TRUE = {"E": 1.7, "A": 400.0, "B": 1800.0, "alpha": 0.34, "beta": 0.36}


def test_slope_is_recovered_from_errors_that_grow_with_distance():
    rng = np.random.default_rng(0)
    distances = rng.uniform(0.05, 0.8, 400)
    variances = np.full(400, 0.004**2)
    errors = rng.standard_normal(400) * np.sqrt(variances + (0.03 * distances) ** 2)
    assert slope_estimate(errors, variances, distances) == pytest.approx(0.03, rel=0.15)


def test_errors_within_their_spread_give_no_drift():
    rng = np.random.default_rng(1)
    variances = np.full(300, 0.004**2)
    errors = 0.004 * rng.standard_normal(300) * 0.8  # slightly less spread than claimed: nothing to add
    assert slope_estimate(errors, variances, rng.uniform(0.1, 1.0, 300)) == 0.0
    assert slope_estimate(np.ones(3), np.ones(3), np.zeros(3)) == 0.0  # no run beyond: nothing to measure


def test_distance_is_in_decades_of_compute_or_of_n_times_d():
    assert log10_scale({"compute": np.array([1e20])}) == pytest.approx([20.0])
    np.testing.assert_allclose(log10_scale({"n_params": np.array([1e9]), "n_tokens": np.array([2e10])}),
                               [np.log10(2e19)])
    np.testing.assert_allclose(beyond({"compute": np.array([1e18, 1e20, 1e21])}, 20.0), [0.0, 0.0, 1.0])
    np.testing.assert_allclose(log10_scale({"n_params": np.array([1e9])}), [9.0])  # a law of N alone (Kaplan's L(N))
    np.testing.assert_allclose(log10_scale({"n_tokens": np.array([1e12])}), [12.0])


def test_predictions_carry_the_drift_only_beyond_the_data_with_one_slope_per_draw():
    rng = np.random.default_rng(2)
    n = np.geomspace(1e8, 1e10, 30)
    runs = {"n_params": n, "n_tokens": 2e11 / n, "loss": 2.0 * np.exp(0.01 * rng.standard_normal(30))}
    params = {k: np.full(4000, v) for k, v in TRUE.items()}
    still = Discrepancy(("n_params", "n_tokens"), eta=0.01, length_scale=0.5, nugget=0.002, n_runs=30)
    drifting = dataclasses.replace(still, drift=0.05, drift_from=float(np.max(log10_scale(runs))), drift_errors=20)
    inside = {"n_params": n[10:12], "n_tokens": 2e11 / n[10:12]}
    reach = 10 ** float(np.max(log10_scale(runs)))
    far = {"n_params": np.array([1e11, 3e11]), "n_tokens": np.array([10, 100]) * reach / np.array([1e11, 3e11])}
    for joint in (False, True):
        base = discrepancy_draws(still, LAW, params, runs, inside, np.random.default_rng(3), joint=joint)
        moved = discrepancy_draws(drifting, LAW, params, runs, inside, np.random.default_rng(3), joint=joint)
        np.testing.assert_allclose(moved.std(0), base.std(0), rtol=0.05)  # no drift inside the data
        spread = discrepancy_draws(drifting, LAW, params, runs, far, np.random.default_rng(3), joint=joint)
        expected = np.sqrt(0.01**2 + (0.05 * np.array([1.0, 2.0])) ** 2)
        np.testing.assert_allclose(spread.std(0), expected, rtol=0.06)
        assert np.corrcoef(spread[:, 0], spread[:, 1])[0, 1] > 0.9  # one slope moves both


def _prepared(frame, law=LAW):
    from bayes_scaling.data.runs import RunTable, validate_table
    from bayes_scaling.likelihoods import get_likelihood
    from bayes_scaling.sampling.model import all_priors
    from bayes_scaling.sampling.run import PreparedFit
    from bayes_scaling.spec import AnalysisSpec, DataSpec, SamplerSpec

    likelihood = get_likelihood("student_t")
    columns = {k: k for k in ("n_params", "n_tokens", "compute", "loss")}
    runs = RunTable(frame=validate_table(frame, "simulated", columns), source={"file": "simulated"})
    spec = AnalysisSpec(name="sim", law=law.name, data=DataSpec(csv="simulated"),
                        sampler=SamplerSpec(draws=300, tune=300, seed=5))
    return PreparedFit(spec, law, likelihood, all_priors(law, likelihood), runs)


def test_refits_find_no_drift_in_the_law_and_a_drift_where_the_data_bend_away_from_it(simulated_frame):
    """Leave-future-out refits of runs simulated from the law find s = 0; with the loss bending below the law
    beyond 1e20 FLOP (3% per decade, which the law's parameters can partly follow), they find a drift of that
    order (0.011 per decade measured)."""
    import json

    from bayes_scaling.uncertainty import fit_with_uncertainty

    exact = json.loads(fit_with_uncertainty(_prepared(simulated_frame)).attrs["discrepancy"])
    assert exact["drift_errors"] >= 12 and exact["drift"] < 0.005
    bent = simulated_frame.copy()
    bent["loss"] *= np.exp(-0.03 * np.maximum(np.log10(bent["compute"] / 1e20), 0.0))
    found = json.loads(fit_with_uncertainty(_prepared(bent)).attrs["discrepancy"])
    assert found["drift_errors"] == exact["drift_errors"] and 0.005 < found["drift"] < 0.1


def test_a_law_of_one_size_drifts_along_that_size(simulated_frame):
    """Kaplan's L(N) has neither compute nor D among its inputs: its drift is measured and applied along N."""
    import json

    from bayes_scaling.result import ScalingFit
    from bayes_scaling.uncertainty import fit_with_uncertainty

    fit = ScalingFit(fit_with_uncertainty(_prepared(simulated_frame, get_law("kaplan_params"))))
    found = json.loads(fit.tree.attrs["discrepancy"])
    largest = np.log10(simulated_frame["n_params"].max())
    assert found["drift_errors"] > 0 and found["drift_from"] == pytest.approx(largest)
    draws = fit.discrepancy_draws(np.random.default_rng(0), n_params=np.array([1e12]))
    assert draws.shape[1] == 1 and np.all(np.isfinite(draws))
