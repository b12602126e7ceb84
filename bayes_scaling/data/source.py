"""Where a fit's runs come from: a registered dataset or a CSV, with column names, units, filters and tolerances
(the ``[data]`` table of an analysis spec, :mod:`bayes_scaling.spec`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bayes_scaling.data.runs import COMPUTE_TOLERANCE


@dataclass(frozen=True)
class DataSpec:
    """Where the runs come from and which of them are used."""

    dataset: str | None = None
    csv: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    filters: dict[str, float] = field(default_factory=dict)
    compute_tolerance: float = COMPUTE_TOLERANCE
    n_counts_embeddings: bool | None = None
    select: dict[str, str] = field(default_factory=dict)
