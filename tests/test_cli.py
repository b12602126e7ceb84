"""Command line: bad input refused before any work with nothing written; an ad-hoc fit of a user's CSV recovers the
parameters that simulated it; plan prints intervals as text and JSON."""

import json
import os
import re

import numpy as np
import pytest

from bayes_scaling.cli import EXIT_BAD_INPUT, main
from bayes_scaling.result import load

from .conftest import TRUE_PARAMS


def write_csv(path, frame):
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda f: f.assign(loss=f["loss"].where(f.index != 3)),
         "column 'loss', row 4 (line 5 of the file): value is missing (NaN)"),
        (lambda f: f.assign(n_params=f["n_params"].where(f.index != 0, -5.0)),
         "column 'n_params', row 1 (line 2 of the file): n_params must be positive"),
        (lambda f: f.drop(columns=["loss"]), "needs a loss column"),
    ],
)
def test_bad_csv_is_refused_and_no_output_folder_is_created(tmp_path, capsys, simulated_frame, mutate, fragment):
    csv = write_csv(tmp_path / "runs.csv", mutate(simulated_frame.drop(columns=["compute"])))
    out = tmp_path / "out"
    code = main(["fit", "--law", "chinchilla", "--data", csv, "--out", str(out)])
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "runs.csv" in err and fragment in err and "Fix:" in err
    assert not out.exists()


def test_fit_needs_a_spec_or_law_and_data(tmp_path, capsys):
    assert main(["fit", "--out", str(tmp_path / "o")]) == EXIT_BAD_INPUT
    assert "give a spec file" in capsys.readouterr().err
    assert main(["fit", "--law", "nope", "--data", "x.csv", "--out", str(tmp_path / "o")]) == EXIT_BAD_INPUT
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def adhoc_fit(tmp_path_factory, simulated_frame):
    """One NUTS fit of simulated Chinchilla-law runs through the CLI (small, seeded)."""
    folder = tmp_path_factory.mktemp("adhoc")
    frame = simulated_frame.rename(columns={"n_params": "params", "loss": "final_loss"}).drop(columns=["compute"])
    csv = write_csv(folder / "my_runs.csv", frame)
    out = folder / "fit"
    code = main(["fit", "--law", "chinchilla", "--data", csv, "--out", str(out), "--n-params-col", "params",
                 "--loss-col", "final_loss", "--seed", "5", "--page"])
    return code, out


def test_adhoc_fit_recovers_simulated_parameters(adhoc_fit):
    code, out = adhoc_fit
    assert code == 0
    fit = load(out)
    assert fit.converged, fit.diagnostics.verdict()
    for name, true in TRUE_PARAMS.items():
        lo, hi = np.quantile(fit.posterior[name].values, [0.005, 0.995])
        assert lo < true < hi, (name, lo, true, hi)
    assert abs(float(fit.posterior["alpha"].median()) - TRUE_PARAMS["alpha"]) < 0.03
    assert abs(float(fit.posterior["beta"].median()) - TRUE_PARAMS["beta"]) < 0.03
    tree = fit.tree
    assert set(tree.children) >= {"posterior", "sample_stats", "observed_data", "log_likelihood",
                                  "posterior_predictive", "constant_data"}
    assert tree["log_likelihood"]["log_loss"].dims == ("chain", "draw", "run")
    # ArviZ-friendly: only natural-scale parameters in the posterior, the sampler's own coordinates apart, prior
    # groups, units on the data, per-run draws in single precision, every variable compressed
    # the law's default: its discrepancy GP sampled with it (amplitude and one length scale per input), normal noise
    gp = {"gp_eta", "gp_length_n_params", "gp_length_n_tokens"}
    assert set(tree["posterior"].data_vars) == {*TRUE_PARAMS, "sigma", *gp, "a", "b"}  # a, b derived
    assert tree["posterior"]["a"].attrs["description"].startswith("derived, not sampled: a = beta / (alpha + beta)")
    assert {"A_centred", "B_centred"} <= set(tree["unconstrained_posterior"].data_vars)
    assert set(tree["prior"].data_vars) >= {*TRUE_PARAMS, "sigma", *gp} and "prior_predictive" in tree.children
    assert tree["constant_data"]["n_params"].attrs["units"] == "parameters"
    assert tree["posterior_predictive"]["log_loss"].dtype == np.float32
    import h5py

    with h5py.File(out / "posterior.nc") as handle:
        assert handle["posterior/alpha"].compression == "gzip"
    assert json.loads(tree.attrs["data_source"])["file"].endswith("my_runs.csv")
    assert (out / "index.html").is_file()
    assert not list(out.glob(".*tmp"))
    umask = os.umask(0)
    os.umask(umask)
    for written in ("posterior.nc", "index.html"):  # ordinary files, not the temporary file's private 0600
        assert (out / written).stat().st_mode & 0o777 == 0o666 & ~umask


def test_plan_json_and_text(adhoc_fit, capsys):
    _, out = adhoc_fit
    capsys.readouterr()
    assert main(["plan", str(out), "--compute", "1e21", "--params", "1e9", "--target-loss", "2.3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    row = result["compute"][0]
    assert row["compute"] == 1e21
    assert row["n_params"]["lower"] < row["n_params"]["median"] < row["n_params"]["upper"]
    assert 0 < result["target_loss"][0]["probability_reachable"] <= 1
    assert main(["plan", str(out), "--compute", "1e21", "--level", "0.5"]) == 0
    text = capsys.readouterr().out
    assert "budget C = 1e+21 FLOP" in text and "N_opt" in text and "50% credible interval" in text
    assert main(["plan", str(out)]) == EXIT_BAD_INPUT


def test_calibrate_scores_bayes_and_bootstrap_on_the_same_held_out_runs(tmp_path, capsys, simulated_frame):
    csv = write_csv(tmp_path / "runs.csv", simulated_frame.drop(columns=["compute"]))
    out = tmp_path / "backtest.json"
    args = ["-q", "calibrate", "--law", "chinchilla", "--data", csv, "--hold-out", "0.2", "--replicates", "8",
            "--draws", "300", "--tune", "300", "--out", str(out), "--scheduler", "serial", "--bootstrap-starts", "12",
            "--discrepancy", "after"]  # the backtest's mechanics; the GP inside the model is scored in docs/
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "extrapolation backtest" in text and "bootstrap" in text
    result = json.loads(out.read_text())
    bayes, gp_only, with_discrepancy, boot = result["rows"]
    assert [row["method"] for row in result["rows"]] == ["bayes", "bayes+gp", "bayes+discrepancy", "bootstrap"]
    assert with_discrepancy["n_runs"] == bayes["n_runs"] and with_discrepancy["width"]["0.9"] > 0
    assert gp_only["slope"] == with_discrepancy["slope"] < 0.05  # the cross-suite prior's slope, updated
    # beyond the data the extrapolation slope (learned across suites, with its spread) widens the intervals
    assert with_discrepancy["width"]["0.9"] > gp_only["width"]["0.9"]
    assert bayes["n_runs"] == boot["n_runs"] == 10  # 20% of 60 runs: the whole top budget (10 runs), not 12
    assert bayes["n_train"] == boot["n_train"] == 50
    assert set(bayes["coverage"]) == {"0.5", "0.8", "0.9", "0.95"} and 0 <= boot["coverage"]["0.9"] <= 1
    assert bayes["coverage"]["0.9"] >= 0.5  # the simulating law, extrapolated one budget: mostly covered
    assert main(["calibrate", "--law", "chinchilla", "--data", csv, "--hold-out", "1.5"]) == EXIT_BAD_INPUT


def test_sbc_ranks_every_parameter_of_each_simulation(tmp_path, capsys, simulated_frame):
    csv = write_csv(tmp_path / "runs.csv", simulated_frame.drop(columns=["compute"]))
    out = tmp_path / "sbc.json"
    args = ["-q", "sbc", "--law", "chinchilla", "--data", csv, "--simulations", "3", "--draws", "200", "--tune",
            "200", "--out", str(out), "--scheduler", "serial", "--discrepancy", "after"]  # in-model SBC: elsewhere
    assert main(args) in (0, 1)  # three simulations cannot establish uniformity; the ranks are what is checked
    assert "simulation-based calibration" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert set(result["ranks"]) == {"E", "A", "B", "alpha", "beta", "sigma", "nu"}
    assert all(len(r) == 3 - result["skipped"] and all(0 <= k <= result["rank_draws"] for k in r)
               for r in result["ranks"].values())
    assert set(result["p_values"]) == set(result["ranks"]) == set(result["ecdf_inside"])
    failed = result["failed"]  # why fits failed: each check counted, together at least the unconverged ones
    assert set(failed) == {"rhat", "divergences", "ess"} and all(0 <= n <= 3 for n in failed.values())
    assert (result["unconverged"] == 0) == (sum(failed.values()) == 0) and sum(failed.values()) >= result["unconverged"]


def test_calibrate_and_sbc_refuse_bad_settings_before_any_fit(tmp_path, capsys, simulated_frame, monkeypatch):
    import bayes_scaling.util.parallel

    csv = write_csv(tmp_path / "runs.csv", simulated_frame.drop(columns=["compute"]))
    out = tmp_path / "result.json"
    with pytest.raises(SystemExit):  # argparse refuses, exit status 2
        main(["calibrate", "--law", "chinchilla", "--data", csv, "--workers", "0"])
    assert "--workers: '0' must be at least 1" in capsys.readouterr().err
    args = ["calibrate", "--law", "chinchilla", "--data", csv, "--hold-out", "0.001", "--out", str(out)]
    assert main(args) == EXIT_BAD_INPUT
    assert "holds out no run of 60" in capsys.readouterr().err
    args = ["calibrate", "--law", "chinchilla", "--data", csv, "--hold-out", "0.95", "--out", str(out)]
    assert main(args) == EXIT_BAD_INPUT
    assert "hold-out fraction 0.95 leaves 1 budget to fit (of 6)" in capsys.readouterr().err
    monkeypatch.setattr(bayes_scaling.util.parallel, "CONNECT_SECONDS", 1)
    args = ["sbc", "--law", "chinchilla", "--data", csv, "--simulations", "2", "--scheduler", "tcp://127.0.0.1:1",
            "--out", str(out)]
    assert main(args) == EXIT_BAD_INPUT
    assert "cannot reach a Dask scheduler at 'tcp://127.0.0.1:1'" in capsys.readouterr().err
    assert not out.exists()


def test_report_refuses_a_calibration_split_before_any_fit(tmp_path, capsys, simulated_frame):
    write_csv(tmp_path / "runs.csv", simulated_frame.drop(columns=["compute"]))
    spec = tmp_path / "sim.toml"
    spec.write_text('[analysis]\nname = "sim"\nlaw = "chinchilla"\n[data]\ncsv = "runs.csv"\n'
                    '[data.columns]\nn_params = "n_params"\nn_tokens = "n_tokens"\nloss = "loss"\n'
                    "[calibration]\nhold_out = [0.2, 0.001]\nsimulations = 0\n")
    out = tmp_path / "reports"
    assert main(["report", str(spec), "--out", str(out)]) == EXIT_BAD_INPUT
    assert "sim: hold-out fraction 0.001 holds out no run of 60" in capsys.readouterr().err
    assert not out.exists()  # refused before the first fit: nothing written


def test_score_new_runs_beyond_the_fit(tmp_path, capsys, adhoc_fit):
    """Runs simulated from the same law at 1e22 FLOP, half a decade beyond the fitted budgets: scored against the
    whole predictive, mostly covered, and said to lie 0.5 decades beyond the data."""
    from bayes_scaling.laws import get_law
    from bayes_scaling.likelihoods import get_likelihood
    from bayes_scaling.validation.simulate import isoflop_design, simulate_runs

    from .conftest import TRUE_NOISE

    code, fit = adhoc_fit
    assert code == 0
    new = simulate_runs(get_law("chinchilla"), TRUE_PARAMS, isoflop_design([1e22], sizes_per_budget=10),
                        get_likelihood("student_t"), TRUE_NOISE, seed=99)
    csv = write_csv(tmp_path / "new.csv", new.rename(columns={"n_params": "model"}).drop(columns=["compute"]))
    out = tmp_path / "score.json"
    assert main(["-q", "score", str(fit), "--data", csv, "--n-params-col", "model", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "10 new runs in 1 budgets" in text and "verdict:" in text
    result = json.loads(out.read_text())
    assert result["schema_version"] == 2 and result["includes"].startswith("law, discrepancy")
    assert set(result["runs"][0]["intervals"]["0.9"]) == {"median", "lower", "upper", "level", "covered"}
    summary = result["summary"]
    assert summary["n_runs"] == 10 and summary["n_budgets"] == 1
    assert summary["decades_beyond"] == pytest.approx(np.log10(1e22 / 3e21), abs=0.01)
    assert summary["coverage"]["0.9"] >= 0.7 and result["verdict"].startswith(("consistent", "cautious"))
    inside = sum(r["intervals"]["0.9"]["covered"] for r in result["runs"]) / len(result["runs"])
    assert inside == pytest.approx(summary["coverage"]["0.9"])  # per-run flags and the summary: the same draws
    run = result["runs"][0]
    assert run["intervals"]["0.5"]["lower"] > run["intervals"]["0.9"]["lower"] > 0
    assert main(["score", str(fit), "--data", csv]) == EXIT_BAD_INPUT  # 'model' is not a name for N: refused
    assert "'model'" in capsys.readouterr().err


def test_score_verdicts():
    from bayes_scaling.validation.scoring import verdict

    assert verdict(0.9, 50).startswith("consistent")
    assert verdict(0.5, 50).startswith("over-confident")
    assert verdict(0.9, 50, converged=False).startswith("not scored")


def test_isoflop_fit_from_the_command_line_takes_the_laws_defaults_and_plan_allows_for_its_discrepancy(
        tmp_path, capsys, simulated_frame):
    """``fit --law isoflop`` uses the law's Normal likelihood and 10% loss window (a spec file states its own), and
    ``plan`` on it gives the allocation allowing for the discrepancy and says whether the GP collapsed."""
    from bayes_scaling.result import load

    csv = tmp_path / "runs.csv"
    simulated_frame.to_csv(csv, index=False)
    out = tmp_path / "iso"
    assert main(["-q", "fit", "--law", "isoflop", "--data", str(csv), "--out", str(out), "--draws", "300",
                 "--tune", "300"]) == 0
    fit = load(out / "posterior.nc")
    assert fit.tree.attrs["likelihood"] == "normal"
    assert any(note.startswith("isoflop_loss_window=0.1") for note in fit.attr_json("filters"))
    capsys.readouterr()
    assert main(["plan", str(out / "posterior.nc"), "--compute", "1e23", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    found = result["compute"][0]
    assert result["schema_version"] == 2 and found["includes"].startswith("law, its discrepancy")
    assert found["n_params"]["lower"] < found["n_params"]["median"] < found["n_params"]["upper"]
    assert found["n_params"]["level"] == 0.9
    law = found["law_only"]["n_params"]
    assert found["n_params"]["upper"] - found["n_params"]["lower"] > law["upper"] - law["lower"]
    assert found["extrapolation"]["decades_compute"] == pytest.approx(np.log10(1e23 / 3e21), abs=0.01)
    assert "WARNING" not in capsys.readouterr().out
    assert main(["plan", str(out / "posterior.nc"), "--compute", "3e25"]) == 0
    assert "WARNING: 4.0 decades of compute beyond the largest run" in capsys.readouterr().out
    assert set(result["discrepancy"]) == {"description", "collapsed"}
    assert "extrapolation slope" in result["discrepancy"]["description"]


def test_version_and_stages_with_elapsed_time_when_stderr_is_not_a_terminal(tmp_path, simulated_frame):
    import subprocess
    import sys

    from bayes_scaling.util.version import __version__

    done = subprocess.run([sys.executable, "-m", "bayes_scaling.cli", "--version"], capture_output=True, text=True)
    assert done.stdout.strip() == f"bayes-scaling {__version__}"
    csv = write_csv(tmp_path / "runs.csv", simulated_frame)
    done = subprocess.run([sys.executable, "-m", "bayes_scaling.cli", "fit", "--law", "chinchilla", "--data", csv,
                           "--out", str(tmp_path / "fit"), "--draws", "500", "--tune", "500", "--discrepancy",
                           "after"],  # the stages' logging; the faster fit
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    for stage in ("fitting", "compiled", "sampled", "discrepancy:", "drift: refitting", "drift: extrapolation"):
        assert re.search(rf"^\[ *\d+\.\d s\] {stage}", done.stderr, re.MULTILINE), stage
    assert "Port 8787" not in done.stderr and "compiled chinchilla model (centred geometry) in 0.0 s" not in done.stderr


def test_plan_on_a_law_without_an_allocation_is_refused_with_the_fix(tmp_path, capsys):
    """Kaplan's L(N, S) answers losses at (N, S) only: plan's questions are bad input (exit 2), not an internal
    error, and the message says what to do instead."""
    from bayes_scaling.result import FitResult

    from .conftest import synthetic_tree

    tree = synthetic_tree()
    tree.attrs["law"] = "kaplan_steps"
    path = FitResult(tree).save(tmp_path / "steps")
    for question in (["--compute", "1e21"], ["--params", "1e9"], ["--target-loss", "3.0"]):
        assert main(["-q", "plan", str(path), *question]) == EXIT_BAD_INPUT
        assert "has no compute-optimal allocation" in capsys.readouterr().err


def test_the_command_exits_with_mains_code_and_every_line_it_printed(tmp_path):
    """``bayes-scaling`` ends its process without the interpreter's teardown (``cli.run``): its exit code is main's
    and nothing it printed to a pipe is lost."""
    import subprocess
    import sys

    missing = tmp_path / "no-such-fit"
    done = subprocess.run([sys.executable, "-m", "bayes_scaling.cli", "plan", str(missing), "--compute", "1e21"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "error:" in done.stderr and str(missing.name) in done.stderr
    from bayes_scaling.data.registry import load_registry

    done = subprocess.run([sys.executable, "-m", "bayes_scaling.cli", "data", "list"], capture_output=True,
                          text=True, timeout=120)
    last = sorted(load_registry())[-1]
    assert done.returncode == 0 and all(f"{name}:" in done.stdout for name in load_registry())
    assert f"{last}:" in done.stdout and done.stdout.rstrip().splitlines()[-1].lstrip().startswith("sha256")


def test_a_profiled_command_exits_the_normal_way_so_the_profile_is_written(tmp_path):
    """cProfile (and coverage) write their results at exit: under them the command does not skip the teardown."""
    import subprocess
    import sys

    profile = tmp_path / "cli.prof"
    done = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "bayes_scaling.cli", "data",
                           "list"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and profile.is_file() and profile.stat().st_size > 0
