"""Porian et al. 2024 configurations: select one row of a summary pickle by its fields and flatten its runs.

Each pickle row is one training configuration (``dataset, hparams, warmup, decay, param_count, val``); its ``data``
frame holds, per FLOP budget, the arrays ``orig_n``, ``orig_t`` and ``orig_loss`` of the runs (N, tokens, loss;
C = 6 N D). The flattened table has one row per run with the nominal ``budget`` in FLOP.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from bayes_scaling.data.errors import DataError

FIELDS = ("dataset", "hparams", "warmup", "decay", "param_count", "val")
#: Whether N includes embedding parameters, by Porian's ``param_count`` convention.
COUNTS_EMBEDDINGS = {"kaplan": False, "standard": True, "attention": True}


def describe_configurations(summary: pd.DataFrame) -> str:
    """One line per configuration, ``field=value`` pairs, for error messages and ``bayes-scaling data``."""
    return "; ".join(
        ", ".join(f"{f}={row[f]}" for f in FIELDS) for _, row in summary[list(FIELDS)].iterrows()
    )


def select_configuration(summary: pd.DataFrame, select: Mapping[str, str], source: str) -> pd.Series:
    """The one row of ``summary`` whose fields equal ``select``; anything else is a clear :class:`DataError`."""
    unknown = set(select) - set(FIELDS)
    if unknown:
        raise DataError(source, f"unknown configuration field(s) {sorted(unknown)}",
                        f"select by {', '.join(FIELDS)} in the spec's [data.select]")
    mask = np.ones(len(summary), dtype=bool)
    for name, value in select.items():
        mask &= summary[name].astype(str).to_numpy() == str(value)
    if mask.sum() != 1:
        found = "no configuration matches" if mask.sum() == 0 else f"{mask.sum()} configurations match"
        raise DataError(
            source, f"{found} [data.select] {dict(select)}",
            f"name one of: {describe_configurations(summary)}",
        )
    return summary.iloc[int(np.flatnonzero(mask)[0])]


def configuration_runs(row: pd.Series) -> pd.DataFrame:
    """One row per run: ``n_params``, ``n_tokens``, ``loss`` and the nominal ``budget`` (FLOP).

    Placeholder entries with no run at all (N, tokens and loss all NaN, one in three of the pickled configurations)
    are dropped; a partly missing run is kept, so that validation reports it.
    """
    parts = []
    for _, budget in row["data"].iterrows():
        n = np.asarray(budget["orig_n"], dtype=float)
        parts.append(pd.DataFrame({
            "n_params": n,
            "n_tokens": np.asarray(budget["orig_t"], dtype=float),
            "loss": np.asarray(budget["orig_loss"], dtype=float),
            "budget": np.full(n.size, float(budget["flops"])),
        }))
    runs = pd.concat(parts, ignore_index=True)
    empty = runs[["n_params", "n_tokens", "loss"]].isna().all(axis=1)
    return runs[~empty].reset_index(drop=True)
