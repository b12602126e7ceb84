"""PyTensor's graph rewrites, done once per machine: the rewritten graph of each compiled function is kept on disk,
keyed by the structure of the graph before rewriting.

Compiling a model for nutpie spent about half its time (0.8 of 1.8 CPU s for Chinchilla's law) rewriting
the log density, its gradient and the expansion of the draws, in every process: PyTensor caches compiled code on
disk, not rewritten graphs. Within :func:`cached_rewrites`, PyTensor's ``FunctionMaker.prepare_fgraph`` (rewrite a
function's graph, then protect its outputs with copies) and ``pytensor.graph.rewrite_graph`` (nutpie's
canonicalisation of the log density before it takes the gradient) look the graph up first:

- the **key** is the sha256 of a description of the graph before rewriting (:func:`_description`: every node in
  order with its op's class and parameters, its inputs by position or, for a constant, by type and value, its
  outputs' types; not the data held in shared variables, which are swapped in later), with the inputs' and
  outputs' specifications (which may be overwritten or aliased), the rewrites asked for, the configuration flags
  rewrites read (:data:`CONFIG_FLAGS`), the versions of PyTensor, PyMC and nutpie, and the source of any op
  defined in this package. What the description cannot render gives no key (rewritten as PyTensor does), and
  what it renders differently gives another key (a miss), never another graph's rewrites;
- a **hit** rebuilds the stored rewritten graph on this function's own inputs and puts it in place of the outputs,
  with the ``DestroyHandler`` the rewrites attach (it orders an in-place op after every reader of what it
  overwrites), and validates it;
- a **miss** rewrites as PyTensor does and stores the result, frozen
  (:meth:`~pytensor.graph.fg.FunctionGraph.freeze`, its destroy-aware order baked) and pickled, written under a
  temporary name and renamed (a concurrent process reads the whole file or none). An unreadable entry is a miss.
  Rewrites PyTensor runs inside another rewrite are not looked up: only the outermost graph is.

The rewritten graph is the same either way, so the log density and the draws are too
(``tests/test_rewrite_cache.py`` compares draws across processes with the cache cold, warm and off).
``$BAYES_SCALING_REWRITE_CACHE=0`` turns it off. Both functions are PyTensor's, one of them private
(``pyproject.toml`` pins ``pytensor<4``); where either's parameters changed, graphs are rewritten uncached.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import logging
import os
import pickle
import threading
import types
from importlib.metadata import version
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: ``$BAYES_SCALING_REWRITE_CACHE`` = ``0`` turns the cache off (every process rewrites, as PyTensor does).
SWITCH_ENV = "BAYES_SCALING_REWRITE_CACHE"
#: The folder under the package's cache directory; one subfolder per set of library versions.
FOLDER = "rewritten-graphs"
#: The parameters ``FunctionMaker.prepare_fgraph`` and ``rewrite_graph`` had when this was written (PyTensor 3.3).
_PARAMETERS = ("inputs", "outputs", "additional_outputs", "fgraph", "mode", "profile")
_REWRITE_GRAPH_PARAMETERS = ("graph", "include", "custom_rewrite", "clone", "kwargs")
_LOCK = threading.RLock()
#: PyTensor's configuration flags a rewrite reads (the whole configuration prints sets in an order that changes
#: between processes).
CONFIG_FLAGS = ("floatX", "cast_policy", "optimizer_including", "optimizer_excluding", "optimizer_requiring",
                "compute_test_value", "on_opt_error", "optdb__max_use_ratio", "cycle_detection",
                "tensor__insert_inplace_optimizer_validate_nb", "numba__fastmath", "numba__vectorize_target")
#: Hits and misses of this process, for tests and logs.
COUNTS = {"hit": 0, "miss": 0}


def cache_folder(root: Path) -> Path:
    """The cache's folder for this environment's PyTensor, PyMC and nutpie under ``root``."""
    versions = "-".join(f"{name}{version(name)}" for name in ("pytensor", "pymc", "nutpie"))
    return root / FOLDER / versions


def enabled() -> bool:
    """Whether the cache is on (``$BAYES_SCALING_REWRITE_CACHE`` is not ``0``)."""
    return os.environ.get(SWITCH_ENV, "1") != "0"


@contextlib.contextmanager
def cached_rewrites(root: Path):
    """Within the block, PyTensor functions compiled in this thread reuse rewritten graphs stored under ``root``."""
    import pytensor.graph
    from pytensor.compile.maker import FunctionMaker
    from pytensor.graph.basic import Variable
    from pytensor.graph.fg import FrozenFunctionGraph

    original = FunctionMaker.__dict__.get("prepare_fgraph")
    function = getattr(original, "__func__", None)
    rewrite_graph = pytensor.graph.rewrite_graph
    if not enabled() or function is None or tuple(inspect.signature(function).parameters) != _PARAMETERS or \
            tuple(inspect.signature(rewrite_graph).parameters) != _REWRITE_GRAPH_PARAMETERS:
        if enabled():
            log.warning("PyTensor's FunctionMaker.prepare_fgraph or rewrite_graph changed; rewriting uncached")
        yield
        return
    folder = cache_folder(root)

    def prepare_fgraph(inputs, outputs, additional_outputs, fgraph, mode, profile):
        key = None if _STATE.depth else _key(inputs, outputs, additional_outputs, fgraph, mode)
        path = None if key is None else folder / f"{key}.pkl"
        stored = None if path is None else _read(path)
        if stored is not None and _install(fgraph, stored, path):
            COUNTS["hit"] += 1
            log.debug("reused the rewritten graph %s", key[:12])
            return
        with _rewriting():
            function(inputs, outputs, additional_outputs, fgraph, mode, profile)
        if key is not None:
            COUNTS["miss"] += 1
            _store(folder / f"{key}.pkl", fgraph.freeze)
            log.debug("stored the rewritten graph %s", key[:12])

    def cached_rewrite_graph(graph, include=("canonicalize",), custom_rewrite=None, clone=False, **kwargs):
        """``pytensor.graph.rewrite_graph`` of one variable (nutpie's canonicalisation of the log density before it
        takes the gradient), through the same cache; anything else as PyTensor does it."""
        key = (_graph_key(graph, include) if isinstance(graph, Variable) and custom_rewrite is None and not kwargs
               and not _STATE.depth else None)
        if key is None:  # inside a rewrite PyTensor runs, or a call this cache does not describe
            with _rewriting():
                return rewrite_graph(graph, include, custom_rewrite, clone, **kwargs)
        inputs = _roots(graph)
        stored = _read(folder / f"{key}.pkl")
        if (stored is not None and len(stored.outputs) == 1 and len(stored.inputs) == len(inputs)
                and all(a.type == b.type for a, b in zip(stored.inputs, inputs, strict=True))):
            COUNTS["hit"] += 1
            return stored.bind(inputs)[0]
        with _rewriting():
            rewritten = rewrite_graph(graph, include, custom_rewrite, clone, **kwargs)
        COUNTS["miss"] += 1
        _store(folder / f"{key}.pkl", lambda: FrozenFunctionGraph.from_io(inputs, [rewritten]))
        return rewritten

    with _LOCK:
        FunctionMaker.prepare_fgraph = staticmethod(prepare_fgraph)
        pytensor.graph.rewrite_graph = cached_rewrite_graph
        try:
            yield
        finally:
            FunctionMaker.prepare_fgraph = original
            pytensor.graph.rewrite_graph = rewrite_graph


class _State(threading.local):
    depth = 0


#: How deep this thread is inside rewrites PyTensor runs: a rewrite that rewrites a subgraph on its way goes uncached
#: (only the outermost graph is looked up, so the rewritten graph is the same whether the cache was warm or cold).
_STATE = _State()


@contextlib.contextmanager
def _rewriting():
    _STATE.depth += 1
    try:
        yield
    finally:
        _STATE.depth -= 1


def _roots(graph) -> list:
    """The variables ``graph`` is computed from (its inputs, shared variables among them), constants aside."""
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import graph_inputs

    return [variable for variable in graph_inputs([graph]) if not isinstance(variable, Constant)]


def _graph_key(graph, include) -> str | None:
    """The key of ``rewrite_graph(graph, include)``: the graph frozen over its roots, the rewrites asked for, and
    what :func:`_key` also holds (configuration, versions, this package's ops)."""
    from pytensor.graph.fg import FrozenFunctionGraph

    try:
        frozen = FrozenFunctionGraph.from_io(_roots(graph), [graph])
        digest = hashlib.sha256(_description(frozen))
    except Exception as err:  # a graph this cannot describe is rewritten uncached
        log.debug("not caching the rewrites of a graph: %s", err)
        return None
    digest.update(repr({"rewrite_graph": sorted(include), **_environment(frozen)}).encode())
    return digest.hexdigest()


def _key(inputs, outputs, additional_outputs, fgraph, mode) -> str | None:
    """The sha256 naming everything the rewritten graph depends on, or None where the graph cannot be frozen or the
    mode's rewrites are not a query of PyTensor's rewrite database."""
    from pytensor.graph.rewriting.db import RewriteDatabaseQuery

    query = getattr(mode, "provided_optimizer", None)
    if (not isinstance(query, RewriteDatabaseQuery) or query.subquery or query.extra_rewrites
            or fgraph.update_mapping):
        return None
    try:
        frozen = fgraph.freeze()
        digest = hashlib.sha256(_description(frozen))
    except Exception as err:  # a graph this cannot describe is rewritten uncached
        log.debug("not caching the rewrites of a graph: %s", err)
        return None
    described = {
        "inputs": [(spec.mutable, spec.borrow, spec.update is None, spec.implicit) for spec in inputs],
        "outputs": [spec.borrow for spec in [*outputs, *additional_outputs]],
        "rewrites": [sorted(query.include), sorted(query.require), sorted(query.exclude), query.position_cutoff,
                     type(mode.linker).__qualname__],
        **_environment(frozen),
    }
    digest.update(repr(described).encode())
    return digest.hexdigest()


def _environment(frozen) -> dict:
    """What any rewrite may read besides the graph: PyTensor's flags, the libraries' versions, and the source of any
    op of this package in ``frozen`` (its shape or gradient may take part in a rewrite)."""
    import pytensor

    return {"config": [(flag, repr(getattr(pytensor.config, flag, None))) for flag in CONFIG_FLAGS],
            "versions": [version(name) for name in ("pytensor", "pymc", "nutpie")],
            "own_ops": sorted({_source_digest(type(node.op)) for node in frozen.toposort()
                               if type(node.op).__module__.startswith("bayes_scaling")})}


def _description(frozen) -> bytes:
    """A description of the frozen graph that is the same for the same computation in any process: each node in
    order as its op (class and parameters), its inputs (a graph input by position, an earlier node's output by
    position, a constant by type and value) and its outputs' types. Pickling the graph itself does not do: pickle
    records which objects are shared (an op reused by many nodes, an interned string), which differs between a
    graph built afresh and one rebuilt from the cache. Raises ValueError for what it cannot describe."""
    refs = {variable: ("input", i, _type(variable.type)) for i, variable in enumerate(frozen.inputs)}

    def ref(variable):
        return refs[variable] if variable in refs else _constant(variable)

    nodes = []
    for j, node in enumerate(frozen.toposort()):
        nodes.append((_op(node.op), tuple(ref(variable) for variable in node.inputs),
                      tuple(_type(variable.type) for variable in node.outputs)))
        refs.update({variable: ("node", j, k) for k, variable in enumerate(node.outputs)})
    return repr((nodes, tuple(ref(variable) for variable in frozen.outputs))).encode()


def _constant(variable):
    """A constant by its class, type and value (not its name: PyTensor numbers constants ``auto_<n>`` by how many
    variables the process created before them)."""
    from pytensor.graph.basic import Constant

    if not isinstance(variable, Constant):
        raise ValueError(f"{variable} is neither an input, a constant nor computed in the graph")
    return ("constant", type(variable).__qualname__, _type(variable.type), _value(variable.data))


def _type(type_) -> str:
    """A type by its class and its repr (by its attributes where its repr is the default one, with an address)."""
    text = repr(type_)
    if " at 0x" in text:
        text = repr(_value(vars(type_)))
    return f"{type(type_).__module__}.{type(type_).__qualname__}:{text}"


def _op(op):
    """An op as PyTensor compares ops: its class and its ``__props__`` (its attributes where it declares none)."""
    props = getattr(op, "__props__", None)
    values = {name: getattr(op, name) for name in props} if props is not None else vars(op)
    return (f"{type(op).__module__}.{type(op).__qualname__}", _value(values))


def _value(value, depth: int = 0):
    """A stable description of an op's parameter or a constant's data, without object identities."""
    from pytensor.graph.basic import Variable
    from pytensor.graph.fg import AbstractFunctionGraph
    from pytensor.graph.op import Op
    from pytensor.graph.type import Type

    if depth > 12:
        raise ValueError("parameters nested too deep to describe")
    if value is None or isinstance(value, bool | int | float | complex | str | bytes):
        return (type(value).__name__, repr(value))
    if isinstance(value, np.ndarray | np.generic):
        array = np.asarray(value)
        return ("array", array.dtype.str, array.shape, hashlib.sha256(array.tobytes()).hexdigest())
    if isinstance(value, tuple | list):
        return (type(value).__name__, tuple(_value(item, depth + 1) for item in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((repr(_value(k, depth + 1)), _value(v, depth + 1)) for k, v in value.items())))
    if isinstance(value, set | frozenset):
        return ("set", tuple(sorted(repr(_value(item, depth + 1)) for item in value)))
    if isinstance(value, slice):
        return ("slice", _value((value.start, value.stop, value.step), depth + 1))
    if isinstance(value, Op):
        return _op(value)
    if isinstance(value, Type):
        return ("type", _type(value))
    if isinstance(value, AbstractFunctionGraph):  # an op's inner graph (a fused Composite)
        return ("graph", _description(value.freeze() if hasattr(value, "freeze") else value).decode())
    if isinstance(value, Variable):
        raise ValueError("a variable among an op's parameters")
    if isinstance(value, type | types.FunctionType | types.BuiltinFunctionType | types.MethodType):
        return ("callable", getattr(value, "__module__", ""), value.__qualname__)
    if hasattr(value, "__dict__"):  # e.g. a scalar op's output-type rule
        return (f"{type(value).__module__}.{type(value).__qualname__}", _value(vars(value), depth + 1))
    raise ValueError(f"no stable description of {type(value).__qualname__}")


def _read(path: Path):
    """The frozen rewritten graph stored at ``path``, or None (absent or unreadable: rewritten again)."""
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception as err:  # a truncated or foreign file is a miss, and is replaced
        log.warning("ignoring unreadable rewritten graph %s (%s)", path, err)
        return None


def _store(path: Path, frozen) -> None:
    """Store the frozen graph ``frozen()`` at ``path``, atomically; a graph or folder that cannot be stored is
    skipped (the next process rewrites it again)."""
    try:
        data = pickle.dumps(frozen(), protocol=5)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        partial.write_bytes(data)
        os.replace(partial, path)
    except Exception as err:
        log.warning("could not store a rewritten graph in %s (%s)", path.parent, err)


def _install(fgraph, frozen, path: Path) -> bool:
    """Put ``frozen`` (the rewritten graph) in place of ``fgraph``'s outputs, on ``fgraph``'s inputs, with the
    ``DestroyHandler`` the rewrites attach (it orders an in-place op after every reader of what it overwrites).
    False, with ``fgraph`` untouched, where the inputs or outputs do not match (a miss)."""
    from pytensor.graph.destroyhandler import DestroyHandler

    if (len(frozen.inputs) != len(fgraph.inputs) or len(frozen.outputs) != len(fgraph.outputs)
            or any(a.type != b.type for a, b in zip(frozen.inputs, fgraph.inputs, strict=True))):
        return False
    rebuilt = frozen.bind(list(fgraph.inputs))
    try:
        handler = next((feature for feature in fgraph._features if isinstance(feature, DestroyHandler)), None)
        if handler is None:
            fgraph.attach_feature(DestroyHandler())
        for i, variable in enumerate(rebuilt):
            node, _ = fgraph.get_output_client(i)
            fgraph.change_node_input(node, 0, variable, reason="rewrite cache")
        fgraph.execute_callbacks("on_validate")  # the DestroyHandler and the inputs' Supervisor refuse unsafe graphs
    except Exception as err:  # the function's graph is half replaced: stop here, loudly
        raise RuntimeError(f"the rewritten graph {path} could not be reused ({err}); delete it, or set "
                           f"{SWITCH_ENV}=0 to rewrite every graph") from err
    return True


@functools.cache
def _source_digest(op_class) -> str:
    """sha256 of the source file defining ``op_class``."""
    return hashlib.sha256(Path(inspect.getsourcefile(op_class)).read_bytes()).hexdigest()
