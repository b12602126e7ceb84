"""``--filter NAME=VALUE``: a data filter set, changed or removed on the command line, over a spec's or a law's
defaults, with errors that name the flag before any data is read."""

from __future__ import annotations

import pytest

from bayes_scaling.cli import build_parser
from bayes_scaling.commands.arguments import spec_from_args
from bayes_scaling.spec import SpecError


def _args(*extra: str, spec: str | None = None):
    head = ["fit", spec] if spec else ["fit", "--law", "isoflop", "--data", "runs.csv"]
    return build_parser().parse_args([*head, "--out", "o", *extra])


def test_a_laws_default_filter_is_kept_changed_or_removed():
    assert spec_from_args(_args()).data.filters == {"isoflop_loss_window": 0.1}
    assert spec_from_args(_args("--filter", "isoflop_loss_window=0.25")).data.filters == {"isoflop_loss_window": 0.25}
    assert spec_from_args(_args("--filter", "isoflop_loss_window=none")).data.filters == {}
    both = spec_from_args(_args("--filter", "max_compute=1e20", "--drop-highest-loss", "3"))
    assert both.data.filters == {"isoflop_loss_window": 0.1, "max_compute": 1e20, "drop_highest_loss": 3}


def test_a_specs_filters_are_overridden_too_not_silently_ignored():
    plain = spec_from_args(_args(spec="models/chinchilla.toml"))
    assert plain.data.filters.get("drop_highest_loss") == 5  # Epoch AI's five, as the spec says
    changed = spec_from_args(_args("--drop-highest-loss", "0", spec="models/chinchilla.toml"))
    assert changed.data.filters["drop_highest_loss"] == 0
    removed = spec_from_args(_args("--filter", "drop_highest_loss=none", spec="models/chinchilla.toml"))
    assert "drop_highest_loss" not in removed.data.filters
    assert {k: v for k, v in removed.data.filters.items()} == {k: v for k, v in plain.data.filters.items()
                                                                 if k != "drop_highest_loss"}


@pytest.mark.parametrize("item, message", [
    ("isoflop_loss_window", "give NAME=VALUE"),
    ("=0.1", "give NAME=VALUE"),
    ("window=0.1", "unknown filter 'window'; use any of"),
    ("isoflop_loss_window=wide", "'wide' is not a number; isoflop_loss_window: keep runs"),
    ("isoflop_loss_window=-0.1", "give a finite non-negative number"),
    ("max_compute=inf", "give a finite non-negative number"),
])
def test_a_bad_filter_names_the_flag_and_the_fix(item, message):
    with pytest.raises(SpecError, match="--filter") as err:
        spec_from_args(_args("--filter", item))
    assert message in str(err.value)


def test_the_fit_summary_says_which_filters_removed_runs():
    from bayes_scaling.commands.fit import format_fit_summary
    from bayes_scaling.result import FitResult
    from tests.conftest import synthetic_tree

    tree = synthetic_tree()
    assert "runs: 24 fitted, no filter" in format_fit_summary(FitResult(tree))
    tree.attrs["filters"] = '["isoflop_loss_window=0.1: 33 of 86 runs removed"]'
    assert "after filters: isoflop_loss_window=0.1: 33 of 86 runs removed" in format_fit_summary(FitResult(tree))


def test_filters_that_remove_every_run_say_which_and_how_to_loosen_them():
    import pandas as pd

    from bayes_scaling.data.errors import DataError
    from bayes_scaling.data.filters import apply_filters
    from bayes_scaling.data.runs import RunTable, validate_table

    frame = pd.DataFrame({"n_params": [1e8, 2e8], "n_tokens": [2e9, 4e9], "compute": [1.2e18, 4.8e18],
                          "loss": [3.2, 3.0]})
    runs = RunTable(frame=validate_table(frame, "two", {k: k for k in frame.columns}), source={})
    with pytest.raises(DataError, match="the runs given") as err:
        apply_filters(runs, {"max_compute": 1e17})
    assert "max_compute=1e+17: 2 of 2 runs removed" in str(err.value) and "NAME=none" in str(err.value)


def test_the_api_removes_a_laws_default_filter_given_as_none(monkeypatch):
    from bayes_scaling import api

    seen = {}
    monkeypatch.setattr(api, "fit_spec", lambda spec, frame=None, progress=False: seen.setdefault("spec", spec))
    api.fit("runs.csv", law="isoflop", filters={"isoflop_loss_window": None, "max_compute": 1e20})
    assert seen["spec"].data.filters == {"max_compute": 1e20}
