"""`suggest`: the linearised design calculation (its updates against direct algebra, budgets and run limits kept),
and the command."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.analysis.design import (
    _add,
    _misfit_coordinates,
    _start,
    candidate_runs,
    covariances_after,
    design_state,
    jacobians,
    narrowing,
    standard_design,
    suggest_runs,
    variances,
)
from bayes_scaling.cli import main
from bayes_scaling.result import FitResult

from .conftest import synthetic_tree


@pytest.fixture(scope="module")
def fit() -> FitResult:
    return FitResult(synthetic_tree(draws=300))


def test_one_run_update_is_the_inverse_of_the_summed_precision(fit):
    """Sherman-Morrison per run equals inverting Sigma^-1 + sum_i I J_i J_i^T directly, draw by draw (the law
    taken as right)."""
    state = design_state(fit, 1e23, draws=20, misfit=False)
    runs = standard_design(fit, 1e22)
    scaled = jacobians(state, runs)
    direct = np.linalg.inv(np.linalg.inv(state.cov)[None] + np.einsum("kmp,kmq->kpq", scaled, scaled))
    np.testing.assert_allclose(covariances_after(state, runs), direct, rtol=1e-6, atol=1e-12)
    one = _add(_start(state), scaled[:, 0, :])
    assert np.all(variances(state, one) <= variances(state, _start(state)) * (1 + 1e-12))  # a run never adds doubt


def test_with_the_misfit_the_update_is_the_generalised_least_squares_precision(fit):
    """With the runs' latent misfit (GP, budget offsets, drift) the law's block after the runs equals
    (Sigma^-1 + J^T R^-1 J)^-1 with R = A P A^T + diag(1/I), the misfit's covariance seen through the runs, draw
    by draw; and no run is worth more than with the law taken as right."""
    state = design_state(fit, 1e23, draws=20)
    assert state.misfit is not None
    runs = standard_design(fit, 1e22)
    p = len(state.names)
    got = covariances_after(state, runs)[:, :p, :p]
    prior, coefficients = _misfit_coordinates(state.misfit, runs, len(state.phi))
    unscaled = jacobians(state, runs) / np.sqrt(state.info)[:, None, None]
    noise = coefficients[None] @ prior @ coefficients.T[None] + np.eye(len(runs))[None] / state.info[:, None, None]
    precision = np.linalg.inv(state.cov)[None] + unscaled.transpose(0, 2, 1) @ np.linalg.solve(noise, unscaled)
    np.testing.assert_allclose(got, np.linalg.inv(precision), rtol=1e-6, atol=1e-12)
    law_only = design_state(fit, 1e23, draws=20, misfit=False)
    assert np.all(variances(state, covariances_after(state, runs))
                  >= variances(law_only, covariances_after(law_only, runs)) * (1 - 1e-9))


def test_a_collapsed_discrepancy_leaves_the_law_only_calculation(fit):
    """A GP of no amplitude, no budget offsets and no drift: the same covariance of phi as the law alone."""
    state = design_state(fit, 1e23, draws=10)
    flat = dataclasses.replace(state.misfit, discrepancy=dataclasses.replace(state.misfit.discrepancy, eta=1e-12,
                                                                             drift=0.0, drift_model=None),
                               budget_var=None, slope_var=0.0, offset_var=0.0)
    runs = standard_design(fit, 1e22)
    np.testing.assert_allclose(covariances_after(dataclasses.replace(state, misfit=flat), runs)[:, :5, :5],
                               covariances_after(dataclasses.replace(state, misfit=None), runs), rtol=1e-6)


def test_jacobian_matches_the_closed_form_of_chinchillas_log_loss(fit):
    """d log L / d log alpha = -alpha log(N) A N^-alpha / L (the law's own derivative), scaled by sqrt(I)."""
    state = design_state(fit, 1e23, draws=5)
    runs = pd.DataFrame({"n_params": [1e9], "n_tokens": [2e10]})
    got = jacobians(state, runs)[:, 0, state.names.index("alpha")] / np.sqrt(state.info)
    p = {k: v[:, 0] for k, v in state.params(state.phi).items()}
    loss = p["E"] + p["A"] * 1e9 ** -p["alpha"] + p["B"] * 2e10 ** -p["beta"]
    np.testing.assert_allclose(got, -p["alpha"] * np.log(1e9) * p["A"] * 1e9 ** -p["alpha"] / loss, rtol=1e-6)


def test_suggested_runs_keep_the_budget_and_narrow_at_least_as_much_as_the_standard_design(fit):
    top = float(fit.runs["compute"].max())
    result = suggest_runs(fit, 100 * top, top, most=12)
    runs = pd.DataFrame(result["suggested"]["runs"])
    assert 0 < len(runs) <= 12 and result["suggested"]["cost"] <= top * (1 + 1e-9)
    assert np.allclose(runs["compute"], 6 * runs["n_params"] * runs["n_tokens"])
    assert result["standard"]["cost"] == pytest.approx(top) and len(result["standard"]["runs"]) == 15
    ratio, standard = result["suggested"]["width_ratio"], result["standard"]["width_ratio"]
    assert 0 < ratio["lower"] <= ratio["median"] <= ratio["upper"] < 1
    assert ratio["median"] <= standard["median"]  # the greedy design beats the one it is compared with
    state = design_state(fit, 100 * top)
    assert narrowing(state, runs)["median"] == pytest.approx(ratio["median"])


def test_candidates_stay_inside_the_window_around_n_opt(fit):
    grid = candidate_runs(fit, 1e22, window=0.5, sizes=5)
    optimum = fit.optimal_allocation(grid["compute"].unique())["n_params"].median(("chain", "draw")).values
    per_budget = np.log10(grid["n_params"].to_numpy().reshape(-1, 5) / optimum[:, None])
    np.testing.assert_allclose(per_budget, np.tile(np.linspace(-0.5, 0.5, 5), (len(optimum), 1)), atol=1e-9)
    assert grid["compute"].max() == pytest.approx(1e22) and grid["compute"].min() >= fit.runs["compute"].min() * 0.99


def test_suggest_command_prints_json_and_refuses_a_budget_below_every_run(fit, tmp_path, capsys):
    path = tmp_path / "fit"
    fit.save(path)
    assert main(["-q", "suggest", str(path), "--target-compute", "1e23", "--experiment-budget", "3e21",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["schema_version"] == 1 and result["quantity"] == "n_opt" and result["suggested"]["runs"]
    assert result["misfit"].startswith("the fit's discrepancy GP given its runs")
    assert main(["-q", "suggest", str(path), "--target-compute", "1e23", "--experiment-budget", "3e21",
                 "--law-only", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["misfit"].startswith("none: the law is taken as right")
    assert main(["-q", "suggest", str(path), "--target-compute", "1e23", "--experiment-budget", "1e10"]) == 2
    assert "below the smallest run" in capsys.readouterr().err
    for flags, message in ((["--window", "0"], "the window must be a positive"),
                           (["--max-runs", "0"], "at least 1"), (["--target-compute", "nan"], "positive FLOP")):
        args = ["-q", "suggest", str(path), "--target-compute", "1e23", "--experiment-budget", "3e21", *flags]
        assert main(args) == 2 and message in capsys.readouterr().err


def test_the_python_api_suggests_the_same_runs_as_the_command(fit):
    from bayes_scaling.api import from_tree

    api_fit = from_tree(fit.tree)
    frame = api_fit.suggest(1e23, 3e21)
    assert list(frame.columns) == ["n_params", "n_tokens", "compute", "tokens_per_param"]
    assert frame.to_dict("records") == suggest_runs(fit, 1e23, 3e21)["suggested"]["runs"]
    assert frame.attrs["suggest"]["standard"]["design"]["sizes"] == 5
