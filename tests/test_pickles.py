"""The restricted unpickler reads Porian et al.'s pandas pickles and refuses anything else."""

import lzma
import os
import pickle

import pytest

from bayes_scaling.data import DataError, get_dataset
from bayes_scaling.data.fetch import resolve
from bayes_scaling.data.pickles import read_pickle_xz


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_porian_summary_loads_with_its_configurations(shared_data):
    frame = read_pickle_xz(resolve(get_dataset("porian2024-summary"), download=False))
    fields = ["dataset", "hparams", "warmup", "decay", "param_count", "val"]
    kaplan = frame[(frame[fields] == ["rw", "base", "long", "kaplan", "kaplan", "train"]).all(axis=1)]
    assert len(kaplan) == 1
    budgets = kaplan.iloc[0]["data"]
    assert len(budgets) == 12 and {"orig_n", "orig_t", "orig_loss", "flops"} <= set(budgets.columns)


@pytest.mark.parametrize("name", ["porian2024-attention", "porian2024-kaplan-tuned", "porian2024-owt2"])
def test_every_porian_file_is_registered_and_verified(shared_data, name):
    assert resolve(get_dataset(name), download=False).is_file()


def test_code_in_a_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.pickle.xz"
    with lzma.open(path, "wb") as handle:
        pickle.dump(Evil(), handle)
    with pytest.raises(DataError, match=r"refusing to load (posix|os)\.system"):
        read_pickle_xz(path)


def test_porian_dataset_needs_a_configuration(shared_data):
    from bayes_scaling.data.load import load_runs
    from bayes_scaling.spec import DataSpec

    with pytest.raises(DataError, match=r"porian2024-owt2 .*5 configurations match .*dataset=owt2, hparams=base"):
        load_runs(DataSpec(dataset="porian2024-owt2"))


def _crafted(module: str, name: str, *args: str | dict, protocol: int = 4) -> bytes:
    """A pickle that calls ``module.name(*args)`` on load (STACK_GLOBAL, so ``name`` may be dotted; an argument is a
    string or an empty dict)."""
    def text(value: str) -> bytes:
        raw = value.encode()
        return pickle.SHORT_BINUNICODE + bytes([len(raw)]) + raw

    tuple_of = {0: pickle.EMPTY_TUPLE, 1: pickle.TUPLE1, 2: pickle.TUPLE2}[len(args)]
    call = b"".join(pickle.EMPTY_DICT if arg == {} else text(arg) for arg in args) + tuple_of
    return (pickle.PROTO + bytes([protocol]) + text(module) + text(name) + pickle.STACK_GLOBAL + call
            + pickle.REDUCE + pickle.STOP)


def _getattr_chain(marker) -> bytes:
    """builtins.getattr(pandas.io.common.os, 'system')('touch marker'): a module reached through pandas."""
    def text(value: str) -> bytes:
        raw = value.encode()
        return pickle.SHORT_BINUNICODE + bytes([len(raw)]) + raw

    getattr_ = text("builtins") + text("getattr") + pickle.STACK_GLOBAL
    module = text("pandas.io") + text("common") + pickle.STACK_GLOBAL
    system = getattr_ + module + text("os") + pickle.TUPLE2 + pickle.REDUCE
    system = getattr_ + system + text("system") + pickle.TUPLE2 + pickle.REDUCE
    return pickle.PROTO + b"\x04" + system + text(f"touch {marker}") + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP


@pytest.mark.parametrize("attack", [
    "runstring", "dotted-name", "getattr-chain", "read-pickle-second-stage", "eval", "subprocess", "numpy-load",
    "pandas-eval",
])
def test_crafted_pickles_are_refused_without_running_anything(tmp_path, attack):
    marker = tmp_path / "ran"
    payloads = {
        "runstring": _crafted("numpy.testing._private.utils", "runstring", f"open({str(marker)!r}, 'w')", {}),
        "dotted-name": _crafted("pandas.io.common", "os.system", f"touch {marker}"),
        "getattr-chain": _getattr_chain(marker),
        "read-pickle-second-stage": _crafted("pandas.io.pickle", "read_pickle", str(tmp_path / "stage2.pkl")),
        "eval": _crafted("builtins", "eval", f"open({str(marker)!r}, 'w')"),
        "subprocess": _crafted("subprocess", "getoutput", f"touch {marker}"),
        "numpy-load": _crafted("numpy", "load", str(tmp_path / "stage2.npy")),
        "pandas-eval": _crafted("pandas", "eval", "1"),
    }
    with open(tmp_path / "stage2.pkl", "wb") as handle:  # what the second stage would load: code that runs
        pickle.dump(Evil(), handle)
    path = tmp_path / "crafted.pickle.xz"
    with lzma.open(path, "wb") as handle:
        handle.write(payloads[attack])
    with pytest.raises(DataError, match="refusing to load"):
        read_pickle_xz(path)
    assert not marker.exists()


def test_the_allow_list_is_exact_names_not_prefixes():
    from bayes_scaling.data.pickles import ALLOWED, RestrictedUnpickler

    unpickler = RestrictedUnpickler(__import__("io").BytesIO(b""))
    for module, names in ALLOWED.items():
        for name in names:
            assert unpickler.find_class(module, name) is not None
            with pytest.raises(pickle.UnpicklingError):
                unpickler.find_class(module, name + "_")
    with pytest.raises(pickle.UnpicklingError):
        unpickler.find_class("numpy.testing", "assert_equal")
