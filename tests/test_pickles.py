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
