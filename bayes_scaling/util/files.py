"""Atomic file writes: written under a temporary name beside the target and renamed, so no half file is left."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

#: A temporary file of :func:`atomic_write` older than this (seconds) was left by a killed process: removed.
STALE_SECONDS = 600.0


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, flush it to disk, then rename it over ``path`` (and
    flush the folder), so ``path`` holds the old or the new contents after any crash. Temporary files that a killed
    process left beside ``path`` are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; the output is an ordinary file
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def remove_stale_temporaries(path: Path, older_than: float = STALE_SECONDS) -> None:
    """Remove ``.<name>.*.tmp`` files beside ``path`` older than ``older_than`` seconds (a kill's leftovers)."""
    now = time.time()
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            if now - leftover.stat().st_mtime > older_than:
                leftover.unlink()


def _fsync(path: str | Path) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if Path(path).is_dir() else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return  # a folder that cannot be opened for syncing (some file systems): the rename still happened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive_lock(folder: str | Path, what: str):
    """Hold an exclusive lock on ``folder/.lock`` while the block runs; if another process holds it, raise
    ``ValueError`` at once (two reports writing one folder would race)."""
    import fcntl

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"{folder}: another {what} is writing here now; wait for it to finish or choose "
                             "another --out") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write text atomically (UTF-8)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def check_output_folder(path: str | Path) -> Path:
    """Check, before any work, that ``path`` is or can become a writable folder: not an existing file, every new
    name short enough for the file system, and the nearest existing folder writable. Returns the path; raises
    ``ValueError`` with the fix."""
    path = Path(path)
    for part in path.parts:
        if len(os.fsencode(part)) > 255:
            raise ValueError(f"--out {path}: the name {part[:40]!r}... is longer than file systems allow (255 "
                             "bytes); choose a shorter folder name")
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path}: is an existing file, not a folder; name a folder (it is created if needed)")
    existing = path
    while not existing.exists():
        if len(os.fsencode(existing.name)) > _name_max(existing.parent):
            raise ValueError(f"--out {path}: the name {existing.name[:40]!r}... is longer than the file system allows "
                             f"({_name_max(existing.parent)} bytes); choose a shorter folder name")
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"--out {path}: {existing} is a file, so the folder cannot be created; choose another path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {path}: {existing} is not writable; choose a folder you can write to")
    return path


def _name_max(folder: Path) -> int:
    while not folder.exists():
        folder = folder.parent
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError) as err:
        if getattr(err, "errno", None) not in (None, errno.EINVAL):
            raise
        return 255
