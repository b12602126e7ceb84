"""Pairing draws of independent posteriors (two fits), so that a derived quantity of both, such as a ratio of
their N_opt, has a distribution: stack each fit's draws to one ``sample`` dim and resample both, seeded, to one
length; and whether two fits read the same runs."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from bayes_scaling.result import FitResult


def resample_draws(values: Mapping[str, xr.DataArray], size: int, rng: np.random.Generator) -> dict[str, xr.DataArray]:
    """Draws stacked to one ``sample`` dim and resampled (seeded, without replacement where possible) to ``size``;
    every variable of ``values`` gets the same draws."""
    stacked = {name: v.stack(sample=("chain", "draw")).reset_index("sample", drop=True) for name, v in values.items()}
    total = next(iter(stacked.values())).sizes["sample"]
    index = rng.permutation(total)[:size] if size <= total else rng.integers(0, total, size)
    return {name: v.isel(sample=index).drop_vars("sample", errors="ignore") for name, v in stacked.items()}


def paired(first: Mapping[str, xr.DataArray], second: Mapping[str, xr.DataArray], *, seed: int):
    """``(first, second)`` resampled to the larger draw count with one seeded generator: element i of each is a
    pair of independent draws."""
    rng = np.random.default_rng(seed)
    size = max(next(iter(first.values())).size, next(iter(second.values())).size)
    return resample_draws(first, size, rng), resample_draws(second, size, rng)


def same_runs(a: FitResult, b: FitResult) -> bool:
    """Whether two fits read the same data: the same file checksum and, for Porian's data, configuration."""
    def key(fit: FitResult):
        source = fit.attr_json("data_source")
        config = {k: v for k, v in source.get("configuration", {}).items() if not k.startswith("published")}
        return source.get("sha256"), config

    return key(a) == key(b)
