"""Writing outputs: atomic writes clean what a killed process left, and two reports never write one folder at once."""

import os
import time

import pytest

from bayes_scaling.util.files import atomic_write_text, exclusive_lock


def test_atomic_write_removes_stale_temporaries_and_keeps_fresh_ones(tmp_path):
    target = tmp_path / "index.html"
    stale, fresh = tmp_path / ".index.html.abc123.tmp", tmp_path / ".index.html.def456.tmp"
    for leftover in (stale, fresh):
        leftover.write_text("half")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    atomic_write_text(target, "<html></html>")
    assert target.read_text() == "<html></html>"
    assert not stale.exists() and fresh.exists()  # a write in progress elsewhere is left alone


def test_a_second_writer_is_refused_while_the_first_holds_the_folder(tmp_path):
    with exclusive_lock(tmp_path, "report"):
        with pytest.raises(ValueError, match="another report is writing here now"):
            with exclusive_lock(tmp_path, "report"):
                pass
    with exclusive_lock(tmp_path, "report"):  # released: the next writer goes ahead
        pass


def test_report_refuses_a_folder_another_report_is_writing(tmp_path, capsys):
    from bayes_scaling.cli import EXIT_BAD_INPUT, main

    from .conftest import REPO

    out = tmp_path / "reports"
    with exclusive_lock(out, "report"):
        code = main(["report", str(REPO / "models" / "chinchilla.toml"), "--out", str(out)])
    assert code == EXIT_BAD_INPUT
    assert "another report is writing here now" in capsys.readouterr().err
    assert sorted(path.name for path in out.iterdir()) == [".lock"]  # nothing fitted or written


def test_a_new_posterior_never_sits_beside_the_page_of_an_old_one(tmp_path):
    """fit --page killed between writing the posterior and the page: the folder has no page rather than a stale
    one (write_fit removes the old page before it writes the new posterior)."""
    from bayes_scaling.report.output import PAGE_FILE, write_fit
    from bayes_scaling.result import FitResult

    from .conftest import synthetic_tree

    (tmp_path / PAGE_FILE).write_text("<html>the page of seed 1</html>")
    written = write_fit(FitResult(synthetic_tree(draws=20, seed=4)), tmp_path, page=False)
    assert [path.name for path in written] == ["posterior.nc"]
    assert not (tmp_path / PAGE_FILE).exists()
