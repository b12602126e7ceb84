"""Load runs for an analysis: a registered dataset or a user's CSV, validated, filtered, checked against a law."""

from __future__ import annotations

from pathlib import Path

from bayes_scaling.data.errors import DataError
from bayes_scaling.data.fetch import resolve, sha256_of
from bayes_scaling.data.filters import apply_filters
from bayes_scaling.data.registry import get_dataset
from bayes_scaling.data.runs import RunTable, read_csv_table, validate_table
from bayes_scaling.laws import Law
from bayes_scaling.spec import DataSpec


def load_runs(spec: DataSpec) -> RunTable:
    """Validated, filtered runs for a data spec (registered ``dataset`` or ``csv`` path)."""
    if spec.dataset is not None:
        entry = get_dataset(spec.dataset)
        if entry.format != "csv":
            raise DataError(
                entry.name, f"a {entry.format} dataset has no run table to fit directly in this version",
                "fit a csv dataset (epoch-chinchilla) or your own CSV; the Porian configurations are read with "
                "bayes_scaling.data.pickles.read_pickle_xz",
            )
        path = resolve(entry)
        raw = read_csv_table(path, source=f"{entry.name} ({path})")
        columns = {**entry.columns, **spec.columns}
        units = {**entry.units, **spec.units}
        source = entry.provenance()
        embeddings = entry.n_counts_embeddings if spec.n_counts_embeddings is None else spec.n_counts_embeddings
        label = f"{entry.name} ({path})"
    else:
        path = Path(spec.csv)
        raw = read_csv_table(path)
        columns, units, label = dict(spec.columns), dict(spec.units), str(path)
        source = {"file": str(path.resolve()) if path.exists() else str(path), "sha256": sha256_of(path)}
        embeddings = spec.n_counts_embeddings
    frame = validate_table(
        raw, label, columns,
        compute_unit=units.get("compute", "FLOP"), loss_unit=units.get("loss", "nats"),
        compute_tolerance=spec.compute_tolerance,
    )
    runs = RunTable(frame=frame, source=source, n_counts_embeddings=embeddings)
    return apply_filters(runs, spec.filters)


def check_identifiable(runs: RunTable, law: Law, source: str) -> None:
    """Refuse data with fewer distinct values of an input than the law has parameters."""
    needed = len(law.parameters)
    for name in law.inputs:
        distinct = runs.frame[name].round(decimals=6).nunique()
        if distinct < needed:
            raise DataError(
                source,
                f"only {distinct} distinct {name} values for a law with {needed} parameters ({law.name})",
                f"add runs at more {name} scales (at least {needed}), or fit a law with fewer parameters",
                column=name,
            )
