"""``bayes-scaling data list | verify``: the registered datasets and whether their files are present and intact."""

from __future__ import annotations

import argparse

from bayes_scaling.data.errors import DataError
from bayes_scaling.data.fetch import resolve
from bayes_scaling.data.registry import get_dataset, load_registry


def data(args: argparse.Namespace) -> int:
    registry = load_registry()
    if args.action == "list":
        for entry in registry.values():
            embeddings = "includes embeddings" if entry.n_counts_embeddings else "excludes embeddings"
            print(f"{entry.name}: {entry.title}\n  {entry.url}\n  sha256 {entry.sha256}; N {embeddings}; "
                  f"licence: {entry.licence}")
        return 0
    failed = 0
    for name in args.names or list(registry):
        try:
            path = resolve(get_dataset(name))
            print(f"{name}: ok ({path})")
        except DataError as err:
            print(f"{name}: {err}")
            failed += 1
    return 2 if failed else 0
