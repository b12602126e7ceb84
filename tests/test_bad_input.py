"""Malformed input, table by table: every case exits with status 2 and a message naming the problem, before anything
is sampled (sampling is replaced by a trap that would turn into exit 3) and without writing the output folder."""

import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest

from bayes_scaling.cli import EXIT_BAD_INPUT, main
from bayes_scaling.uncertainty import measure

from .conftest import REPO


@pytest.fixture(autouse=True)
def no_sampling(monkeypatch):
    """Any case that reaches the sampler fails loudly (exit 3), so a pass means it was refused before."""
    def trap(*_, **__):
        raise AssertionError("sampling started")

    monkeypatch.setattr(measure, "sample_prepared", trap)


@pytest.fixture()
def runs_csv(tmp_path, simulated_frame):
    """A valid CSV of simulated runs (n_params, n_tokens, loss): each case breaks one thing."""
    frame = simulated_frame.drop(columns=["compute"])
    path = tmp_path / "runs.csv"
    frame.to_csv(path, index=False)
    return path, frame


def _refused(capsys, argv, *fragments, out=None):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT, err
    for fragment in fragments:
        assert fragment in err, err
    if out is not None:
        assert not Path(out).exists()
    return err


def _with_row(frame, column, row, value):
    frame = frame.copy()
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return frame


CSV_CASES = {
    "missing loss column": (lambda f: f.drop(columns=["loss"]), ["needs a loss column", "name loss", "--loss-col"]),
    "one size only": (lambda f: f.drop(columns=["n_tokens"]), ["two of n_params, n_tokens, compute"]),
    "negative N": (lambda f: _with_row(f, "n_params", 2, -1e8), ["row 3", "n_params must be positive"]),
    "zero D": (lambda f: _with_row(f, "n_tokens", 0, 0), ["row 1", "n_tokens must be positive"]),
    "NaN loss": (lambda f: _with_row(f, "loss", 4, np.nan), ["row 5", "missing (NaN)"]),
    "text in N": (lambda f: _with_row(f, "n_params", 1, "70B"), ["'70B' is not a number"]),
    "infinite D": (lambda f: _with_row(f, "n_tokens", 1, np.inf), ["row 2", "give a finite n_tokens"]),
    "N = 1e300 in one row": (lambda f: _with_row(f, "n_params", 6, 1e300), ["row 7", "plausible range"]),
    "N = 1e-300 everywhere": (lambda f: f.assign(n_params=1e-300), ["n_params 1e-300", "plausible range"]),
    "D = 1e30": (lambda f: _with_row(f, "n_tokens", 3, 1e30), ["row 4", "n_tokens 1e+30"]),
    "loss a perplexity": (lambda f: _with_row(f, "loss", 0, 500.0), ["loss 500 nats", "not a perplexity"]),
    "loss near zero": (lambda f: _with_row(f, "loss", 0, 0.001), ["outside the plausible range"]),
    "compute 10x 6ND": (lambda f: f.assign(compute=60 * f["n_params"] * f["n_tokens"]),
                        ["compute is 10 x 6*N*D"]),
    "compute 0.1x 6ND": (lambda f: f.assign(compute=0.6 * f["n_params"] * f["n_tokens"]),
                         ["compute is 0.1 x 6*N*D"]),
    "all one size": (lambda f: f.assign(n_params=1e8, n_tokens=2e9), ["distinct"]),
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_bad_csv_values_are_refused(tmp_path, capsys, runs_csv, case):
    path, frame = runs_csv
    mutate, fragments = CSV_CASES[case]
    mutate(frame).to_csv(path, index=False)
    out = tmp_path / "out"
    _refused(capsys, ["fit", "--law", "chinchilla", "--data", str(path), "--out", str(out)], "runs.csv", *fragments,
             out=out)


FILE_CASES = {
    "duplicate loss columns": ("n_params,n_tokens,loss,loss\n1e8,2e9,3.1,3.0\n", ["column 'loss' more than once"]),
    "empty file": ("", ["the file is empty"]),
    "header only": ("n_params,n_tokens,loss\n", ["no data rows"]),
    "semicolons": ("n_params;n_tokens;loss\n1e8;2e9;3.1\n", ["separated by ';'", "comma-separated"]),
    "tabs": ("n_params\tn_tokens\tloss\n1e8\t2e9\t3.1\n", ["separated by '\\t'"]),
    "not UTF-8": (b"n_params,n_tokens,loss\n1e8,2e9,\xff\xfe\n", ["not a readable CSV"]),
    "ragged rows": ("n_params,n_tokens,loss\n1e8,2e9,3.1,9,9\n2e8,4e9,3.0\n",
                    ["line 2 has 5 fields where the header has 3"]),
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_malformed_files_are_refused(tmp_path, capsys, case):
    content, fragments = FILE_CASES[case]
    path = tmp_path / "runs.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "out"
    _refused(capsys, ["fit", "--law", "chinchilla", "--data", str(path), "--out", str(out)], *fragments, out=out)


def test_a_folder_or_a_missing_file_as_data(tmp_path, capsys):
    out = tmp_path / "out"
    _refused(capsys, ["fit", "--law", "chinchilla", "--data", str(tmp_path), "--out", str(out)],
             "is a folder, not a file", out=out)
    _refused(capsys, ["fit", "--law", "chinchilla", "--data", str(tmp_path / "nope.csv"), "--out", str(out)],
             "file not found", out=out)


def test_an_unreadable_csv(tmp_path, capsys, runs_csv, monkeypatch):
    """Permission denied (simulated: the tests may run as root, who can read anything)."""
    path, _ = runs_csv
    real_open = Path.open

    def denied(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    out = tmp_path / "out"
    _refused(capsys, ["fit", "--law", "chinchilla", "--data", str(path), "--out", str(out)], "permission denied",
             "chmod", out=out)


@pytest.mark.parametrize("column", ["val_loss_bits", "loss_bits", "Loss (bits)", "bits"])
def test_a_loss_column_named_in_bits_needs_the_bits_unit(tmp_path, capsys, runs_csv, column):
    path, frame = runs_csv
    frame.assign(loss=frame["loss"] / np.log(2)).rename(columns={"loss": column}).to_csv(path, index=False)
    out = tmp_path / "out"
    args = ["fit", "--law", "chinchilla", "--data", str(path), "--out", str(out), "--loss-col", column]
    _refused(capsys, args, f"the loss column {column!r} is named in bits but is read as nats", "--loss-unit bits",
             out=out)


def test_a_loss_column_named_in_bits_is_read_with_the_bits_unit(runs_csv):
    from bayes_scaling.data.load import load_runs
    from bayes_scaling.data.source import DataSpec

    path, frame = runs_csv
    frame.assign(val_loss_bits=frame["loss"] / np.log(2), orbit_loss=frame["loss"]).to_csv(path, index=False)
    runs = load_runs(DataSpec(csv=str(path), columns={"loss": "val_loss_bits"}, units={"loss": "bits"}))
    np.testing.assert_allclose(runs.column("loss"), frame["loss"].to_numpy())  # converted back to nats
    assert len(load_runs(DataSpec(csv=str(path), columns={"loss": "orbit_loss"}))) == len(frame)  # not "bits"


def test_one_column_for_two_roles(tmp_path, capsys, runs_csv):
    path, _ = runs_csv
    out = tmp_path / "out"
    _refused(capsys, ["fit", "--law", "chinchilla", "--data", str(path), "--out", str(out), "--n-params-col",
                      "n_params", "--n-tokens-col", "n_params"], "column 'n_params' is given for n_params and n_tokens",
             out=out)


def _spec(tmp_path, runs_csv, **sections) -> Path:
    """A spec of the simulated CSV; ``sections`` replace or add TOML lines per section (``None`` removes it)."""
    path, _ = runs_csv
    parts = {"analysis": 'name = "mine"\nlaw = "chinchilla"', "data": f'csv = "{path}"',
             "sampler": "draws = 100\ntune = 100"}
    parts.update(sections)
    text = "\n".join(f"[{name}]\n{body}\n" if not name.startswith("[") else f"{name}\n{body}\n"
                     for name, body in parts.items() if body is not None)
    spec = tmp_path / "mine.toml"
    spec.write_text(text)
    return spec


SPEC_CASES = {
    "negative prior scale": ({"priors": 'alpha = { dist = "Normal", mu = 0.3, sigma = -0.1 }'},
                             ["sigma must be positive"]),
    "zero prior scale": ({"priors": 'E = { dist = "LogNormal", mu = 0.5, sigma = 0 }'}, ["sigma must be positive"]),
    "Gamma with a negative mean": ({"priors": 'alpha = { dist = "Gamma", mu = -0.4, sigma = 0.3 }'},
                                   ["mu must be positive"]),
    "Gamma half given": ({"priors": 'alpha = { dist = "Gamma", alpha = 2.0 }'}, ["give either alpha and beta"]),
    "Uniform upside down": ({"priors": 'alpha = { dist = "Uniform", lower = 1.0, upper = 0.1 }'},
                            ["must be below upper"]),
    "unknown distribution": ({"priors": 'alpha = { dist = "Cauchy", mu = 0, sigma = 1 }'},
                             ["unknown prior distribution 'Cauchy'"]),
    "prior value a string": ({"priors": 'alpha = { dist = "Normal", mu = "a", sigma = 1 }'},
                             ["mu must be a finite number"]),
    "prior on no parameter": ({"priors": 'gamma = { dist = "Normal", mu = 0, sigma = 1 }'}, ["gamma"]),
    "absurd draws": ({"sampler": "draws = 10_000_000_000_000"}, ["draws must be a whole number from 1 to 100,000"]),
    "no draws": ({"sampler": "draws = 0"}, ["draws must be a whole number"]),
    "a thousand chains": ({"sampler": "chains = 1000"}, ["chains must be a whole number from 1 to 64"]),
    "negative tuning": ({"sampler": "tune = -1"}, ["tune must be a whole number"]),
    "target_accept above 1": ({"sampler": "target_accept = 1.5"}, ["target_accept must be between 0 and 1"]),
    "negative seed": ({"sampler": "seed = -1"}, ["seed must be a whole number"]),
    "fractional draws": ({"sampler": "draws = 10.5"}, ["draws must be a whole number"]),
    "unknown geometry": ({"sampler": 'geometry = "weird"'}, ["geometry must be one of 'centred', 'naive'"]),
    "too many draws": ({"sampler": "draws = 100_000\nchains = 64"}, ["posterior draws, above the limit"]),
    "name climbs out": ({"analysis": 'name = "../x"\nlaw = "chinchilla"'}, ["must be a plain folder name"]),
    "absolute name": ({"analysis": 'name = "/tmp/x"\nlaw = "chinchilla"'}, ["must be a plain folder name"]),
    "name with a slash": ({"analysis": 'name = "a/b"\nlaw = "chinchilla"'}, ["must be a plain folder name"]),
    "name of dots": ({"analysis": 'name = ".."\nlaw = "chinchilla"'}, ["must be a plain folder name"]),
    "empty name": ({"analysis": 'name = ""\nlaw = "chinchilla"'}, ["must be a plain folder name"]),
    "no law": ({"analysis": 'name = "mine"'}, ["'law' is required"]),
    "unknown law": ({"analysis": 'name = "mine"\nlaw = "hoffmann"'}, ["mine.toml", "unknown law 'hoffmann'"]),
    "unknown likelihood": ({"likelihood": 'family = "cauchy"', "discrepancy": 'gp = "after"'},
                           ["mine.toml", "unknown likelihood"]),
    "a likelihood the in-model GP cannot take": ({"likelihood": 'family = "student_t"'},
                                                 ["mine.toml", "needs the 'normal' likelihood", "--discrepancy after"]),
    "unknown dataset": ({"data": 'dataset = "chinchilla-secret"'}, ["mine.toml", "unknown dataset"]),
    "dataset and csv": ({"data": 'dataset = "epoch-chinchilla"\ncsv = "x.csv"'}, ["exactly one of 'dataset'"]),
    "no data source": ({"data": "drop_highest_loss = 1"}, ["exactly one of 'dataset'"]),
    "no data section": ({"data": None}, ["a [data] section is required"]),
    "negative tolerance": ({"data": None, "[data]": 'csv = "{csv}"\ncompute_tolerance = -1'},
                           ["compute_tolerance must be a number between 0 and 10"]),
    "tolerance as text": ({"data": None, "[data]": 'csv = "{csv}"\ncompute_tolerance = "loose"'},
                          ["compute_tolerance must be a number"]),
    "embeddings as text": ({"data": None, "[data]": 'csv = "{csv}"\nn_counts_embeddings = "yes"'},
                           ["n_counts_embeddings must be true or false"]),
    "columns not a table": ({"data": None, "[data]": 'csv = "{csv}"\ncolumns = "loss"'}, ["'columns' must be a table"]),
    "unknown data key": ({"data": None, "[data]": 'csv = "{csv}"\nweights = 1'}, ["unknown key(s) ['weights']"]),
    "negative filter": ({"data": None, "[data]": 'csv = "{csv}"\ndrop_highest_loss = -1'},
                        ["drop_highest_loss = -1 is not a finite non-negative number"]),
    "hold out everything": ({"data": None, "[data]": 'csv = "{csv}"\nhold_out_top_compute = 1.5'},
                            ["would hold out every run"]),
    "unknown section": ({"plotting": "dpi = 300"}, ["unknown key(s) ['plotting']"]),
    "unknown sampler key": ({"sampler": "thin = 2"}, ["unknown key(s) ['thin']"]),
    "check without a label": ({"[[sensitivity]]": "drop_highest_loss = 1"}, ["'label' is required"]),
    "check of an unknown filter": ({"[[sensitivity]]": 'label = "x"\ndrop = ["weights"]'},
                                   ["drop names unknown filter(s)"]),
}


@pytest.mark.parametrize("case", sorted(SPEC_CASES))
def test_bad_specs_are_refused(tmp_path, capsys, runs_csv, case):
    sections, fragments = SPEC_CASES[case]
    sections = {k: (v.replace("{csv}", str(runs_csv[0])) if isinstance(v, str) else v) for k, v in sections.items()}
    spec = _spec(tmp_path, runs_csv, **sections)
    tomllib.loads(spec.read_text())  # the case is about the values, not TOML syntax
    out = tmp_path / "out"
    _refused(capsys, ["fit", str(spec), "--out", str(out)], *fragments, out=out)


def test_a_spec_that_is_not_toml(tmp_path, capsys):
    spec = tmp_path / "broken.toml"
    spec.write_text("[analysis\nname = 1")
    _refused(capsys, ["fit", str(spec), "--out", str(tmp_path / "out")], "broken.toml", "not valid TOML")


def test_bad_output_folders_are_refused_before_any_work(tmp_path, capsys, runs_csv):
    path, _ = runs_csv
    args = ["fit", "--law", "chinchilla", "--data", str(path), "--out"]
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    _refused(capsys, [*args, str(afile)], "is an existing file, not a folder")
    assert afile.read_text() == "keep me"
    _refused(capsys, [*args, str(afile / "sub")], "is a file, so the folder cannot be created")
    _refused(capsys, [*args, str(tmp_path / ("x" * 300))], "is longer than")


def test_report_refuses_a_name_that_climbs_out_and_writes_nothing(tmp_path, capsys, runs_csv):
    spec = _spec(tmp_path, runs_csv, analysis='name = "../escaped"\nlaw = "chinchilla"')
    out = tmp_path / "reports"
    _refused(capsys, ["report", str(spec), "--out", str(out)], "must be a plain folder name")
    assert not (tmp_path / "escaped").exists() and not out.exists()


@pytest.fixture(scope="module")
def saved_fit(tmp_path_factory):
    """A fit file written by the package (a small synthetic tree, no sampling), with its checksum."""
    from bayes_scaling.sampling.io import save_tree

    from .conftest import synthetic_tree

    folder = tmp_path_factory.mktemp("saved")
    save_tree(synthetic_tree(draws=50), folder / "posterior.nc")
    return folder


def _damaged(saved_fit, tmp_path, damage) -> Path:
    folder = tmp_path / "fit"
    shutil.copytree(saved_fit, folder)
    path = folder / "posterior.nc"
    data = bytearray(path.read_bytes())
    path.write_bytes(damage(data))
    return folder


@pytest.mark.parametrize(("damage", "fragment"), [
    (lambda data: bytes(data[: len(data) // 2]), "not a readable fit file"),
    (lambda data: b"this is not NetCDF\n" * 10, "not a readable fit file"),
    (lambda data: b"", "not a readable fit file"),
])
def test_a_truncated_or_foreign_posterior_is_refused(saved_fit, tmp_path, capsys, damage, fragment):
    folder = _damaged(saved_fit, tmp_path, damage)
    _refused(capsys, ["plan", str(folder), "--compute", "1e22"], "posterior.nc", fragment)


def test_flipped_bytes_in_a_posterior_are_refused(saved_fit, tmp_path, capsys):
    """Bytes flipped anywhere: the file is refused, or (the flip fell in the file's unused space) it loads with
    exactly the intact file's contents; never different numbers."""
    from bayes_scaling.sampling.io import CorruptFitError, content_digest, load_tree

    intact = content_digest(load_tree(saved_fit))  # the intact file loads and its checksum matches
    size = (saved_fit / "posterior.nc").stat().st_size
    refused = 0
    for where in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        def flip(data, at=int(size * where)):
            data[at: at + 8] = bytes(b ^ 0xFF for b in data[at: at + 8])
            return bytes(data)

        folder = _damaged(saved_fit, tmp_path / f"{where}", flip)
        try:
            assert content_digest(load_tree(folder)) == intact
        except CorruptFitError:
            refused += 1
            err = _refused(capsys, ["plan", str(folder), "--compute", "1e22"], "posterior.nc")
            assert "checksum" in err or "not a readable fit file" in err
    assert refused >= 1


def test_an_internal_error_is_exit_3_with_one_line_and_the_traceback_under_debug(tmp_path, capsys, runs_csv):
    path, _ = runs_csv
    argv = ["fit", "--law", "chinchilla", "--data", str(path), "--out", str(tmp_path / "out")]
    assert main(argv) == 3  # the sampling trap raises: an internal error
    err = capsys.readouterr().err
    assert "internal error: AssertionError: sampling started (run with --debug" in err and "Traceback" not in err
    assert main(["--debug", *argv]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_the_exit_codes_are_documented():
    from bayes_scaling.cli import build_parser

    text = build_parser().format_help()
    for code in ("0 success", "1 a fit failed", "2 bad input", "3 internal error"):
        assert code in text
    readme = (REPO / "README.md").read_text()
    assert "status 3" in readme
