"""Progress of long work with an estimate of the time left: ``3/12 splits scored (41 s; about 2 min left)``."""

from __future__ import annotations

import time
from collections.abc import Callable


def duration(seconds: float) -> str:
    """``41 s``, ``2.5 min`` or ``1.2 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class Eta:
    """A ``progress(done, total)`` callback that tells ``say`` what is done, the time so far and, from the mean time
    of a task, about how long the rest will take."""

    def __init__(self, say: Callable[[str], None], what: str):
        self.say, self.what, self.start = say, what, time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        elapsed = time.perf_counter() - self.start
        left = f"; about {duration(elapsed / done * (total - done))} left" if 0 < done < total else ""
        self.say(f"  {done}/{total} {self.what} ({duration(elapsed)}{left})")
