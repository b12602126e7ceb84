"""Full-size fits on Porian et al.'s runs with the shipped specs: the checks the Kaplan issue asks for."""

import json

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.cli import main
from bayes_scaling.data.filters import apply_filters
from bayes_scaling.data.runs import RunTable, validate_table
from bayes_scaling.laws import get_law
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.result import FitResult, load
from bayes_scaling.sampling.model import all_priors
from bayes_scaling.sampling.run import PreparedFit
from bayes_scaling.spec import AnalysisSpec, DataSpec, SamplerSpec
from bayes_scaling.uncertainty import fit_with_uncertainty
from bayes_scaling.validation.simulate import simulate_runs

from .conftest import REPO, TRUE_NOISE, TRUE_PARAMS

pytestmark = pytest.mark.slow  # a whole report of four full-size fits with calibration (about 5 minutes)

SPECS = ("porian-rw-kaplan-isoflop", "porian-rw-tuned-isoflop", "porian-rw-kaplan-frontier", "porian-rw-kaplan-joint")


@pytest.fixture(scope="module")
def porian_fits(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("porian")
    code = main(["-q", "report", *(str(REPO / "models" / f"{name}.toml") for name in SPECS), "--out", str(out)])
    return code, out


def test_porian_fits_converge(porian_fits):
    code, out = porian_fits
    assert code == 0
    for name in SPECS:
        diag = load(out / name).diagnostics
        assert max(diag.rhat.values()) <= 1.01
        assert min(diag.ess_bulk.values()) >= 400
        assert diag.divergences == 0


def test_allocation_exponents_match_porian(porian_fits):
    _, out = porian_fits
    kaplan = load(out / "porian-rw-kaplan-isoflop").exponents()["a"].values.ravel()
    tuned = load(out / "porian-rw-tuned-isoflop").exponents()["a"].values.ravel()
    assert abs(np.median(kaplan) - 0.834) < 0.1
    assert abs(np.median(tuned) - 0.497) < 0.05
    assert np.quantile(kaplan, 0.05) < np.median(kaplan) < np.quantile(kaplan, 0.95)
    rng = np.random.default_rng(0)
    assert np.mean(kaplan > rng.permutation(tuned)) > 0.95


def test_crossover_json_has_finite_quantiles(porian_fits, capsys):
    _, out = porian_fits
    capsys.readouterr()
    assert main(["crossover", str(out / "porian-rw-kaplan-frontier"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("compute", "compute_pf_days", "n_params", "n_tokens", "loss"):
        assert all(np.isfinite(v) for v in result["posterior"][key].values())
    assert result["published_values"]["compute_pf_days"] == pytest.approx(1.1e4, rel=0.2)
    assert result["published_values"]["loss"] == pytest.approx(1.67, abs=0.05)
    assert result["data_limited_fit"].endswith("porian-rw-kaplan-joint")
    # from the floored IsoFLOP fit, the crossover uses Kaplan's floorless frontier fitted to the same runs
    assert main(["crossover", str(out / "porian-rw-kaplan-isoflop"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["frontier_fit"].endswith("porian-rw-kaplan-frontier")


def test_plan_works_on_an_isoflop_fit(porian_fits, capsys):
    _, out = porian_fits
    capsys.readouterr()
    assert main(["plan", str(out / "porian-rw-tuned-isoflop"), "--compute", "1e21", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["compute"][0]
    assert 0 < row["n_params"]["lower"] < row["n_params"]["median"] < row["n_params"]["upper"]
    assert (out / "porian-rw-tuned-isoflop" / "index.html").is_file()


def test_kaplan_pages_compare_with_kaplans_tables(porian_fits):
    _, out = porian_fits
    isoflop = (out / "porian-rw-kaplan-isoflop" / "index.html").read_text()
    assert "Kaplan et al. 2020 (Table 6)" in isoflop and "N_e = N_opt(1 PF-day)" in isoflop
    assert "Porian et al. 2024, their fit of these runs" in isoflop
    frontier = (out / "porian-rw-kaplan-frontier" / "index.html").read_text()
    assert "Kaplan et al. 2020 (Tables 5 and 6)" in frontier and "C_c in PF-days" in frontier
    assert 'id="crossover"' in frontier and "formula on Kaplan&#39;s values" in frontier
    assert 'href="../porian-rw-kaplan-joint/index.html"' in frontier
    joint = (out / "porian-rw-kaplan-joint" / "index.html").read_text()
    assert "Kaplan et al. 2020 (eq. 1.5, Table 2)" in joint


def test_isoflop_model_recovers_a_from_asymmetric_profiles():
    """Runs from Chinchilla's law (asymmetric profiles with a floor, a = 0.514) on a Porian-like design (fixed model
    sizes, so small budgets reach far to the large-model side and large budgets to the small-model side): the
    IsoFLOP model within the 10% loss window, with the likelihood the specs use, recovers a (the floorless profile
    gave 0.57 here)."""
    law = get_law("chinchilla")
    sizes = np.geomspace(5e6, 2e9, 18)
    rows = [{"n_params": n, "n_tokens": c / (6 * n), "budget": c}
            for c in 1.25e16 * 2.0 ** np.arange(12) for n in sizes if 1 <= c / (6 * n * n) <= 400]
    design = pd.DataFrame(rows)
    simulated = simulate_runs(law, TRUE_PARAMS, design, get_likelihood("student_t"), TRUE_NOISE | {"sigma": 0.005},
                              seed=11)
    columns = {"n_params": "n_params", "n_tokens": "n_tokens", "loss": "loss"}
    frame = validate_table(simulated, "simulated", columns)
    frame["budget"] = design["budget"].to_numpy()
    runs = apply_filters(RunTable(frame=frame, source={"file": "simulated"}), {"isoflop_loss_window": 0.1})
    iso = get_law("isoflop")
    spec = AnalysisSpec(name="sim", law="isoflop", data=DataSpec(csv="simulated"),
                        sampler=SamplerSpec(draws=500, tune=700, seed=5))
    likelihood = get_likelihood("normal")
    tree = fit_with_uncertainty(PreparedFit(spec, iso, likelihood, all_priors(iso, likelihood), runs))
    a = FitResult(tree).exponents()["a"].values.ravel()
    truth = TRUE_PARAMS["beta"] / (TRUE_PARAMS["alpha"] + TRUE_PARAMS["beta"])
    assert np.quantile(a, 0.05) < truth < np.quantile(a, 0.95)
    assert abs(np.median(a) - truth) < 0.03


def test_isoflop_page_tables_its_sensitivity_checks(porian_fits):
    _, out = porian_fits
    folder = out / "porian-rw-kaplan-isoflop"
    page = (folder / "index.html").read_text()
    assert 'id="sensitivity"' in page and "shift of median" in page
    for slug in ("20-loss-window", "all-runs-no-window", "student-t-likelihood"):
        assert f'href="sensitivity/{slug}/index.html"' in page
        assert (folder / "sensitivity" / slug / "index.html").is_file()
    robust = load(folder / "sensitivity" / "student-t-likelihood")
    assert robust.tree.attrs["likelihood"] == "student_t"


def test_second_report_with_nothing_changed_reuses_every_fit_and_page(porian_fits, capsys):
    _, out = porian_fits
    page = out / "porian-rw-kaplan-isoflop" / "index.html"
    before = page.stat().st_mtime_ns
    capsys.readouterr()
    assert main(["-q", "report", *(str(REPO / "models" / f"{name}.toml") for name in SPECS), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "(0 fits sampled, 10 reused; 0 pages rendered, 10 unchanged)" in err  # 4 specs, 6 checks
    assert page.stat().st_mtime_ns == before
