"""`suggest`: the linearised design calculation (its updates against direct algebra, budgets and run limits kept),
and the command."""

import json

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.analysis.design import (
    _add,
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
    """Sherman-Morrison per run equals inverting Sigma^-1 + sum_i I J_i J_i^T directly, draw by draw."""
    state = design_state(fit, 1e23, draws=20)
    runs = standard_design(fit, 1e22)
    scaled = jacobians(state, runs)
    direct = np.linalg.inv(np.linalg.inv(state.cov)[None] + np.einsum("kmp,kmq->kpq", scaled, scaled))
    np.testing.assert_allclose(covariances_after(state, runs), direct, rtol=1e-6, atol=1e-12)
    one = _add(_start(state), scaled[:, 0, :])
    assert np.all(variances(state, one) <= variances(state, _start(state)) * (1 + 1e-12))  # a run never adds doubt


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
