"""PyTensor's rewritten graphs kept on disk (sampling/rewrite_cache.py): a warm process reuses them, and the log
density and the draws are the same with the cache cold, warm or off."""

import os
import subprocess
import sys

import numpy as np
import pytest

from bayes_scaling.sampling import rewrite_cache


def _fit(csv, out, cache, switch="1"):
    """A short fit in a fresh process with the rewrite cache under ``cache``; its first draws of E and how many
    rewritten graphs it reused and stored."""
    script = ("import sys; from bayes_scaling.cli import main; from bayes_scaling import load; "
              "from bayes_scaling.sampling import rewrite_cache as rc; "
              "main(['-q', 'fit', '--law', 'chinchilla', '--data', sys.argv[1], '--out', sys.argv[2], '--draws', "
              "'150', '--tune', '150', '--allow-unconverged']); "
              "print(repr((load(sys.argv[2]).posterior['E'].values.ravel()[:50].tolist(), rc.COUNTS)))")
    env = {**os.environ, "BAYES_SCALING_CACHE": str(cache), rewrite_cache.SWITCH_ENV: switch}
    done = subprocess.run([sys.executable, "-c", script, str(csv), str(out)], env=env, check=True,
                          capture_output=True, text=True)
    return eval(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # three fresh processes fitting
def test_a_warm_process_reuses_every_rewritten_graph_and_draws_the_same(tmp_path, simulated_frame):
    """The first process rewrites and stores each graph, the second finds every one of them (nothing rewritten,
    nothing added); both draw what a process without the cache draws, with the same seed."""
    simulated_frame.to_csv(csv := tmp_path / "runs.csv", index=False)
    cache = tmp_path / "cache"
    off, off_counts = _fit(csv, tmp_path / "off", tmp_path / "unused", switch="0")
    cold, cold_counts = _fit(csv, tmp_path / "cold", cache)
    stored = sorted(cache.rglob("*.pkl"))
    warm, warm_counts = _fit(csv, tmp_path / "warm", cache)
    assert off_counts == {"hit": 0, "miss": 0} and not (tmp_path / "unused").exists()
    assert cold_counts["hit"] == 0 and cold_counts["miss"] == len(stored) >= 2  # the density and the expansion
    assert warm_counts == {"hit": len(stored), "miss": 0} and sorted(cache.rglob("*.pkl")) == stored
    assert off == cold == warm


@pytest.fixture()
def numba_function(tmp_path):
    """Compile a PyTensor function in NUMBA mode with the rewrite cache under ``tmp_path``."""
    import pytensor

    def compile_(inputs, outputs):
        with rewrite_cache.cached_rewrites(tmp_path):
            return pytensor.function(inputs, outputs, mode="NUMBA")

    return compile_


def test_graphs_that_differ_in_a_constant_do_not_share_rewrites(numba_function):
    """The key holds every constant's value: x * 2 and x * 3 are rewritten and stored separately (PyTensor numbers
    its constants by how many variables came before, so the names differ between processes and are not in the
    key), and an identical graph built again is a hit."""
    import pytensor.tensor as pt

    x = pt.dvector("x")
    before = dict(rewrite_cache.COUNTS)
    double, triple = numba_function([x], 2.0 * x + 1.0), numba_function([x], 3.0 * x + 1.0)
    y = pt.dvector("y")
    again = numba_function([y], 3.0 * y + 1.0)
    assert rewrite_cache.COUNTS["miss"] - before["miss"] == 2 and rewrite_cache.COUNTS["hit"] - before["hit"] == 1
    np.testing.assert_array_equal(double([1.0, 2.0]), [3.0, 5.0])
    np.testing.assert_array_equal(triple([1.0, 2.0]), [4.0, 7.0])
    np.testing.assert_array_equal(again([1.0, 2.0]), [4.0, 7.0])


def test_a_reused_graph_with_in_place_ops_reads_a_buffer_before_overwriting_it(numba_function):
    """Rewrites make the subtensor assignment below write into the product's buffer, which the cumulative sum also
    reads; the reused graph keeps the order that makes this safe (the sum first). Without the DestroyHandler on the
    reused graph, this order was lost and the sum read the assigned 5.0."""
    import pytensor.tensor as pt

    x, y = pt.dvector("x"), pt.dvector("y")
    product = x * y
    outputs = [pt.cumsum(product), pt.set_subtensor(product[0], 5.0)]
    values = np.array([0.5, -1.0, 2.0]), np.array([0.25, 0.5, -1.0])
    first = numba_function([x, y], outputs)
    before = rewrite_cache.COUNTS["hit"]
    second = numba_function([x, y], outputs)
    assert rewrite_cache.COUNTS["hit"] == before + 1
    assert any(node.op.destroy_map for node in second.maker.fgraph.toposort())  # an in-place op was reused
    expected = values[0] * values[1]
    for function in (first, second):
        total, assigned = function(*values)
        np.testing.assert_allclose(total, np.cumsum(expected))
        np.testing.assert_allclose(assigned, [5.0, *expected[1:]])


def test_an_unreadable_entry_is_rewritten_again_and_replaced(numba_function, tmp_path):
    import pytensor.tensor as pt

    x = pt.dvector("x")
    numba_function([x], pt.log1p(x) * 4.0)
    (entry,) = tmp_path.rglob("*.pkl")
    entry.write_bytes(b"not a pickle")
    before = dict(rewrite_cache.COUNTS)
    function = numba_function([x], pt.log1p(x) * 4.0)
    assert rewrite_cache.COUNTS["miss"] == before["miss"] + 1 and rewrite_cache.COUNTS["hit"] == before["hit"]
    np.testing.assert_allclose(function([0.5]), np.log1p([0.5]) * 4.0)
    assert entry.read_bytes() != b"not a pickle"


def test_the_cache_can_be_switched_off(numba_function, tmp_path, monkeypatch):
    import pytensor.tensor as pt

    monkeypatch.setenv(rewrite_cache.SWITCH_ENV, "0")
    x = pt.dvector("x")
    before = dict(rewrite_cache.COUNTS)
    numba_function([x], pt.sqrt(x) + 5.0)
    assert rewrite_cache.COUNTS == before and not list(tmp_path.rglob("*.pkl"))
