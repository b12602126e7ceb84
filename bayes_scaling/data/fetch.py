"""Find a registered dataset's file: $BAYES_SCALING_DATA, then the cache, then a verified download."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
from pathlib import Path

from bayes_scaling.data.errors import ChecksumMismatch, DataNotFound
from bayes_scaling.data.registry import DatasetEntry
from bayes_scaling.util.files import atomic_write

log = logging.getLogger(__name__)

DATA_ENV = "BAYES_SCALING_DATA"
CACHE_ENV = "BAYES_SCALING_CACHE"


def cache_dir() -> Path:
    """``$BAYES_SCALING_CACHE``, else ``$XDG_CACHE_HOME/bayes_scaling``, else ``~/.cache/bayes_scaling``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bayes_scaling"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(entry: DatasetEntry, path: Path) -> Path:
    actual = sha256_of(path)
    if actual != entry.sha256:
        raise ChecksumMismatch(
            str(path),
            f"sha256 {actual} differs from the registry's {entry.sha256} for dataset {entry.name!r}",
            f"replace the file with the one at {entry.url} (commit {entry.commit}), or delete it to re-download",
        )
    return path


def _download(entry: DatasetEntry, target: Path, timeout: float = 60.0) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s from %s", entry.name, entry.url)

    def download_and_verify(tmp: Path) -> None:
        with open(tmp, "wb") as out, urllib.request.urlopen(entry.url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
        _verified(entry, tmp)

    atomic_write(target, download_and_verify)


def resolve(entry: DatasetEntry, *, download: bool = True) -> Path:
    """Path of the dataset's file after checking its sha256.

    Looks in ``$BAYES_SCALING_DATA/<file>``, then ``cache_dir()/<file>``, then downloads ``entry.url`` into the cache
    (written under a temporary name and renamed only once verified). A file with the wrong checksum is refused.
    """
    data_root = os.environ.get(DATA_ENV)
    if data_root:
        candidate = Path(data_root) / entry.file
        if candidate.is_file():
            return _verified(entry, candidate)
        log.warning("%s is set to %s but %s is not there", DATA_ENV, data_root, entry.file)
    cached = cache_dir() / entry.file
    if cached.is_file():
        return _verified(entry, cached)
    if download:
        try:
            _download(entry, cached)
            return cached
        except ChecksumMismatch:
            raise
        except OSError as err:
            reason = f"download failed ({err})"
    else:
        reason = "downloads are switched off"
    raise DataNotFound(
        entry.name,
        f"dataset file {entry.file} is not in ${DATA_ENV} ({data_root or 'unset'}) nor in the cache "
        f"({cache_dir()}), and {reason}",
        f"set {DATA_ENV} to a folder holding {entry.file}, or download {entry.url} to {cached}",
    )
