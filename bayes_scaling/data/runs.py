"""Training-run tables: reading, unit conversion and validation into canonical columns.

Every dataset, published or a user's, becomes a :class:`RunTable` whose frame has the columns ``n_params``
(parameters), ``n_tokens`` (tokens), ``compute`` (FLOP), ``loss`` (nats per token) and ``row`` (the 1-based data row of
the source, so that later messages can point back to it). Validation rejects bad input with a :class:`DataError`
naming the file, column and row, before any model is built.
"""

from __future__ import annotations

import csv
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayes_scaling.data.errors import DataError
from bayes_scaling.laws.inputs import COMPUTE_INPUTS, INPUTS

log = logging.getLogger(__name__)

#: Canonical columns: every registered input, then the loss.
CANONICAL = (*INPUTS, "loss")
PF_DAY = 1e15 * 86_400  # FLOP in one petaflop/s-day
COMPUTE_UNITS = {"FLOP": 1.0, "GFLOP": 1e9, "TFLOP": 1e12, "PFLOP": 1e15, "EFLOP": 1e18, "PF-days": PF_DAY}
LOSS_UNITS = {"nats": 1.0, "bits": math.log(2.0)}
#: Plausible loss range in nats per token: below it the loss is not a cross-entropy of text, above it (log of a
#: 50k vocabulary is 10.8) it is most likely a perplexity or a loss in another unit.
LOSS_RANGE = (0.05, 15.0)
#: Default relative tolerance of |C / (6 N D) - 1| when a table gives all three of N, D and C.
COMPUTE_TOLERANCE = 0.25
#: An optional column: each run's IsoFLOP budget (FLOP, in the compute unit), which splits by budget use when given.
BUDGET = "budget"
FLAGS = {**{name: item.flag for name, item in INPUTS.items()}, "loss": "--loss-col", BUDGET: "--budget-col"}
#: Column names recognised without a flag (compared ignoring case), besides the canonical names themselves. A name
#: two columns of a table could answer to is not guessed: the error asks for the flag.
ALIASES = {
    "n_params": ("params", "parameters", "n", "num_params", "n_parameters", "model_params", "model_size"),
    "n_tokens": ("tokens", "d", "num_tokens", "n_tokens_seen", "tokens_seen", "training_tokens", "train_tokens"),
    "compute": ("flops", "flop", "c", "compute_flops", "training_flops", "train_flops"),
    "unique_tokens": ("u_d", "unique", "num_unique_tokens"),
    "steps": ("step", "current_steps", "train_steps", "optimizer_steps"),
    "loss": ("val_loss", "eval_loss", "validation_loss", "final_loss", "test_loss"),
    BUDGET: ("flop_budget", "isoflop_budget", "compute_budget"),
}
#: Loss in nats per token above which, as a median over runs, values more likely are bits: a warning, not an error.
BITS_LIKELY = 4.5


def recognised_columns(header: list[str], named: Mapping[str, str]) -> dict[str, str]:
    """``named`` (canonical -> column, from flags or a spec) completed by the columns whose names say what they are:
    the canonical name or one of :data:`ALIASES`, ignoring case; a role two unnamed columns could fill is left out."""
    found = dict(named)
    taken = set(named.values())
    for name in (*CANONICAL, BUDGET):
        if name in found:
            continue
        wanted = {name, *ALIASES.get(name, ())}
        candidates = [column for column in header if str(column).lower() in wanted and column not in taken]
        if len(candidates) == 1:
            found[name] = candidates[0]
            taken.add(candidates[0])
    guessed = {name: column for name, column in found.items() if name not in named and column != name}
    if guessed:
        log.info("columns recognised by name: %s", ", ".join(f"{column!r} as {name}" for name, column in
                                                             guessed.items()))
    return found


@dataclass(frozen=True)
class RunTable:
    """Validated runs in canonical units, with where they came from and what was filtered out."""

    frame: pd.DataFrame
    source: dict[str, Any]
    n_counts_embeddings: bool | None = None
    filters: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.frame)

    def column(self, name: str) -> np.ndarray:
        """A canonical column as a float array."""
        return self.frame[name].to_numpy(dtype=float)

    def with_frame(self, frame: pd.DataFrame, note: str) -> RunTable:
        """A copy holding ``frame`` with ``note`` appended to the filters applied."""
        return replace(self, frame=frame.reset_index(drop=True), filters=(*self.filters, note))


def _bad_rows(mask: np.ndarray) -> tuple[int, str]:
    rows = np.flatnonzero(mask) + 1
    more = f" ({len(rows) - 1} more rows like it)" if len(rows) > 1 else ""
    return int(rows[0]), more


def _numeric(raw: pd.DataFrame, source: str, name: str, column: str) -> np.ndarray:
    values = pd.to_numeric(raw[column], errors="coerce").to_numpy(dtype=float)
    missing = raw[column].isna().to_numpy()
    not_numbers = np.isnan(values) & ~missing
    if not_numbers.any():
        row, more = _bad_rows(not_numbers)
        raise DataError(
            source, f"{raw[column].iloc[row - 1]!r} is not a number{more}",
            f"write {name} as a plain number such as 7e10", column=column, row=row,
        )
    bad = ~np.isfinite(values)
    if bad.any():
        row, more = _bad_rows(bad)
        raise DataError(
            source, f"value is {'missing (NaN)' if missing[row - 1] else values[row - 1]}{more}",
            f"remove the row or give a finite {name}", column=column, row=row,
        )
    if (values <= 0).any():
        row, more = _bad_rows(values <= 0)
        raise DataError(
            source, f"{name} must be positive, got {values[row - 1]:g}{more}",
            f"remove the row or correct the {name}", column=column, row=row,
        )
    return values


def validate_table(
    raw: pd.DataFrame,
    source: str,
    columns: Mapping[str, str],
    *,
    compute_unit: str = "FLOP",
    loss_unit: str = "nats",
    compute_tolerance: float = COMPUTE_TOLERANCE,
) -> pd.DataFrame:
    """Canonical, validated frame from a raw table.

    Parameters
    ----------
    raw : DataFrame
        The table as read, one row per training run.
    source : str
        File path or dataset name for messages.
    columns : mapping
        Canonical name -> column name in ``raw`` for the columns present. ``loss`` and at least two of
        ``n_params``, ``n_tokens``, ``compute`` are needed; the third is derived from C = 6 N D.
    compute_unit, loss_unit : str
        Units of the raw compute (``FLOP`` or ``PF-days``) and loss (``nats`` or ``bits``) columns.
    compute_tolerance : float
        Largest accepted |C / (6 N D) - 1| when all three are given.
    """
    if compute_unit not in COMPUTE_UNITS:
        raise DataError(source, f"unknown compute unit {compute_unit!r}", f"use one of {list(COMPUTE_UNITS)}")
    if loss_unit not in LOSS_UNITS:
        raise DataError(source, f"unknown loss unit {loss_unit!r}", f"use one of {list(LOSS_UNITS)}")
    columns = {name: column for name, column in columns.items() if name != BUDGET}  # read by the loader
    unknown = set(columns) - set(CANONICAL)
    if unknown:
        raise DataError(source, f"unknown canonical column(s) {sorted(unknown)}",
                        f"map only {[*CANONICAL, BUDGET]}")
    if not (isinstance(compute_tolerance, int | float) and not isinstance(compute_tolerance, bool)
            and 0 < compute_tolerance < 10):
        raise DataError(source, f"compute_tolerance must be a number between 0 and 10, got {compute_tolerance!r}",
                        "set compute_tolerance = 0.25 (25%) or similar")
    shared = {column for column in columns.values() if list(columns.values()).count(column) > 1}
    if shared:
        roles = sorted(name for name, column in columns.items() if column in shared)
        raise DataError(source, f"column {sorted(shared)[0]!r} is given for {' and '.join(roles)}",
                        "give each of n_params, n_tokens, compute and loss its own column", column=sorted(shared)[0])
    if len(raw) == 0:
        raise DataError(source, "the table has no data rows", "give one row per training run, with a header line")
    found = ", ".join(map(repr, raw.columns))
    for name, column in columns.items():
        if column not in raw.columns:
            raise DataError(
                source, f"column {column!r} (for {name}) is missing; the columns are {found}",
                f"rename the column, or name the right one with {FLAGS[name]} or in the spec's [data.columns]",
                column=column,
            )
    given = [name for name in COMPUTE_INPUTS if name in columns]
    others = [name for name in INPUTS if name in columns and name not in COMPUTE_INPUTS]
    if "loss" not in columns or len(given) < 2:
        need = [n for n in COMPUTE_INPUTS if n not in columns]
        missing = (["loss"] if "loss" not in columns else []) + ([f"{2 - len(given)} of {', '.join(need)}"]
                                                                 if len(given) < 2 else [])
        has = f"found {', '.join(f'{columns[n]!r} as {n}' for n in given)}" if given else "found none of them"
        raise DataError(
            source, f"needs a loss column and two of n_params, n_tokens, compute; {has} among the columns {found}",
            f"name {' and '.join(missing)}: flags {', '.join(FLAGS[n] for n in (*need, 'loss') if n not in columns)}"
            " or the spec's [data.columns] (names like params, tokens, flops, val_loss are recognised)",
        )
    if loss_unit == "nats" and re.search(r"(^|[^a-z])bits?([^a-z]|$)", str(columns["loss"]).lower()):
        raise DataError(source, f"the loss column {columns['loss']!r} is named in bits but is read as nats",
                        "give --loss-unit bits (or loss = \"bits\" in the spec's [data.units]); if the values "
                        "are nats, rename the column", column=columns["loss"])
    values = {name: _numeric(raw, source, name, columns[name]) for name in (*given, *others, "loss")}
    if "compute" in values:
        values["compute"] = values["compute"] * COMPUTE_UNITS[compute_unit]
    values["loss"] = values["loss"] * LOSS_UNITS[loss_unit]
    if loss_unit == "nats" and float(np.median(values["loss"])) > BITS_LIKELY:
        log.warning("%s: the losses in %r (median %.3g) are high for nats per token; if they are bits, give "
                    "--loss-unit bits (loss = \"bits\" in the spec's [data.units])", source, columns["loss"],
                    float(np.median(values["loss"])))

    low, high = LOSS_RANGE
    implausible = (values["loss"] < low) | (values["loss"] > high)
    if implausible.any():
        row, more = _bad_rows(implausible)
        raise DataError(
            source, f"loss {values['loss'][row - 1]:g} nats is outside the plausible range {low}..{high}{more}",
            "give the cross-entropy in nats per token (not a perplexity; for bits use --loss-unit bits)",
            column=columns["loss"], row=row,
        )

    for name in (*given, *others):  # values outside are almost always a unit or column mistake
        low, high = INPUTS[name].plausible
        implausible = (values[name] < low) | (values[name] > high)
        if implausible.any():
            row, more = _bad_rows(implausible)
            raise DataError(
                source, f"{name} {values[name][row - 1]:g} is outside the plausible range {low:g}..{high:g}{more}",
                f"check the column and its unit ({name} is in {INPUTS[name].unit})",
                column=columns[name], row=row,
            )

    if len(given) == 3:
        ratio = values["compute"] / (6.0 * values["n_params"] * values["n_tokens"])
        off = np.abs(ratio - 1.0) > compute_tolerance
        if off.any():
            row, more = _bad_rows(off)
            raise DataError(
                source,
                f"compute is {ratio[row - 1]:.3g} x 6*N*D, beyond the tolerance of {compute_tolerance:.0%}{more}",
                "check the units (FLOP, not PF-days: --compute-unit PF-days), drop the compute column to derive it "
                "from 6ND, or widen compute_tolerance in the spec",
                column=columns["compute"], row=row,
            )
    elif "compute" not in values:
        values["compute"] = 6.0 * values["n_params"] * values["n_tokens"]
    elif "n_tokens" not in values:
        values["n_tokens"] = values["compute"] / (6.0 * values["n_params"])
    else:
        values["n_params"] = values["compute"] / (6.0 * values["n_tokens"])

    frame = pd.DataFrame({name: values[name] for name in CANONICAL if name in values})
    frame["row"] = np.arange(1, len(frame) + 1)
    return frame


def read_csv_table(path: str | Path, source: str | None = None) -> pd.DataFrame:
    """Read a CSV as strings-or-numbers, with a :class:`DataError` for a missing, unreadable, empty or malformed file,
    or one whose header repeats a column name (pandas would silently rename the second)."""
    path = Path(path)
    label = source or str(path)
    if path.is_dir():
        raise DataError(label, "is a folder, not a file", "give the path of the CSV file itself")
    if not path.is_file():
        raise DataError(label, "file not found", "check the path")
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            ragged = next(((line, len(fields)) for line, fields in enumerate(reader, 2)
                           if fields and len(fields) != len(header)), None)
        frame = pd.read_csv(path)
    except PermissionError:
        raise DataError(label, "cannot be read (permission denied)", "make the file readable (chmod a+r)") from None
    except pd.errors.EmptyDataError:
        raise DataError(label, "the file is empty", "give a header line and one row per training run") from None
    except (pd.errors.ParserError, UnicodeDecodeError, csv.Error, OSError) as err:
        raise DataError(label, f"not a readable CSV ({err})", "save the table as comma-separated UTF-8") from None
    if ragged is not None and len(header) > 1:
        line, count = ragged
        raise DataError(label, f"line {line} has {count} fields where the header has {len(header)}",
                        "give every row one value per column (quote values that contain commas)", row=line - 1)
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataError(label, f"the header names column {repeated[0]!r} more than once",
                        "give each column a different name", column=repeated[0])
    if frame.shape[1] == 1 and any(sep in str(frame.columns[0]) for sep in ";\t|"):
        sep = next(sep for sep in ";\t|" if sep in str(frame.columns[0]))
        raise DataError(label, f"has one column {str(frame.columns[0])!r}: the values look separated by {sep!r}",
                        "save the table comma-separated")
    return frame
