"""Atomic file writes: written under a temporary name beside the target and renamed, so no half file is left."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


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
