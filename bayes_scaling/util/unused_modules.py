"""Keep a command's own process from importing libraries it never uses.

Before every netCDF write xarray asks dask for its scheduler, and to tell whether that is a distributed one it
imports dask's ``distributed`` (about 0.2 CPU s, a tenth of all a fit's imports); and the first time it wraps an
array in a variable it imports ``dask.array`` to ask whether the array is a dask one (about 0.25 CPU s). ``fit``,
``plan``, ``score``, ``stack``, ``suggest`` and ``crossover`` never start a cluster or make a dask array (issue 19:
no distributed in those commands unless asked).

:func:`hide` marks modules as not installed for the rest of the process: ``sys.modules[name] = None``, so an
``import`` raises :class:`ModuleNotFoundError`, which xarray takes as "no distributed scheduler" and "no dask
arrays" (no array can be a dask array where ``dask.array`` was never imported). It is meant for a command's own
process (the ``bayes-scaling`` entry point), never for a library caller's interpreter, where a later use must keep
working. dask itself is not hidden: xarray records whether it is installed when xarray is imported (before any
command runs) and imports ``dask.base`` (0.1 CPU s) to test each new variable for dask collections, so hiding it
afterwards would break xarray instead.
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)

#: Imported through xarray when installed: ``distributed`` used here only by ``calibrate``, ``sbc`` and ``report``
#: (Dask workers), ``dask.array`` never.
UNUSED = ("distributed", "dask.array")


def hide(names: tuple[str, ...] = UNUSED) -> list[str]:
    """Mark each of ``names`` not yet imported as unavailable in this process; the names it marked."""
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None
    log.debug("hidden for this process: %s", ", ".join(hidden) or "none")
    return hidden
