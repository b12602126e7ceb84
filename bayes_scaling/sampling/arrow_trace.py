"""nutpie's raw trace (Arrow record batches, one per chain) -> the xarray datasets a fit keeps.

nutpie converts its trace through ArviZ's ``from_dict`` into a DataTree of every sampler statistic, warm-up included:
0.12-0.14 s a call, about 0.5 s of a fit's four runs and a tenth of an SBC simulation. A fit keeps a few variables
and statistics of the draws after tuning, which this reads straight from the batches (``return_raw_trace=True``):
the same values, with the variables' dims and coordinates from the compiled model.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow
import xarray as xr

#: The batch column that marks tuning rows (they come first in each chain).
TUNING = "tuning"


def _column(batch, name: str) -> tuple[np.ndarray, list[str]]:
    """A column of one chain's batch as an array (rows x the variable's shape) and the variable's dims."""
    column = batch.column(name)
    meta = column.field.metadata or {}
    dims = meta[b"dims"].decode().split(",") if meta.get(b"dims") else []
    shape = tuple(int(size) for size in meta[b"shape"].decode().split(",")) if meta.get(b"shape") else ()
    values = pyarrow.array(column)
    if values.null_count:
        raise ValueError(f"nutpie's trace has missing values in {name!r}")
    if hasattr(values, "flatten"):  # a list column: one vector per row
        values = values.flatten()
    return values.to_numpy(zero_copy_only=False).reshape(-1, *shape), dims


def _dataset(batches, kept_rows: list[np.ndarray], names: Iterable[str], coords: dict) -> xr.Dataset:
    """``names`` over (chain, draw, dims...) from each chain's batch, rows ``kept_rows[chain]``."""
    variables, used = {}, {}
    for name in names:
        chains = [_column(batch, name) for batch in batches]
        dims = chains[0][1]
        values = np.stack([array[rows] for (array, _), rows in zip(chains, kept_rows, strict=True)])
        variables[name] = (("chain", "draw", *dims), values)
        used.update({dim: coords[dim] for dim in dims if dim in coords})
    n_chains, n_draws = len(batches), int(kept_rows[0].sum()) if kept_rows else 0
    return xr.Dataset(variables, coords={"chain": np.arange(n_chains), "draw": np.arange(n_draws), **used})


def trace_datasets(trace, coords: dict, variables: Iterable[str], stats: Iterable[str]
                   ) -> tuple[xr.Dataset, xr.Dataset]:
    """The draws after tuning of ``variables`` (posterior) and of the sampler statistics ``stats`` that the trace
    holds, dims ``chain, draw`` (and each variable's own, with ``coords``). Chains must have as many draws."""
    draw_batches, stat_batches = trace.get_arrow_trace()
    kept = [~pyarrow.array(batch.column(TUNING)).to_numpy(zero_copy_only=False).astype(bool)
            for batch in stat_batches]
    if len({int(rows.sum()) for rows in kept}) > 1:
        raise ValueError(f"nutpie's chains have different numbers of draws: {[int(r.sum()) for r in kept]}")
    present = set(stat_batches[0].column_names) if stat_batches else set()
    return (_dataset(draw_batches, kept, variables, coords),
            _dataset(stat_batches, kept, [name for name in stats if name in present], coords))
