"""Write and read fits: NetCDF (h5netcdf) written under a temporary name and renamed, so no half file is left."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import xarray as xr

POSTERIOR_FILE = "posterior.nc"


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; the output is an ordinary file
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write text atomically (UTF-8)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


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
