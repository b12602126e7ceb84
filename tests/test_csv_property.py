"""Property: the CSV validator, given any table, refuses it with a DataError (exit 2 and a message) or returns
runs that a law can use (positive, finite, plausible, C = 6ND). It never crashes with anything else."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bayes_scaling.data.errors import DataError
from bayes_scaling.data.load import load_runs
from bayes_scaling.data.runs import LOSS_RANGE
from bayes_scaling.laws.inputs import INPUTS
from bayes_scaling.spec import DataSpec

NAMES = ["n_params", "n_tokens", "compute", "loss", "unique_tokens", "budget", "loss.1", "", "N", "params"]
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=1e-3, max_value=1e30),
    st.integers(min_value=-10, max_value=10**20),
    st.text(max_size=6),
    st.none(),
)


@st.composite
def tables(draw):
    """A header (names may repeat or be empty) and rows of mixed cells, some rows longer or shorter than it."""
    header = draw(st.lists(st.sampled_from(NAMES), min_size=0, max_size=6))
    rows = [[draw(CELLS) for _ in range(len(header) + draw(st.sampled_from([0, 0, 0, 1, -1])))]
            for _ in range(draw(st.integers(min_value=0, max_value=8)))]
    return header, rows


def _cell(value) -> str:
    return "" if value is None else str(value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables(), st.sampled_from([",", ";"]))
def test_any_table_is_refused_cleanly_or_gives_usable_runs(tmp_path_factory, table, separator):
    header, rows = table
    path = tmp_path_factory.mktemp("prop") / "runs.csv"
    path.write_text("\n".join(separator.join(map(_cell, line)) for line in [header, *rows]) + "\n")
    try:
        runs = load_runs(DataSpec(csv=str(path)))
    except DataError as err:
        assert str(err).strip()
        return
    frame = runs.frame
    assert len(frame) > 0
    for name in ("n_params", "n_tokens", "compute"):
        values = frame[name].to_numpy(dtype=float)
        low, high = INPUTS[name].plausible
        assert np.all(np.isfinite(values)) and np.all((values >= low) & (values <= high))
    assert np.all((frame["loss"] >= LOSS_RANGE[0]) & (frame["loss"] <= LOSS_RANGE[1]))
    ratio = frame["compute"] / (6 * frame["n_params"] * frame["n_tokens"])
    assert np.all(np.abs(ratio - 1) <= 0.25 + 1e-9)


def test_a_valid_table_passes_the_same_check(tmp_path):
    """The property's success branch is reachable: a clean table gives runs."""
    path = tmp_path / "runs.csv"
    path.write_text("n_params,n_tokens,loss\n1e8,2e9,3.1\n2e8,4e9,3.0\n")
    assert len(load_runs(DataSpec(csv=str(path)))) == 2
