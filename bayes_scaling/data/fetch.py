"""Find a registered dataset's file: $BAYES_SCALING_DATA, then the cache, then a verified download."""

from __future__ import annotations

import hashlib
import logging
import os
import time
import urllib.request
from pathlib import Path

from bayes_scaling.data.errors import ChecksumMismatch, DataNotFound
from bayes_scaling.data.registry import DatasetEntry

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


#: A download must finish within this many seconds in all (a server that trickles bytes cannot hang a fit), and
#: each read within :data:`READ_TIMEOUT`.
DOWNLOAD_DEADLINE = 600.0
READ_TIMEOUT = 60.0


def deadline_downloader(deadline: float, read_timeout: float = READ_TIMEOUT):
    """A pooch downloader that streams with the standard library and gives up once ``deadline`` seconds have passed
    in all (pooch's own downloaders bound each socket read only)."""
    def download(url: str, output_file, _pooch=None) -> None:
        start = time.monotonic()
        with urllib.request.urlopen(url, timeout=read_timeout) as response, open(output_file, "wb") as out:
            while block := response.read1(1 << 16):
                out.write(block)
                if time.monotonic() - start > deadline:
                    raise TimeoutError(f"the download took longer than {deadline:g} s in all")
    return download


def clean_partial_downloads(folder: Path, older_than: float | None = None) -> None:
    """Remove what a killed download left in our cache folder: pooch's temporary ``tmp*`` files, once they are older
    than a download may take (so a download in progress elsewhere is left alone)."""
    if not folder.is_dir():
        return
    older_than = DOWNLOAD_DEADLINE if older_than is None else older_than
    for path in folder.glob("tmp*"):
        try:
            if path.is_file() and time.time() - path.stat().st_mtime > older_than:
                path.unlink()
                log.info("removed %s, left by an interrupted download", path)
        except OSError:
            continue


def _download(entry: DatasetEntry, target: Path) -> None:
    """Download ``entry`` to ``target`` with pooch: a temporary file, its sha256 checked, then moved into place."""
    import pooch  # only when a download is needed

    clean_partial_downloads(target.parent)
    log.info("downloading %s from %s", entry.name, entry.url)
    try:
        pooch.retrieve(entry.url, known_hash=f"sha256:{entry.sha256}", fname=target.name, path=target.parent,
                       downloader=deadline_downloader(DOWNLOAD_DEADLINE), progressbar=False)
    except ValueError as err:  # pooch's hash mismatch
        raise ChecksumMismatch(
            entry.url, f"the downloaded file does not match the registry's sha256 for dataset {entry.name!r} ({err})",
            f"check the registry entry (commit {entry.commit}); nothing was written to the cache",
        ) from None


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
        except (OSError, TimeoutError) as err:
            reason = f"download failed ({err})"
    else:
        reason = "downloads are switched off"
    raise DataNotFound(
        entry.name,
        f"dataset file {entry.file} is not in ${DATA_ENV} ({data_root or 'unset'}) nor in the cache "
        f"({cache_dir()}), and {reason}",
        f"set {DATA_ENV} to a folder holding {entry.file}, or download {entry.url} to {cached}",
    )
