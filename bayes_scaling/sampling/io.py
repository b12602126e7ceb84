"""Write and read fits: NetCDF (h5netcdf), written atomically (:mod:`bayes_scaling.util.files`)."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from bayes_scaling.util.files import atomic_write

POSTERIOR_FILE = "posterior.nc"


def save_tree(tree: xr.DataTree, path: str | Path) -> Path:
    """Save a fit's DataTree to NetCDF atomically."""
    return atomic_write(path, lambda tmp: tree.to_netcdf(tmp, engine="h5netcdf"))


def load_tree(path: str | Path) -> xr.DataTree:
    """Read a fit file (or a folder holding ``posterior.nc``) fully into memory."""
    path = Path(path)
    if path.is_dir():
        path = path / POSTERIOR_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no fit here; run `bayes-scaling fit` first")
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        return tree.load()
