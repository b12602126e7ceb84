"""Read published pandas pickles safely: xz-compressed, and only the exact classes and functions that a pandas
DataFrame of numbers needs may be built.

A pickle can run arbitrary code when loaded. The registry's sha256 pins each file; beyond that, this unpickler
resolves only the (module, name) pairs in :data:`ALLOWED`, exactly: no module prefixes (``numpy.`` alone admits
``numpy.testing._private.utils.runstring``, which calls ``exec``), no dotted names (protocol 4 resolves
``pandas.io.common`` + ``os.system`` through attributes), no ``builtins.getattr``. The list is what Porian et al.'s
four pickles use (numpy 1.x wrote them; numpy 2.x's ``numpy._core`` names are the same objects).
"""

from __future__ import annotations

import lzma
import pickle
from pathlib import Path

from bayes_scaling.data.errors import DataError

#: Every global a published pickle may name: module -> names.
ALLOWED: dict[str, frozenset[str]] = {
    "builtins": frozenset({"slice"}),
    "numpy": frozenset({"dtype", "ndarray"}),
    "numpy._core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy._core.numeric": frozenset({"_frombuffer"}),
    "pandas._libs.internals": frozenset({"_unpickle_block"}),
    "pandas.core.frame": frozenset({"DataFrame"}),
    "pandas.core.series": frozenset({"Series"}),
    "pandas.core.indexes.base": frozenset({"Index", "_new_Index"}),
    "pandas.core.indexes.range": frozenset({"RangeIndex"}),
    "pandas.core.internals.managers": frozenset({"BlockManager", "SingleBlockManager"}),
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the exact globals in :data:`ALLOWED`."""

    def find_class(self, module: str, name: str):
        if module == "numpy.core" or module.startswith("numpy.core."):  # numpy 1.x's name, deprecated in 2.x
            module = "numpy._core" + module[len("numpy.core"):]
        if name in ALLOWED.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not one of the pandas and numpy globals a "
                                     "published table needs")


def read_pickle_xz(path: str | Path, source: str | None = None):
    """Load an xz-compressed pickle with :class:`RestrictedUnpickler`; failures become a :class:`DataError`."""
    label = source or str(path)
    try:
        with lzma.open(path, "rb") as handle:
            return RestrictedUnpickler(handle).load()
    except pickle.UnpicklingError as err:
        raise DataError(label, str(err), "use the file pinned in the registry (its sha256 is checked)") from None
    except (lzma.LZMAError, EOFError) as err:
        raise DataError(label, f"not an xz-compressed pickle ({err})", "re-download the file") from None
