"""Registry, checksums, downloads and validation of run tables: every refusal names file, column, row and fix."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.data import ChecksumMismatch, DataError, DataNotFound, get_dataset, load_registry
from bayes_scaling.data.fetch import resolve, sha256_of
from bayes_scaling.data.filters import apply_filters, repeated_cells
from bayes_scaling.data.load import check_identifiable, load_runs
from bayes_scaling.data.runs import PF_DAY, RunTable, read_csv_table, validate_table
from bayes_scaling.laws import get_law
from bayes_scaling.spec import DataSpec

COLUMNS = {"n_params": "N", "n_tokens": "D", "loss": "L"}


def frame(**overrides):
    base = {"N": [1e8, 2e8, 4e8], "D": [2e9, 4e9, 8e9], "L": [3.1, 2.9, 2.7]}
    base.update(overrides)
    return pd.DataFrame(base)


def test_registry_pins_epoch_data_to_its_commit_and_checksum():
    entry = get_dataset("epoch-chinchilla")
    assert entry.commit == "92258837425e1b5f2851d624287f0120583a3d0e"
    assert entry.sha256 == "193478df4e90f040016431996c45682659306840ecdadf83cfb9cd5ca0aa1b30"
    assert entry.commit in entry.url and entry.path in entry.url
    assert entry.n_counts_embeddings is True
    assert set(load_registry()) >= {"epoch-chinchilla"}
    with pytest.raises(ValueError, match="unknown dataset 'epoch'; registered: epoch-chinchilla"):
        get_dataset("epoch")


def test_resolve_prefers_the_data_folder_and_verifies_it(shared_data):
    path = resolve(get_dataset("epoch-chinchilla"), download=False)
    assert path == shared_data / "epoch-chinchilla" / "svg_extracted_data.csv"


def test_checksum_mismatch_is_refused(tmp_path, monkeypatch):
    entry = get_dataset("epoch-chinchilla")
    bad = tmp_path / entry.file
    bad.parent.mkdir(parents=True)
    bad.write_text("x,y\n1,2\n")
    monkeypatch.setenv("BAYES_SCALING_DATA", str(tmp_path))
    with pytest.raises(ChecksumMismatch, match=r"sha256 .* differs from the registry's 193478df"):
        resolve(entry, download=False)


def test_missing_dataset_names_the_dataset_url_and_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("BAYES_SCALING_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setenv("BAYES_SCALING_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataNotFound) as err:
        resolve(get_dataset("epoch-chinchilla"), download=False)
    message = str(err.value)
    assert "epoch-chinchilla" in message and "BAYES_SCALING_DATA" in message
    assert "raw.githubusercontent.com/epoch-research/analyzing-chinchilla/92258837" in message


def test_download_goes_to_the_cache_and_is_verified(tmp_path, monkeypatch, shared_data):
    """Download path exercised with a file:// URL (no network at test time)."""
    import dataclasses

    entry = get_dataset("epoch-chinchilla")
    source = shared_data / entry.file
    local = dataclasses.replace(entry, url=source.resolve().as_uri())
    monkeypatch.delenv("BAYES_SCALING_DATA")
    monkeypatch.setenv("BAYES_SCALING_CACHE", str(tmp_path / "cache"))
    path = resolve(local)
    assert path == tmp_path / "cache" / entry.file
    assert sha256_of(path) == entry.sha256
    tampered = dataclasses.replace(local, sha256="0" * 64)
    path.unlink()
    with pytest.raises(ChecksumMismatch):
        resolve(tampered)
    assert not path.exists() and not list(path.parent.iterdir())  # no partial download left behind


def test_epoch_data_loads_with_derived_tokens_and_filter(shared_data):
    runs = load_runs(DataSpec(dataset="epoch-chinchilla", filters={"drop_highest_loss": 5}))
    assert len(runs) == 240
    np.testing.assert_allclose(runs.column("compute"), 6 * runs.column("n_params") * runs.column("n_tokens"))
    assert runs.column("loss").max() < 3.41
    assert runs.filters == ("drop_highest_loss=5: 5 of 245 runs removed",)
    assert runs.source["sha256"].startswith("193478df")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (frame(L=[3.1, np.nan, 2.7]), "column 'L', row 2 (line 3 of the file): value is missing (NaN)"),
        (frame(N=[1e8, -2e8, 4e8]), "column 'N', row 2 (line 3 of the file): n_params must be positive"),
        (frame(D=[2e9, 0.0, 8e9]), "column 'D', row 2 (line 3 of the file): n_tokens must be positive"),
        (frame(L=[3.1, "abc", 2.7]), "column 'L', row 2 (line 3 of the file): 'abc' is not a number"),
        (frame(N=[1e8, np.inf, 4e8]), "column 'N', row 2 (line 3 of the file): value is inf"),
        (frame(L=[3.1, 45.0, 2.7]), "loss 45 nats is outside the plausible range"),
        (frame().drop(columns="L"), "column 'L' (for loss) is missing; the columns are 'N', 'D'"),
        (frame().iloc[:0], "the table has no data rows"),
    ],
)
def test_validation_names_column_row_and_fix(raw, fragment):
    with pytest.raises(DataError) as err:
        validate_table(raw, "runs.csv", COLUMNS)
    message = str(err.value)
    assert message.startswith("runs.csv")
    assert fragment in message
    assert "Fix:" in message


def test_compute_inconsistent_with_6nd_is_refused_and_units_convert():
    raw = frame(C=[1.2e18, 4.8e18, 9.9e19])
    with pytest.raises(DataError, match=r"column 'C', row 3 .*compute is 5.16 x 6\*N\*D, beyond the tolerance of 25%"):
        validate_table(raw, "runs.csv", {**COLUMNS, "compute": "C"})
    pf_days = frame(C=[1.2e18 / PF_DAY, 4.8e18 / PF_DAY, 1.92e19 / PF_DAY], L=[4.0, 3.6, 3.3])
    out = validate_table(pf_days, "runs.csv", {**COLUMNS, "compute": "C"}, compute_unit="PF-days", loss_unit="bits")
    np.testing.assert_allclose(out["compute"], [1.2e18, 4.8e18, 1.92e19])
    np.testing.assert_allclose(out["loss"], np.array([4.0, 3.6, 3.3]) * np.log(2))


def test_third_quantity_is_derived_from_c_equals_6nd():
    out = validate_table(frame().drop(columns="D").assign(C=[1.2e18, 4.8e18, 1.92e19]), "x",
                         {"n_params": "N", "compute": "C", "loss": "L"})
    np.testing.assert_allclose(out["n_tokens"], [2e9, 4e9, 8e9])


def test_empty_and_missing_files_are_reported(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: the file is empty"):
        read_csv_table(empty)
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        read_csv_table(tmp_path / "nope.csv")


def test_too_few_distinct_scales_are_refused():
    raw = pd.DataFrame({"N": [1e8, 2e8] * 4, "D": np.geomspace(1e9, 1e11, 8), "L": np.linspace(3, 2.5, 8)})
    runs = RunTable(frame=validate_table(raw, "r.csv", COLUMNS), source={"file": "r.csv"})
    with pytest.raises(DataError, match="only 2 distinct n_params values; the law chinchilla needs at least 3"):
        check_identifiable(runs, get_law("chinchilla"), "r.csv")
    few = RunTable(frame=validate_table(raw.iloc[:4], "r.csv", COLUMNS), source={"file": "r.csv"})
    with pytest.raises(DataError, match="only 2 distinct n_params"):
        check_identifiable(few, get_law("chinchilla"), "r.csv")
    # four sizes at one token count each: enough distinct values per input, too few points for five parameters
    four = pd.DataFrame({"N": [1e8, 2e8, 4e8, 8e8], "D": [1e9, 2e9, 4e9, 8e9], "L": [3.0, 2.9, 2.8, 2.7]})
    runs = RunTable(frame=validate_table(four, "r.csv", COLUMNS), source={"file": "r.csv"})
    with pytest.raises(DataError, match="only 4 distinct points of \\(n_params, n_tokens\\) for a law with 5"):
        check_identifiable(runs, get_law("chinchilla"), "r.csv")


def test_filters_are_applied_recorded_and_unknown_ones_refused():
    raw = pd.DataFrame({"N": np.geomspace(1e8, 1e10, 10), "D": np.geomspace(1e9, 1e11, 10),
                        "L": np.linspace(3.5, 2.5, 10)})
    runs = RunTable(frame=validate_table(raw, "r.csv", COLUMNS), source={"file": "r.csv"})
    kept = apply_filters(runs, {"drop_highest_loss": 2, "max_compute": 1e20})
    assert kept.column("loss").max() == pytest.approx(raw["L"].iloc[2])
    assert len(kept.filters) == 2 and kept.filters[0].startswith("drop_highest_loss=2: 2 of 10")
    with pytest.raises(DataError, match="unknown filter"):
        apply_filters(runs, {"drop_top": 1})


def test_hold_out_top_compute_removes_the_largest_budgets_with_their_ties():
    """Whole budgets (here: runs of equal compute), the number closest to the fraction."""
    raw = pd.DataFrame({"N": [1e8, 2e8, 4e8, 8e8, 8e8, 1.6e9], "D": [1e9, 1e9, 1e9, 1e9, 1e9, 1e9],
                        "L": [3.0, 2.9, 2.8, 2.7, 2.71, 2.6]})
    runs = RunTable(frame=validate_table(raw, "r.csv", COLUMNS), source={"file": "r.csv"})
    kept = apply_filters(runs, {"hold_out_top_compute": 0.34})  # two runs, and the one tied with the second
    assert list(kept.column("n_params")) == [1e8, 2e8, 4e8]
    assert list(kept.filters) == ["hold_out_top_compute=0.34: 3 of 6 runs removed"]
    assert len(apply_filters(runs, {"hold_out_top_compute": 0.01})) == 6  # nothing is closer to 1% than no run
    with pytest.raises(DataError, match="would hold out every run"):
        apply_filters(runs, {"hold_out_top_compute": 1})


def test_user_csv_round_trip(tmp_path: Path):
    path = tmp_path / "mine.csv"
    frame().to_csv(path, index=False)
    runs = load_runs(DataSpec(csv=str(path), columns=COLUMNS))
    assert len(runs) == 3 and runs.source["sha256"] == sha256_of(path)


def test_a_trickling_server_hits_the_total_deadline_and_leaves_nothing(tmp_path, monkeypatch):
    """A server on 127.0.0.1 that sends a byte every 50 ms: each read succeeds, so only a deadline on the whole
    download stops it; the cache holds no partial file afterwards."""
    import dataclasses
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bayes_scaling.data import fetch

    class Trickle(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(200):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    entry = dataclasses.replace(get_dataset("epoch-chinchilla"),
                                url=f"http://127.0.0.1:{server.server_address[1]}/data.csv")
    monkeypatch.delenv("BAYES_SCALING_DATA", raising=False)
    monkeypatch.setenv("BAYES_SCALING_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(fetch, "DOWNLOAD_DEADLINE", 0.5)
    started = time.monotonic()
    try:
        with pytest.raises(DataNotFound, match=r"took longer than 0\.5 s in all"):
            resolve(entry)
        assert time.monotonic() - started < 5  # the deadline, not the 10 s the server would trickle for
    finally:
        server.shutdown()
    cache = tmp_path / "cache" / "epoch-chinchilla"
    assert not cache.exists() or not list(cache.iterdir())


def test_partial_downloads_left_by_a_kill_are_cleaned_on_the_next_run(tmp_path):
    import os
    import time

    from bayes_scaling.data.fetch import clean_partial_downloads

    stale, fresh, data = tmp_path / "tmpab12cd", tmp_path / "tmpef34gh", tmp_path / "svg_extracted_data.csv"
    for path in (stale, fresh, data):
        path.write_text("x")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    os.utime(data, (time.time() - 3600, time.time() - 3600))
    clean_partial_downloads(tmp_path, older_than=600)
    assert not stale.exists() and fresh.exists() and data.exists()


def test_hold_out_top_compute_never_splits_an_isoflop_budget():
    """Six budgets of ten runs with jittered compute: 15% (9 runs) holds out the top budget whole, 25% (15 runs)
    the top one (10 runs, closer than 20), 35% (21 runs) the top two."""
    from bayes_scaling.data.budgets import budget_labels
    from bayes_scaling.validation.simulate import isoflop_design

    design = isoflop_design([1e18, 3e18, 1e19, 3e19, 1e20, 3e20], sizes_per_budget=10)
    jitter = np.random.default_rng(0).uniform(-0.02, 0.02, len(design))
    design["compute"] *= 10**jitter
    design["n_tokens"] = design["compute"] / (6 * design["n_params"])
    design["loss"] = 2.5
    runs = RunTable(frame=validate_table(design, "d.csv", {k: k for k in ("n_params", "n_tokens", "loss")}),
                    source={"file": "d.csv"})
    labels = budget_labels(runs.frame)
    assert len(set(labels.tolist())) == 6
    for fraction, held in ((0.15, 10), (0.25, 10), (0.35, 20)):
        kept = apply_filters(runs, {"hold_out_top_compute": fraction})
        assert len(runs) - len(kept) == held
        kept_labels = set(budget_labels(runs.frame)[np.isin(runs.frame["row"], kept.frame["row"])].tolist())
        assert all((labels == label).sum() == np.isin(runs.frame["row"], kept.frame["row"])[labels == label].sum()
                   for label in kept_labels)  # every kept budget is kept whole


def _jittered_budgets(budgets, per_budget=10):
    from bayes_scaling.validation.simulate import isoflop_design

    design = isoflop_design(budgets, sizes_per_budget=per_budget)
    design["compute"] *= 10 ** np.random.default_rng(0).uniform(-0.02, 0.02, len(design))
    design["n_tokens"] = design["compute"] / (6 * design["n_params"])
    design["loss"] = 2.5
    return RunTable(frame=validate_table(design, "d.csv", {k: k for k in ("n_params", "n_tokens", "loss")}),
                    source={"file": "d.csv"})


def test_below_top_compute_keeps_whole_budgets_at_least_that_far_below_the_top():
    """Budgets 1e18 .. 3e20 (jittered by up to 0.02 decades): 1.2 decades below the top keeps the budgets up to 1e19,
    whole; 0.7 decades keeps 3e19 too."""
    from bayes_scaling.data.filters import split_below_top

    runs = _jittered_budgets([1e18, 3e18, 1e19, 3e19, 1e20, 3e20])
    train, held = split_below_top(runs, 1.2)
    assert len(train) == 30 and len(held) == 30 and train.frame["compute"].max() < held.frame["compute"].min()
    assert train.filters[-1].startswith("below_top_compute=1.2: 30 of 60 runs removed")
    assert len(apply_filters(runs, {"below_top_compute": 0.7})) == 40


def test_best_of_repeats_keeps_the_lowest_loss_of_each_size_and_token_count():
    raw = pd.DataFrame({"N": [1e8, 1e8, 1e8, 2e8, 2e8, 4e8], "D": [1e9, 1e9, 2e9, 1e9, 1e9, 1e9],
                        "L": [3.0, 2.9, 2.8, 2.7, 2.75, 2.6]})
    runs = RunTable(frame=validate_table(raw, "r.csv", COLUMNS), source={"file": "r.csv"})
    kept = apply_filters(runs, {"best_of_repeats": 1})
    assert sorted(kept.column("loss").tolist()) == [2.6, 2.7, 2.8, 2.9]
    assert len(apply_filters(runs, {"best_of_repeats": 0})) == 6


def test_li_2025_grid_is_registered_with_embeddings_counted(shared_data):
    entry = get_dataset("li2025-final")
    assert entry.n_counts_embeddings and entry.columns["n_params"] == "N"
    runs = load_runs(DataSpec(dataset="li2025-final", filters={"best_of_repeats": 1}))
    assert len(runs) == 81 and runs.frame[["n_params", "n_tokens"]].drop_duplicates().shape[0] == 81


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0])
def test_a_filter_value_that_is_not_a_finite_non_negative_number_is_refused(value):
    raw = pd.DataFrame({"N": [1e8, 2e8, 4e8], "D": [1e9, 2e9, 4e9], "L": [3.0, 2.9, 2.8]})
    runs = RunTable(frame=validate_table(raw, "r.csv", COLUMNS), source={"file": "r.csv"})
    with pytest.raises(DataError, match="is not a finite non-negative number"):
        apply_filters(runs, {"below_top_compute": value})


def _sweep(tmp_path: Path, columns: dict[str, str], scale: dict[str, float] | None = None) -> Path:
    """A small IsoFLOP-like table with the given column names (canonical -> name), values scaled per column."""
    n = np.array([1e8, 2e8, 4e8, 1e9, 2e9, 4e9])
    d = 6e18 / (6 * n)
    values = {"n_params": n, "n_tokens": d, "compute": 6 * n * d, "loss": np.linspace(3.0, 2.6, 6),
              "budget": np.full(6, 6e18)}
    frame = pd.DataFrame({name: values[key] * (scale or {}).get(key, 1.0) for key, name in columns.items()})
    path = tmp_path / "sweep.csv"
    frame.to_csv(path, index=False)
    return path


def test_common_column_names_are_recognised_without_flags(tmp_path):
    path = _sweep(tmp_path, {"n_params": "Params", "n_tokens": "tokens", "loss": "val_loss", "budget": "flop_budget"})
    runs = load_runs(DataSpec(csv=str(path)))
    assert np.allclose(runs.column("compute"), 6e18) and np.allclose(runs.column("budget"), 6e18)
    path = _sweep(tmp_path, {"n_params": "N", "compute": "FLOPs", "loss": "loss"})
    assert np.allclose(load_runs(DataSpec(csv=str(path))).column("n_tokens"), 6e18 / (6 * np.array(
        [1e8, 2e8, 4e8, 1e9, 2e9, 4e9])))


def test_a_role_two_columns_could_fill_is_not_guessed_and_the_error_lists_the_columns(tmp_path):
    frame = pd.read_csv(_sweep(tmp_path, {"n_params": "params", "n_tokens": "tokens", "loss": "val_loss"}))
    frame["eval_loss"] = frame["val_loss"]
    frame.to_csv(tmp_path / "two.csv", index=False)
    with pytest.raises(DataError, match=r"needs a loss column.*'val_loss', 'eval_loss'.*--loss-col"):
        load_runs(DataSpec(csv=str(tmp_path / "two.csv")))
    runs = load_runs(DataSpec(csv=str(tmp_path / "two.csv"), columns={"loss": "eval_loss"}))
    assert len(runs) == 6
    bare = pd.DataFrame({"x": [1.0], "y": [2.0], "z": [3.0]})
    with pytest.raises(DataError, match="found none of them among the columns 'x', 'y', 'z'"):
        validate_table(bare, "bare.csv", {})


def test_compute_in_gflop_and_a_budget_column_flagged_by_name_convert_to_flop(tmp_path):
    path = _sweep(tmp_path, {"n_params": "params", "compute": "gflops", "loss": "loss", "budget": "iso"},
                  scale={"compute": 1e-9, "budget": 1e-9})
    runs = load_runs(DataSpec(csv=str(path), columns={"compute": "gflops", "budget": "iso"},
                              units={"compute": "GFLOP"}))
    assert np.allclose(runs.column("compute"), 6e18) and np.allclose(runs.column("budget"), 6e18)


def test_a_compute_tolerance_can_be_widened_for_reported_flops(tmp_path):
    path = _sweep(tmp_path, {"n_params": "params", "n_tokens": "tokens", "compute": "flops", "loss": "loss"},
                  scale={"compute": 0.74})
    with pytest.raises(DataError, match=r"0\.74 x 6"):
        load_runs(DataSpec(csv=str(path)))
    assert len(load_runs(DataSpec(csv=str(path), compute_tolerance=0.3))) == 6


def test_losses_that_look_like_bits_are_warned_about(tmp_path, caplog):
    path = _sweep(tmp_path, {"n_params": "params", "n_tokens": "tokens", "loss": "loss"}, scale={"loss": 1.8})
    with caplog.at_level("WARNING"):
        load_runs(DataSpec(csv=str(path)))
    assert "if they are bits, give --loss-unit bits" in caplog.text


def test_runs_sharing_a_cell_are_warned_of_with_the_filter_that_keeps_the_best():


    cells = pd.DataFrame({"n_params": [1e8, 1e8, 1e8, 2e8, 4e8], "n_tokens": [2e9, 2e9, 2e9, 4e9, 8e9],
                          "compute": [1.2e18, 1.2e18, 1.2e18, 4.8e18, 1.92e19], "loss": [3.2, 3.1, 3.4, 3.0, 2.9]})
    said = repeated_cells(cells)
    assert said.startswith("1 of 3 (N, D) cells hold more than one run (3 runs, up to 3 a cell")
    assert "--filter best_of_repeats=1" in said
    assert repeated_cells(cells.drop(columns=["n_tokens"])).startswith("1 of 3 (N, C) cells")
    assert repeated_cells(cells.drop_duplicates(["n_params"])) is None
    runs = validate_table(cells, "cells", {k: k for k in cells.columns})
    best = apply_filters(RunTable(frame=runs, source={"file": "cells"}), {"best_of_repeats": 1})
    assert repeated_cells(best.frame) is None and best.frame["loss"].min() == 2.9 and len(best.frame) == 3
