"""The registry of published datasets: where each file lives publicly, its checksum, licence, columns and units."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class DatasetEntry:
    """One published dataset, pinned to a commit and a sha256.

    ``columns`` maps the canonical names (``n_params``, ``n_tokens``, ``compute``, ``loss``) to the file's column
    names; ``units`` gives the file's units for ``compute`` (FLOP or PF-days) and ``loss`` (nats or bits).
    """

    name: str
    title: str
    citation: str
    repository: str
    commit: str
    path: str
    url: str
    file: str
    sha256: str
    licence: str
    format: str
    n_counts_embeddings: bool
    notes: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)

    def provenance(self) -> dict[str, Any]:
        """What a fit records about where its data came from."""
        return {
            "dataset": self.name,
            "title": self.title,
            "citation": self.citation,
            "url": self.url,
            "repository": self.repository,
            "commit": self.commit,
            "path": self.path,
            "sha256": self.sha256,
            "licence": self.licence,
            "n_counts_embeddings": self.n_counts_embeddings,
        }


@cache
def load_registry() -> dict[str, DatasetEntry]:
    """All registered datasets by name (read once from the packaged ``registry.toml``)."""
    text = resources.files("bayes_scaling.data").joinpath("registry.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)["datasets"]
    return {name: DatasetEntry(name=name, **fields) for name, fields in raw.items()}


def get_dataset(name: str) -> DatasetEntry:
    """The registry entry ``name``; an unknown name lists the registered ones."""
    registry = load_registry()
    if name not in registry:
        raise ValueError(f"unknown dataset {name!r}; registered: {', '.join(sorted(registry))}")
    return registry[name]
