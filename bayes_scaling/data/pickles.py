"""Read published pandas pickles safely: xz-compressed, and only pandas, numpy and builtin classes may be built.

A pickle can run arbitrary code when loaded; the registry's sha256 pins the file, and this unpickler refuses any
global outside an allow-list of module prefixes, so a tampered or unexpected file fails instead of executing.
"""

from __future__ import annotations

import lzma
import pickle
from pathlib import Path

from bayes_scaling.data.errors import DataError

ALLOWED_PREFIXES = ("pandas.", "numpy.", "numpy")
ALLOWED_BUILTINS = {
    ("builtins", name) for name in ("dict", "list", "tuple", "set", "frozenset", "slice", "range", "complex",
                                    "object", "bytearray", "int", "float", "str", "bool", "getattr")
} | {("copyreg", "_reconstructor"), ("_codecs", "encode"), ("collections", "OrderedDict"), ("datetime", "datetime")}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that builds only pandas, numpy and plain builtin objects."""

    def find_class(self, module: str, name: str):
        if module == "numpy.core" or module.startswith("numpy.core."):  # numpy 1.x's name, deprecated in 2.x
            module = "numpy._core" + module[len("numpy.core"):]
        if module.startswith(ALLOWED_PREFIXES) or (module, name) in ALLOWED_BUILTINS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only pandas, numpy and builtins are allowed")


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
