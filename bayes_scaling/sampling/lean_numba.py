"""Lean C entry points for nutpie's numba backend: the same log density, a fraction of the compile time.

nutpie wraps PyTensor's compiled log density and its expansion in two numba ``cfunc`` s. Its wrappers assign
whole arrays (``out[...] = grad``), test ``np.all(np.isfinite(out))`` and read shared data through a generic
``literal_unroll`` extraction; numba types and lowers those overloads from scratch in every process, which took
about 8 of the 10 s that compiling the Chinchilla model cost. PyTensor's own functions are cached on disk, so
they load in well under a second.

:func:`lean_wrappers` swaps in wrappers with the same C signatures and return codes that copy element by element
and read each float64 shared array straight from nutpie's user-data record (pointer and shape). The log
density, its gradient and therefore every draw are unchanged (``tests/test_lean_numba.py`` checks both). A model
with a shared array of another rank or dtype, or a nutpie whose private factories changed signature, is compiled
by nutpie's own wrappers, as it always was. (Until session 16 only 1-d arrays were read, so a model with the
discrepancy GP inside, whose basis is a 2-d array, fell back to nutpie's wrappers: 11.5 s of compiling.) The
lean entry points are themselves cached on disk beside PyTensor's functions (:func:`_entry_point`).

Tested against nutpie 0.16 (``pyproject.toml`` pins ``>=0.16,<0.17``). What a newer nutpie could break: the names
and parameters of ``nutpie.compile_pymc._make_c_logp_func`` and ``_make_c_expand_func`` (checked here: a mismatch
falls back to nutpie's wrappers, slower to compile, same draws), and the layout of the user-data record the lean
wrappers read shared arrays from (not checked at run time: ``tests/test_lean_numba.py`` compares density, gradient
and draws with nutpie's own wrappers and fails if it changed). Raise the pin only after those tests pass.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import threading

import numpy as np

from bayes_scaling.sampling.nutpie_import import import_nutpie

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
#: nutpie's own factories while :func:`lean_wrappers` has swapped them out (for models the lean path cannot take).
_NUTPIE: dict[str, object] = {}
#: The parameters nutpie's private wrapper factories had when these replacements were written (nutpie 0.16).
_LOGP_PARAMETERS = ("n_dim", "logp_fn", "user_data", "shared_keys", "shared_data")
_EXPAND_PARAMETERS = ("n_dim", "n_expanded", "expand_fn", "user_data", "shared_var_keys", "shared_data")


@contextlib.contextmanager
def lean_wrappers():
    """Within the block, ``nutpie.compile_pymc_model(..., backend="numba")`` builds the lean wrappers."""
    import_nutpie()
    import nutpie.compile_pymc as nutpie_pymc

    original = (getattr(nutpie_pymc, "_make_c_logp_func", None), getattr(nutpie_pymc, "_make_c_expand_func", None))
    if not _matches(original[0], _LOGP_PARAMETERS) or not _matches(original[1], _EXPAND_PARAMETERS):
        log.warning("nutpie's wrapper factories changed; compiling with nutpie's own (slower) wrappers")
        yield
        return
    with _LOCK:
        _NUTPIE.update(logp=original[0], expand=original[1])
        nutpie_pymc._make_c_logp_func, nutpie_pymc._make_c_expand_func = make_logp_wrapper, make_expand_wrapper
        try:
            yield
        finally:
            nutpie_pymc._make_c_logp_func, nutpie_pymc._make_c_expand_func = original
            _NUTPIE.clear()


def _matches(function, parameters: tuple[str, ...]) -> bool:
    return function is not None and tuple(inspect.signature(function).parameters) == parameters


def make_logp_wrapper(n_dim, logp_fn, user_data, shared_keys, shared_data):
    """``int64 logp(dim, x*, grad_out*, logp_out*, user_data*)``: 0 ok, 1 error, 3 non-finite gradient, 4
    non-finite log density, -1 wrong dimension (nutpie's codes)."""
    if not _simple(shared_data, shared_keys):
        return _NUTPIE["logp"](n_dim, logp_fn, user_data, shared_keys, shared_data)
    return _entry_point(_logp, _logp_trampoline, _logp_signature(), logp_fn, user_data, shared_keys,
                        {"n_dim": n_dim})


def make_expand_wrapper(n_dim, n_expanded, expand_fn, user_data, shared_var_keys, shared_data):
    """``int64 expand(dim, expanded, x*, out*, user_data*)``: 0 ok, -1 wrong size, -2 error (nutpie's codes)."""
    if not _simple(shared_data, shared_var_keys):
        return _NUTPIE["expand"](n_dim, n_expanded, expand_fn, user_data, shared_var_keys, shared_data)
    return _entry_point(_expand, _expand_trampoline, _expand_signature(), expand_fn, user_data, shared_var_keys,
                        {"n_dim": n_dim, "n_expanded": n_expanded})


def _logp_signature():
    from numba import types

    return types.int64(types.uint64, types.CPointer(types.double), types.CPointer(types.double),
                       types.CPointer(types.double), types.voidptr)


def _expand_signature():
    from numba import types

    return types.int64(types.uint64, types.uint64, types.CPointer(types.double), types.CPointer(types.double),
                       types.voidptr)


# The two entry points' bodies. Each model's constants (``n_dim``, ``n_expanded``) and its ``extract`` are
# globals of a copy of these functions (no closure), so that numba can cache the compiled copy under a key that
# names all of them (:func:`_entry_point`).
def _logp(dim, x_, grad_, logp_, user_data_):
    if dim != n_dim:  # noqa: F821 (a global of each model's copy)
        return -1
    try:
        value, grad = extract(carray(x_, (n_dim,)), user_data_)  # noqa: F821
    except Exception:  # nutpie's contract: report a failure by its code
        return 1
    scalar = value[()]
    logp_[0] = scalar
    finite = True
    for i in range(n_dim):  # noqa: F821
        grad_[i] = grad[i]
        finite = finite and isfinite(grad[i])  # noqa: F821
    if not finite:
        return 3
    if not isfinite(scalar):  # noqa: F821
        return 4
    return 0


def _expand(dim, expanded, x_, out_, user_data_):
    if dim != n_dim or expanded != n_expanded:  # noqa: F821
        return -1
    try:
        (values,) = extract(carray(x_, (n_dim,)), user_data_)  # noqa: F821
    except Exception:
        return -2
    for i in range(n_expanded):  # noqa: F821
        out_[i] = values[i]
    return 0


def _logp_trampoline(dim, x_, grad_, logp_, user_data_):
    return target(dim, x_, grad_, logp_, user_data_)  # noqa: F821 (the cached entry point's C function)


def _expand_trampoline(dim, expanded, x_, out_, user_data_):
    return target(dim, expanded, x_, out_, user_data_)  # noqa: F821


def _entry_point(body, trampoline, signature, function, user_data, keys, constants: dict):
    """The entry point nutpie compiles, as ``(python function, C signature)``.

    Where PyTensor has a disk-cache key for ``function`` (its compiled log density or expansion), the entry point
    is compiled here with numba's cache, in PyTensor's numba cache directory, under a key of PyTensor's key, this
    module's source, the shared arrays' layout and the constants; a later process with the same model loads it
    instead of compiling it (about 0.5 CPU s a fit, measured). nutpie then compiles only a trampoline that calls it
    (tens of milliseconds). Without a key (an Op PyTensor does not cache) the body itself is handed to nutpie,
    compiled in every process as before. Either way the same machine code computes the density, so the draws are
    the same.
    """
    import math
    import types

    import numba

    extract, extraction_source = _extraction(function, user_data, keys)
    # ``__name__``: numba rebuilds a cached function's environment from the module it names.
    namespace = {"__name__": __name__, "extract": extract, "carray": numba.carray, "isfinite": math.isfinite,
                 **constants}
    name = body.__name__.lstrip("_")
    entry = types.FunctionType(body.__code__, namespace, name)
    key = _cache_key(function, name, extraction_source, constants, signature)
    if key is None:
        return entry, signature
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    CACHED_SRC_FUNCTIONS[entry] = key
    compiled = numba.cfunc(signature, cache=True)(entry)
    log.debug("%s entry point %s (key %s)", name, "loaded from cache" if compiled.cache_hits else "compiled", key)
    namespace = {"__name__": __name__, "target": compiled.ctypes, "entry": compiled}
    return types.FunctionType(trampoline.__code__, namespace, name), signature


def _cache_key(function, name: str, extraction_source: str, constants: dict, signature) -> str | None:
    """The disk-cache key of an entry point, or None where it cannot be cached safely: PyTensor's cache is off (its
    locator would then not apply, and numba's own would key the entry point by its bytecode alone), or PyTensor
    has no key for the function it calls."""
    import hashlib

    import pytensor
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    inner = CACHED_SRC_FUNCTIONS.get(getattr(function, "py_func", None))
    if not pytensor.config.numba__cache or inner is None:
        return None
    parts = [_module_digest(), inner, name, extraction_source, repr(sorted(constants.items())), str(signature)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@functools.cache
def _module_digest() -> str:
    """This module's source (the entry points' bodies and the extraction's generator), hashed once a process."""
    import hashlib
    from pathlib import Path

    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _simple(shared_data, keys) -> bool:
    """Whether every shared array is C-contiguous float64 of rank 1 or more (what :func:`_extraction` reads)."""
    return all(shared_data[k].ndim >= 1 and shared_data[k].dtype == np.float64
               and shared_data[k].flags.c_contiguous for k in keys)


def _extraction(function, user_data, keys):
    """A jitted ``extract(x, user_data_ptr) -> function(x, *shared arrays)`` that reads each float64 array's pointer
    and shape from nutpie's user-data record (``shared.data.<key>``, ``shared.shape.<key>``: one word per axis),
    and its source."""
    import numba

    keys = list(keys)
    if not keys:
        return numba.njit(inline="always")(lambda x, user_data_: function(x)), "no shared arrays"
    record = user_data.dtype["shared"]
    base = user_data.dtype.fields["shared"][1]
    offsets = {field: base + record.fields[field][1] for field in ("data", "shape")}
    lines = ["def extract(x, user_data_):", "    words = carray(user_data_, (n_words,), np.uint64)"]
    for i, key in enumerate(keys):
        pointer = (offsets["data"] + record["data"].fields[key][1]) // 8
        first = (offsets["shape"] + record["shape"].fields[key][1]) // 8
        rank = record["shape"].fields[key][0].shape[0]
        shape = "".join(f"int(words[{first + axis}]), " for axis in range(rank))
        lines.append(f"    a{i} = carray(as_pointer(words[{pointer}]), ({shape}), np.float64)")
    arrays = ", ".join(f"a{i}" for i in range(len(keys)))
    lines.append(f"    return inner(x, {arrays})")
    namespace = {"carray": numba.carray, "np": np, "as_pointer": _as_pointer(), "inner": function,
                 "n_words": user_data.dtype.itemsize // 8}
    exec("\n".join(lines), namespace)  # generated: the number and ranks of shared arrays are only known per model
    return numba.njit(inline="always")(namespace["extract"]), "\n".join(lines)


_POINTER = None


def _as_pointer():
    """numba intrinsic: an integer address as ``void*``."""
    global _POINTER
    if _POINTER is None:
        from numba import types
        from numba.core import cgutils
        from numba.extending import intrinsic

        @intrinsic
        def as_pointer(typingctx, address):
            def codegen(context, builder, signature, args):
                return builder.inttoptr(args[0], cgutils.voidptr_t)

            return types.voidptr(address), codegen

        _POINTER = as_pointer
    return _POINTER
