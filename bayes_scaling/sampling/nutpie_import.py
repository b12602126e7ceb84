"""Import nutpie without the plotting stack it does not use here.

nutpie 0.16's ``sample`` module imports the ``arviz`` meta-package at module level, for converting a trace to
ArviZ's data structures. That import pulls ``arviz_plots`` and through it ``matplotlib.pyplot``, and
``arviz_stats``' LOO (about 1 CPU s in every process that samples). bayes_scaling reads nutpie's raw trace itself
(:mod:`~bayes_scaling.sampling.arrow_trace`) and never calls that conversion, so :func:`import_nutpie` puts a
stand-in module under the name ``arviz`` before importing nutpie: the import statement resolves, and the real
package is imported, and takes the stand-in's place, the first time any attribute of it is used (by nutpie's
conversion, or by a user's own code in the same process). Where ``arviz`` or nutpie is already imported nothing
changes. (:class:`importlib.util.LazyLoader` does not do: an ``import`` statement reads the lazy module's
``__spec__``, which loads it.)
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import threading
import types

log = logging.getLogger(__name__)

_LOCK = threading.RLock()
#: Imported by nutpie at module level but used only in code paths bayes_scaling does not take.
DEFERRED = ("arviz",)


def import_nutpie():
    """The ``nutpie`` module, imported with :data:`DEFERRED` standing in until first used."""
    with _LOCK:
        if "nutpie" not in sys.modules:
            for name in DEFERRED:
                _defer(name)
        import nutpie
    return nutpie


class _StandIn(types.ModuleType):
    """A module that imports the real one on the first attribute it does not have, and forwards to it."""

    def __getattr__(self, attribute: str):
        with _LOCK:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)
        log.debug("%s imported on first use (%s)", self.__name__, attribute)
        return getattr(real, attribute)


def _defer(name: str) -> None:
    """Register a :class:`_StandIn` for ``name`` unless it is imported already or not installed."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None:
        return
    stand_in = _StandIn(name)
    # what introspection reads without using the module (``inspect.getmodule`` asks every module in sys.modules
    # for ``__file__``; ``arviz_base``'s import runs it for its optional backends) answered here, so that it does
    # not import the real package halfway through another import
    stand_in.__spec__, stand_in.__loader__, stand_in.__file__ = spec, spec.loader, spec.origin
    stand_in.__package__ = spec.parent
    if spec.submodule_search_locations is not None:
        stand_in.__path__ = list(spec.submodule_search_locations)
    sys.modules[name] = stand_in
