"""Run filters named in analysis specs (e.g. Epoch's "drop the 5 highest-loss runs"), recorded on the table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bayes_scaling.data.budgets import budget_labels, budgets_above, top_budgets
from bayes_scaling.data.errors import DataError
from bayes_scaling.data.runs import RunTable

#: Filter name -> what it does. Each value in a spec is a number.
FILTERS = {
    "best_of_repeats": "keep the lowest-loss run of each (n_params, n_tokens) (1 = on; several learning rates or "
                       "repeated sweeps per size, as in Li et al. 2025)",
    "drop_highest_loss": "drop the k runs with the highest loss (Epoch AI drops 5 on the Chinchilla data)",
    "min_compute": "keep runs with compute >= this many FLOP",
    "max_compute": "keep runs with compute <= this many FLOP",
    "min_params": "keep runs with n_params >= this",
    "max_params": "keep runs with n_params <= this",
    "isoflop_window": "keep runs within this many decades of N of their budget's lowest-loss run",
    "isoflop_loss_window": "keep runs whose loss is within this fraction of their budget's lowest loss (0.1 = 10%)",
    "compute_frontier": "keep the lowest-loss run of each budget (1 = on; Kaplan's L(C_min) is fitted to these)",
    "below_top_compute": "keep the budgets at least this many decades of compute below the top budget (1 = budgets up "
                         "to a tenth of the top one; a budget is never split), to fit small budgets and score the rest",
    "hold_out_top_compute": "hold out about this fraction of the runs, whole budgets with the most compute (0.2 = the "
                            "top budgets closest to 20% of the runs; a budget is never split), to score extrapolation",
}


def apply_filters(runs: RunTable, filters: Mapping[str, Any]) -> RunTable:
    """Apply the named filters in a fixed order; each applied filter is recorded in ``runs.filters``."""
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise DataError(
            str(runs.source.get("dataset") or runs.source.get("file")),
            f"unknown filter(s) {sorted(unknown)}",
            f"use any of {', '.join(FILTERS)}",
        )
    for name in FILTERS:
        if name not in filters:
            continue
        value = filters[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
            raise DataError("spec [data]", f"filter {name} = {value!r} is not a finite non-negative number",
                            FILTERS[name])
        frame = runs.frame
        if name == "best_of_repeats":
            if not value:
                continue
            cells = frame.groupby([frame["n_params"].round(), frame["n_tokens"].round()], sort=False)["loss"]
            kept = frame.loc[sorted(cells.idxmin().tolist())]
        elif name == "drop_highest_loss":
            kept = frame.sort_values("loss", kind="stable").iloc[: len(frame) - int(value)].sort_index()
        elif name in ("isoflop_window", "isoflop_loss_window", "compute_frontier"):
            if name == "compute_frontier" and not value:
                continue
            kept = frame.iloc[_per_budget(frame, name, float(value))]
        elif name == "below_top_compute":
            kept = frame.iloc[np.flatnonzero(~budgets_above(frame, float(value)))]
        elif name == "hold_out_top_compute":
            if value >= 1:
                raise DataError("spec [data]", f"hold_out_top_compute = {value!r} would hold out every run",
                                "give a fraction below 1, such as 0.2")
            if value == 0:
                continue
            held = top_budgets(frame, float(value))
            kept = frame.drop(index=frame.index[held])
        else:
            column = "compute" if name.endswith("compute") else "n_params"
            kept = frame[frame[column] >= value] if name.startswith("min") else frame[frame[column] <= value]
        note = f"{name}={value:g}: {len(frame) - len(kept)} of {len(frame)} runs removed"
        runs = runs.with_frame(kept, note)
    if len(runs) == 0:
        label = str(runs.source.get("dataset") or runs.source.get("file") or "the runs given")
        raise DataError(label, f"the filters removed every run ({'; '.join(runs.filters)})",
                        "loosen them (the spec's [data], or --filter NAME=VALUE; NAME=none removes one)")
    return runs


def repeated_cells(frame) -> str | None:
    """A warning when several runs share one (N, D) cell (N and C without D), as in a learning-rate or seed sweep,
    that the law would take as independent measurements of one loss; None when every cell holds one run. Cells are
    matched as :data:`FILTERS`' ``best_of_repeats`` matches them (rounded to whole parameters and tokens)."""
    other = next((name for name in ("n_tokens", "compute") if name in frame), None)
    if other is None or "n_params" not in frame or len(frame) < 2:
        return None
    counts = frame.groupby([frame["n_params"].round(), frame[other].round()], sort=False).size()
    repeated = counts[counts > 1]
    if repeated.empty:
        return None
    symbol = "D" if other == "n_tokens" else "C"
    return (f"{len(repeated)} of {len(counts)} (N, {symbol}) cells hold more than one run ({int(repeated.sum())} "
            f"runs, up to {int(repeated.max())} a cell; a learning-rate or seed sweep?): the law takes each as an "
            "independent measurement of the same loss, so the fit describes their average, not the best setting; "
            "keep each cell's lowest loss with --filter best_of_repeats=1 (spec [data]: best_of_repeats = 1)")


#: The filters that keep part of each budget (a window along its IsoFLOP profile).
WINDOW_FILTERS = ("isoflop_window", "isoflop_loss_window")


def outside_windows(frame, filters: dict[str, float]) -> np.ndarray:
    """Whether each run of a canonical frame lies outside the per-budget windows among ``filters``
    (:data:`WINDOW_FILTERS`), judged within the frame's own budgets as the fit's runs were (:func:`window_budgets`);
    a run alone at its compute cannot be judged and counts as inside."""
    judged = np.zeros(len(frame), dtype=bool)
    for members in window_budgets(frame):
        judged[members] = True
    outside = np.zeros(len(frame), dtype=bool)
    for name in WINDOW_FILTERS:
        if name in filters:
            kept = np.zeros(len(frame), dtype=bool)
            kept[_per_budget(frame, name, float(filters[name]))] = True
            outside |= judged & ~kept
    return outside


def window_budgets(frame) -> list[np.ndarray]:
    """The budgets a per-budget filter judges runs within (positions of their runs): those the splits use
    (:func:`~bayes_scaling.data.budgets.budget_labels`: the budget column's, the groups found from compute, else the
    runs of exactly one compute, as in a sweep of two to four sizes per budget), except a run alone at its compute
    without a budget column, which is in none."""
    labels = budget_labels(frame)
    given = "budget" in frame
    groups = (np.flatnonzero(labels == label) for label in np.unique(labels))
    return [members for members in groups if given or members.size > 1]


def _per_budget(frame, name: str, value: float) -> np.ndarray:
    """Positions of the runs a per-budget filter keeps: each budget's lowest-loss run (``compute_frontier``), the
    runs within ``value`` decades of N of it (``isoflop_window``) or with loss below ``(1 + value)`` times its loss
    (``isoflop_loss_window``), in the budgets of :func:`window_budgets`. A run alone at its compute is dropped (no
    budget to judge it in), as it always was; runs sharing one compute in groups of two to four were dropped too
    before session 20, so a sweep of few sizes per budget lost every run."""
    keep = []
    log_n = np.log10(frame["n_params"].to_numpy(dtype=float))
    loss = frame["loss"].to_numpy(dtype=float)
    for members in window_budgets(frame):
        best = members[np.argmin(loss[members])]
        if name == "compute_frontier":
            keep.append(np.array([best]))
        elif name == "isoflop_window":
            keep.append(members[np.abs(log_n[members] - log_n[best]) <= value])
        else:
            keep.append(members[loss[members] <= (1.0 + value) * loss[best]])
    return np.sort(np.concatenate(keep)) if keep else np.array([], dtype=int)


def split_below_top(runs: RunTable, decades: float) -> tuple[RunTable, RunTable]:
    """The runs ``below_top_compute = decades`` keeps (whole budgets at least ``decades`` below the top budget), and
    the runs it holds out (in the data's order)."""
    held = budgets_above(runs.frame, decades)
    note = f"below_top_compute={decades:g}: {int(held.sum())} of {len(runs)} runs removed"
    train = runs.with_frame(runs.frame[~held], note)
    return train, runs.with_frame(runs.frame[held], f"the budgets within {decades:g} decades of the top, held out")


def split_top_compute(runs: RunTable, fraction: float) -> tuple[RunTable, RunTable]:
    """The runs ``hold_out_top_compute = fraction`` keeps, and the runs it holds out (in the data's order)."""
    train = apply_filters(runs, {"hold_out_top_compute": fraction})
    held = runs.frame[~runs.frame["row"].isin(set(train.frame["row"].tolist()))]
    return train, runs.with_frame(held, f"the top {fraction:g} of compute, held out")
