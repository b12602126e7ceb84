"""Fits with the discrepancy GP inside the model, from the command line: a smooth misfit the law cannot follow widens
the law's parameter intervals instead of biasing them, the fit converges and says where its GP came from, plan
answers with it, and SBC ranks the GP's hyperparameters too."""

import json

import numpy as np
import pytest

from bayes_scaling.cli import main
from bayes_scaling.result import load

from .conftest import TRUE_PARAMS

pytestmark = pytest.mark.slow  # two NUTS fits with the GP (and their refits) and a small SBC: about two minutes


def _misfit_csv(path, frame) -> str:
    """The simulated runs with a smooth misfit of 1-2% in log N and log D added to their log loss."""
    x, y = np.log10(frame["n_params"]), np.log10(frame["n_tokens"])
    shifted = frame.assign(loss=frame["loss"] * np.exp(0.015 * np.sin(2.5 * x) + 0.01 * np.cos(2.0 * y)))
    shifted.drop(columns=["compute"]).to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def fits(tmp_path_factory, simulated_frame):
    folder = tmp_path_factory.mktemp("gp")
    csv = _misfit_csv(folder / "runs.csv", simulated_frame)
    out = {}
    for mode in ("after", "in-model"):
        out[mode] = folder / mode
        assert main(["-q", "fit", "--law", "chinchilla", "--data", csv, "--out", str(out[mode]), "--seed", "3",
                     "--discrepancy", mode, "--page"]) == 0
    return {mode: load(path) for mode, path in out.items()}


def test_a_gp_inside_the_model_converges_and_widens_the_law_intervals(fits):
    inside, after = fits["in-model"], fits["after"]
    assert inside.converged, inside.diagnostics.verdict()
    assert {"gp_eta", "gp_length_n_params", "gp_length_n_tokens"} <= set(inside.posterior.data_vars)
    assert set(inside.diagnostics.rhat) >= {"gp_eta", "gp_length_n_params"}
    assert inside.tree.attrs["likelihood"] == "normal" and inside.tree.attrs["discrepancy_gp"] == "in_model"
    found = inside.discrepancy
    assert found.fitted == "in_model" and found.kernel == "matern32" and len(found.length_scales) == 2
    assert not found.collapsed and 0.003 < found.eta < 0.06
    assert inside.attr_json("priors")["gp_eta"] == {"dist": "Gamma", "alpha": 2.0, "beta": 100.0}

    def width(fit, name):
        low, high = np.quantile(fit.posterior[name].values, [0.05, 0.95])
        return high - low

    for name in ("alpha", "beta"):  # the misfit is in the model: the exponents are less sure than the law alone's
        assert width(inside, name) > 1.3 * width(after, name)
    a = inside.exponents()["a"].values.ravel()
    truth = TRUE_PARAMS["beta"] / (TRUE_PARAMS["alpha"] + TRUE_PARAMS["beta"])
    assert np.quantile(a, 0.005) < truth < np.quantile(a, 0.995)
    page = (inside.path / "index.html").read_text()
    assert "inside the model, with the law" in page and "length scale in log10 n_params" in page


def test_plan_on_a_fit_with_the_gp_inside_gives_the_whole_answer(fits, capsys):
    capsys.readouterr()
    assert main(["plan", str(fits["in-model"].path), "--compute", "1e22", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["compute"][0]
    whole, law = row["n_params"], row["law_only"]["n_params"]
    assert whole["lower"] < whole["median"] < whole["upper"] and law["lower"] < law["upper"]


def test_sbc_with_the_gp_inside_ranks_its_hyperparameters(tmp_path, simulated_frame):
    csv = _misfit_csv(tmp_path / "runs.csv", simulated_frame)
    out = tmp_path / "sbc.json"
    assert main(["-q", "sbc", "--law", "chinchilla", "--data", csv, "--discrepancy", "in-model", "--simulations",
                 "2", "--draws", "200", "--tune", "200", "--out", str(out), "--scheduler", "serial"]) in (0, 1)
    ranks = json.loads(out.read_text())["ranks"]
    assert set(ranks) == {"E", "A", "B", "alpha", "beta", "sigma", "gp_eta", "gp_length_n_params",
                          "gp_length_n_tokens"}
    assert all(len(values) == 2 for values in ranks.values())
