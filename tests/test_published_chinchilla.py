"""The full-size fit on Epoch AI's 240 runs with the shipped spec: the checks the Chinchilla issue asks for."""

import json
import subprocess
import sys

import numpy as np
import pytest

from bayes_scaling.cli import main
from bayes_scaling.result import load
from bayes_scaling.study import published

from .conftest import REPO

pytestmark = pytest.mark.slow  # full-size fits on Epoch's 240 runs, one in a fresh process


@pytest.fixture(scope="module")
def epoch_fit(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("chinchilla") / "chinchilla"
    code = main(["-q", "fit", str(REPO / "models" / "chinchilla.toml"), "--out", str(out)])
    return code, out


def test_fit_converges_with_high_ess_and_no_divergences(epoch_fit):
    code, out = epoch_fit
    assert code == 0
    fit = load(out)
    diag = fit.diagnostics
    assert fit.tree.attrs["n_runs"] == 240
    assert json.loads(fit.tree.attrs["filters"]) == ["drop_highest_loss=5: 5 of 245 runs removed"]
    for name in ("E", "A", "B", "alpha", "beta"):
        assert diag.rhat[name] <= 1.01
        assert diag.ess_bulk[name] >= 1000
    assert diag.divergences == 0


def test_posterior_reproduces_epochs_estimates(epoch_fit):
    fit = load(epoch_fit[1])
    for name, (low, high) in published.EPOCH_CI95.items():
        median = float(fit.posterior[name].median())
        assert low < median < high, (name, median, low, high)
    assert abs(float(fit.posterior["alpha"].median()) - 0.348) < 0.015
    assert abs(float(fit.posterior["beta"].median()) - 0.366) < 0.015


def test_allocation_exponent_matches_epoch_and_rejects_hoffmann(epoch_fit):
    a = load(epoch_fit[1]).exponents()["a"].values.ravel()
    low, high = np.quantile(a, [0.025, 0.975])
    assert low < published.EPOCH_A_EXPONENT[0] < high
    assert np.mean((a > 0.454) & (a < 0.455)) < 0.01


def test_plan_at_gophers_budget(epoch_fit, capsys):
    capsys.readouterr()
    assert main(["plan", str(epoch_fit[1]), "--compute", "5.76e23", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["compute"][0]
    law = row["law_only"]  # the law alone reproduces Epoch's allocation...
    assert 50e9 < law["n_params"]["median"] < 100e9
    assert 12 < law["tokens_per_param"]["median"] < 30
    whole = row["n_params"]  # ...the answer to quote, 1.6 decades beyond the runs, is wider and contains it
    assert whole["lower"] < law["n_params"]["lower"] and law["n_params"]["upper"] < whole["upper"]
    assert row["extrapolation"]["decades_compute"] > 1.5 and row["extrapolation"]["warning"]
    near = row["near_optimal"]  # the sizes within 0.5% of the best loss with probability 0.9
    assert near["tolerance"]["fraction"] == 0.005 and near["probability"] == 0.9
    assert whole["lower"] < near["n_params"]["lower"] < near["n_params"]["upper"] < whole["upper"]


def test_same_seed_gives_the_same_numbers_in_a_new_process(epoch_fit, tmp_path):
    again = tmp_path / "again"
    subprocess.run([sys.executable, "-m", "bayes_scaling.cli", "-q", "fit", str(REPO / "models" / "chinchilla.toml"),
                    "--out", str(again)], check=True, capture_output=True)
    first, second = load(epoch_fit[1]).posterior, load(again).posterior
    for name in ("E", "A", "B", "alpha", "beta", "sigma", "nu"):
        np.testing.assert_array_equal(first[name].values, second[name].values)
