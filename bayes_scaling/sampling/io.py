"""Write and read fits: NetCDF (h5netcdf), written atomically (:mod:`bayes_scaling.util.files`), with a checksum of
the contents that is verified on load, so a corrupt or altered file is refused instead of changing the numbers."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import h5py
import numpy as np
import xarray as xr

from bayes_scaling.util.files import atomic_write

POSTERIOR_FILE = "posterior.nc"
#: Every variable is written deflated (lossless; the checksum is of the values, so it holds either way).
COMPRESSION = {"zlib": True, "complevel": 4, "shuffle": True}
#: Root attribute holding the sha256 of the file's contents (:func:`content_digest`).
CHECKSUM_ATTR = "content_sha256"


class CorruptFitError(ValueError):
    """A fit file that cannot be read, or whose contents no longer match their checksum."""


def _canonical(value) -> object:
    if isinstance(value, str):
        return value
    array = np.asarray(value)
    return array.tolist() if array.ndim else array.item()


def content_digest(tree: xr.DataTree) -> str:
    """sha256 over every group's variables and coordinates (names, dtypes, shapes, bytes) and the attributes
    (except the checksum itself), in a fixed order."""
    digest = hashlib.sha256()
    for node in sorted(tree.subtree, key=lambda n: n.path):
        digest.update(node.path.encode() + b"\0")
        attrs = {k: _canonical(v) for k, v in node.attrs.items() if k != CHECKSUM_ATTR}
        digest.update(json.dumps(attrs, sort_keys=True, default=str).encode())
        dataset = node.to_dataset(inherit=False)
        for name in sorted(map(str, dataset.variables)):
            values = np.ascontiguousarray(dataset[name].values)
            digest.update(f"{name}|{values.dtype.str}|{values.shape}".encode())
            digest.update(values.tobytes() if values.dtype.kind not in "OUS" else repr(values.tolist()).encode())
    return digest.hexdigest()


def save_tree(tree: xr.DataTree, path: str | Path) -> Path:
    """Save a fit's DataTree to NetCDF atomically, with its content checksum."""
    tree.attrs[CHECKSUM_ATTR] = content_digest(tree)
    encoding = {node.path: {name: COMPRESSION for name in node.to_dataset(inherit=False).data_vars}
                for node in tree.subtree if node.has_data}
    return atomic_write(path, lambda tmp: tree.to_netcdf(tmp, engine="h5netcdf", encoding=encoding))


def read_attrs(path: str | Path) -> dict:
    """A fit file's root attributes alone (a fraction of a second less than reading its groups), as
    :func:`load_tree` gives them: one-element arrays as scalars, without netCDF's own bookkeeping. Raises
    :class:`OSError` for a file that is not HDF5."""
    with h5py.File(Path(path), "r") as handle:
        raw = dict(handle.attrs)
    out = {}
    for name, value in raw.items():
        if name.startswith("_NC"):
            continue
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.reshape(()).item()
        elif isinstance(value, bytes):
            value = value.decode()
        out[name] = value
    return out


def load_tree(path: str | Path) -> xr.DataTree:
    """Read a fit file (or a folder holding ``posterior.nc``) fully into memory; a file that is not a readable fit,
    or whose contents do not match their checksum, raises :class:`CorruptFitError`."""
    path = Path(path)
    if path.is_dir():
        path = path / POSTERIOR_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no fit here; run `bayes-scaling fit` first")
    if not os.access(path, os.R_OK):
        raise CorruptFitError(f"{path}: cannot be read (permission denied); make it readable")
    try:
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            tree = tree.load()
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CorruptFitError(f"{path}: not a readable fit file ({type(err).__name__}: {err}); fit again with "
                              "`bayes-scaling fit`") from None
    stored = tree.attrs.get(CHECKSUM_ATTR)
    if stored is not None and stored != content_digest(tree):
        raise CorruptFitError(f"{path}: its contents do not match their checksum (the file was changed or damaged "
                              "after it was written); fit again with `bayes-scaling fit`")
    return tree
