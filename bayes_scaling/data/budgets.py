"""IsoFLOP budgets: groups of runs sharing one compute budget, given by the data or found from the compute values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BudgetGroup:
    """Runs whose compute lies near one budget; ``compute`` is the group's median budget in FLOP."""

    compute: float
    index: np.ndarray


def budget_groups(
    compute: np.ndarray, *, half_width_dex: float = 0.06, min_runs: int = 5, most: int = 9
) -> list[BudgetGroup]:
    """Groups of runs around the peaks of the distribution of log10 compute.

    A histogram of log10 C in bins of ``half_width_dex`` is scanned from its fullest bin down; each peak takes the
    unassigned runs within ``half_width_dex`` of its centre, if there are at least ``min_runs``. At most ``most``
    groups are returned, in increasing compute. Digitised or jittered budgets (as in Epoch AI's data) still group.
    """
    log_c = np.log10(np.asarray(compute, dtype=float))
    free = np.ones(log_c.size, dtype=bool)
    edges = np.arange(log_c.min(), log_c.max() + half_width_dex, half_width_dex)
    counts, edges = np.histogram(log_c, bins=edges if edges.size > 1 else 1)
    groups = []
    for b in np.argsort(counts, kind="stable")[::-1]:
        if counts[b] == 0 or len(groups) == most:
            break
        window = free & (np.abs(log_c - 0.5 * (edges[b] + edges[b + 1])) <= half_width_dex)
        if window.sum() < min_runs:
            continue
        members = np.flatnonzero(window)
        centre = np.median(log_c[members])
        members = np.flatnonzero(free & (np.abs(log_c - centre) <= half_width_dex))
        if members.size >= min_runs:
            free[members] = False
            groups.append(BudgetGroup(float(10 ** np.median(log_c[members])), members))
    return sorted(groups, key=lambda g: g.compute)


def budget_index(frame) -> list[BudgetGroup]:
    """The IsoFLOP groups of a canonical run frame: its ``budget`` column if it has one, else found from compute.

    Given budgets keep every group (even of one run); found budgets need at least five runs, as in
    :func:`budget_groups`.
    """
    if "budget" in frame:
        labels = frame["budget"].to_numpy(dtype=float)
        return [BudgetGroup(float(b), np.flatnonzero(labels == b)) for b in np.unique(labels)]
    return budget_groups(frame["compute"].to_numpy(dtype=float), most=64)


def budget_labels(frame) -> np.ndarray:
    """The budget each run of a canonical frame belongs to, as an integer label per run: its IsoFLOP group
    (:func:`budget_index`: the ``budget`` column, or groups found from compute); runs in no group share a label
    with the runs of exactly their compute (six significant figures) and no other. Runs that share a label are
    held out or kept together: a budget is never split."""
    labels = np.full(len(frame), -1, dtype=int)
    for label, group in enumerate(budget_index(frame)):
        labels[group.index] = label
    alone = np.flatnonzero(labels < 0)
    if alone.size:
        compute = frame["compute"].to_numpy(dtype=float)[alone]
        _, same = np.unique(np.round(np.log10(compute), 6), return_inverse=True)
        labels[alone] = labels.max(initial=-1) + 1 + same
    return labels


def top_budgets(frame, fraction: float) -> np.ndarray:
    """Positions of the runs of the budgets with the most compute that together come closest to ``fraction`` of the
    runs (possibly none, never every budget, never part of one; a tie goes to fewer runs held out)."""
    labels = budget_labels(frame)
    compute = frame["compute"].to_numpy(dtype=float)
    order = sorted(set(labels.tolist()), key=lambda label: -float(np.median(compute[labels == label])))
    target = fraction * len(frame)
    held: list[int] = []
    best: list[int] = []
    best_gap = target  # holding out nothing
    for label in order[:-1]:  # always keep one budget to fit
        held.append(label)
        count = int(np.isin(labels, held).sum())
        if abs(count - target) < best_gap:
            best, best_gap = list(held), abs(count - target)
        if count >= target:
            break
    return np.flatnonzero(np.isin(labels, best))


def budgets_above(frame, decades: float) -> np.ndarray:
    """Whether each run's budget (:func:`budget_labels`; its median compute) lies less than ``decades`` below the
    budget with the most compute: the runs a fit of the budgets up to ``10**-decades`` of the top one leaves out."""
    labels = budget_labels(frame)
    log_c = np.log10(frame["compute"].to_numpy(dtype=float))
    level = {label: float(np.median(log_c[labels == label])) for label in np.unique(labels)}
    per_run = np.array([level[label] for label in labels])
    return per_run > max(level.values()) - decades + 1e-9
