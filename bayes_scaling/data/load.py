"""Load runs for an analysis: a registered dataset or a user's CSV, validated, filtered, checked against a law."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_scaling.data.errors import DataError
from bayes_scaling.data.fetch import resolve, sha256_of
from bayes_scaling.data.filters import apply_filters
from bayes_scaling.data.pickles import read_pickle_xz
from bayes_scaling.data.porian import COUNTS_EMBEDDINGS, FIELDS, configuration_runs, select_configuration
from bayes_scaling.data.registry import get_dataset
from bayes_scaling.data.runs import (
    BUDGET,
    COMPUTE_UNITS,
    RunTable,
    read_csv_table,
    recognised_columns,
    validate_table,
)
from bayes_scaling.data.source import DataSpec
from bayes_scaling.laws import Law

#: Dataset file formats the loader reads: plain CSV tables and Porian et al.'s summary pickles.
FORMATS = ("csv", "porian-pickle")


#: How a table handed over in memory (``bayes_scaling.fit(frame, ...)``) is named in messages and provenance.
FRAME_LABEL = "DataFrame"


def load_runs(spec: DataSpec, frame: pd.DataFrame | None = None) -> RunTable:
    """Validated, filtered runs for a data spec (registered ``dataset`` or ``csv`` path), or for a table already in
    memory (``frame``, one row per run, read with the spec's columns, units and filters)."""
    if frame is not None:
        if spec.dataset is not None or spec.csv is not None:
            raise ValueError("give the runs once: a DataFrame, or a dataset or CSV in the spec, not both")
        if not isinstance(frame, pd.DataFrame):
            raise DataError(FRAME_LABEL, f"is a {type(frame).__name__}, not a pandas DataFrame",
                            "pass a DataFrame with one row per training run, or the path of a CSV")
        raw = frame.reset_index(drop=True)
        digest = hashlib.sha256(raw.to_csv(index=False).encode()).hexdigest()
        source = {"dataframe": f"{len(raw)} rows x {raw.shape[1]} columns, passed in memory", "sha256": digest}
        return _table_runs(raw, FRAME_LABEL, source, spec)
    if spec.dataset is not None:
        entry = get_dataset(spec.dataset)
        if entry.format not in FORMATS:
            raise DataError(entry.name, f"unknown dataset format {entry.format!r}", f"use one of {FORMATS}")
        if entry.format == "csv" and spec.select:
            raise DataError(entry.name, "[data.select] applies to datasets of several configurations only",
                            "remove [data.select]")
        path = resolve(entry)
        label = f"{entry.name} ({path})"
        source = entry.provenance()
        embeddings = entry.n_counts_embeddings
        if entry.format == "csv":
            raw = read_csv_table(path, source=label)
            columns = {**entry.columns, **spec.columns}
        else:
            raw, configuration = _porian_runs(path, spec.select, label)
            columns = {"n_params": "n_params", "n_tokens": "n_tokens", "loss": "loss", **spec.columns}
            source["configuration"] = configuration
            embeddings = COUNTS_EMBEDDINGS.get(configuration["param_count"], embeddings)
        units = {**entry.units, **spec.units}
        if spec.n_counts_embeddings is not None:
            embeddings = spec.n_counts_embeddings
    else:
        path = Path(spec.csv)
        raw = read_csv_table(path)
        source = {"file": str(path.resolve()) if path.exists() else str(path), "sha256": sha256_of(path)}
        return _table_runs(raw, str(path), source, spec)
    return _validated(raw, label, columns, units, source, embeddings, spec)


def _table_runs(raw: pd.DataFrame, label: str, source: dict, spec: DataSpec) -> RunTable:
    """Runs of a user's table (a CSV or a DataFrame): canonical column names are taken as they are unless the spec
    maps another column to them."""
    columns = recognised_columns(list(raw.columns), spec.columns)
    return _validated(raw, label, columns, dict(spec.units), source, spec.n_counts_embeddings, spec)


def _validated(raw: pd.DataFrame, label: str, columns: dict, units: dict, source: dict, embeddings, spec: DataSpec
               ) -> RunTable:
    """The canonical, checked and filtered runs of a raw table (and its ``budget`` column, if it has one)."""
    frame = validate_table(
        raw, label, columns,
        compute_unit=units.get("compute", "FLOP"), loss_unit=units.get("loss", "nats"),
        compute_tolerance=spec.compute_tolerance,
    )
    column = columns.get(BUDGET, BUDGET if BUDGET in raw else None)
    if column is not None:
        if column not in raw:
            raise DataError(label, f"column {column!r} (for the budget) is missing", "name the budget column with "
                            "--budget-col or the spec's [data.columns], or leave it out", column=column)
        budget = pd.to_numeric(raw[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(budget) | (budget <= 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 1
            raise DataError(label, f"budget {raw[column].iloc[row - 1]!r} is not a positive number",
                            "give each run's IsoFLOP budget in the compute unit (or leave the budget column out)",
                            column=column, row=row)
        frame[BUDGET] = budget * COMPUTE_UNITS[units.get("compute", "FLOP")]
    runs = RunTable(frame=frame, source=source, n_counts_embeddings=embeddings)
    return apply_filters(runs, spec.filters)


@lru_cache(maxsize=2)
def _summary_table(path: Path, stamp: tuple[int, int], label: str):
    """A Porian summary pickle, read once per process while its file (``stamp``: size, modification time) is
    unchanged: a report selects 24 configurations from the same two files. Read only, never modified."""
    return read_pickle_xz(path, source=label)


def _porian_runs(path: Path, select: dict[str, str], label: str):
    """The runs of the selected Porian configuration, and the configuration's fields and published fit."""
    status = Path(path).stat()
    summary = _summary_table(Path(path).resolve(), (status.st_size, status.st_mtime_ns), label)
    row = select_configuration(summary, select, label)
    configuration = {name: str(row[name]) for name in FIELDS}
    basic = (row.get("fit_results") or {}).get("basic", {})
    if "n_exponent" in basic:
        configuration["published_a"] = float(basic["n_exponent"])
        configuration["published_b"] = float(basic["t_exponent"])
    return configuration_runs(row), configuration


#: Distinct values of each input a law needs: a power law above a floor (E + A x^-alpha) is fixed by three points.
LEAST_PER_INPUT = 3


def check_identifiable(runs: RunTable, law: Law, source: str) -> None:
    """Refuse data a law cannot be fitted to: fewer distinct values of an input than :data:`LEAST_PER_INPUT` (or than
    the law has parameters, if fewer), or fewer distinct points than it has parameters. Data that pass can still
    identify a parameter weakly (few budgets, narrow windows): the fit's diagnostics and its page say so."""
    needed = len(law.parameters)
    per_input = min(LEAST_PER_INPUT, needed)
    for name in law.inputs:
        distinct = runs.frame[name].round(decimals=6).nunique()
        if distinct < per_input:
            raise DataError(
                source,
                f"only {distinct} distinct {name} values; the law {law.name} needs at least {per_input}",
                f"add runs at more {name} scales (at least {per_input}), or fit a law with fewer parameters",
                column=name,
            )
    points = len(runs.frame[list(law.inputs)].round(decimals=6).drop_duplicates())
    if points < needed:
        raise DataError(source, f"only {points} distinct points of ({', '.join(law.inputs)}) for a law with {needed} "
                        f"parameters ({law.name})", f"add runs (at least {needed} distinct ones)")
