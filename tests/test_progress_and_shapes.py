"""Long work says how far it is and about how long is left; every interval the tool writes has one shape."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from bayes_scaling.util.progress import Eta, duration


def test_progress_says_what_is_done_the_time_so_far_and_about_how_long_is_left(monkeypatch):
    lines, clock = [], iter([100.0, 130.0, 190.0])
    monkeypatch.setattr("bayes_scaling.util.progress.time.perf_counter", lambda: next(clock))
    progress = Eta(lines.append, "splits scored")
    progress(1, 4)
    progress(4, 4)
    assert lines == ["  1/4 splits scored (30 s; about 1.5 min left)", "  4/4 splits scored (1.5 min)"]
    assert duration(7200) == "2.0 h"


def test_the_crossover_gives_each_quantity_as_median_lower_upper_level():
    from bayes_scaling.study.crossover import summarise

    rng = np.random.default_rng(0)
    draws = {name: ("sample", np.exp(rng.normal(10, 1, 4000))) for name in
             ("compute", "compute_pf_days", "n_params", "n_tokens", "loss")}
    crossing = xr.Dataset({**draws, "kaplan_direction": ("sample", np.ones(4000, dtype=bool))})
    found = summarise(crossing, level=0.8)
    assert {"median", "lower", "upper", "level", "q05", "q50", "q95"} <= set(found["loss"])
    assert found["loss"]["level"] == 0.8 and found["loss"]["median"] == pytest.approx(found["loss"]["q50"])
    assert found["loss"]["q05"] < found["loss"]["lower"] < found["loss"]["median"] < found["loss"]["upper"]
