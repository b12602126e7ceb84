"""``bayes-scaling stack``: laws fitted to the same runs, combined by stacking weights from leave-future-out scores."""

from __future__ import annotations

import argparse
import json

from bayes_scaling.analysis.stacking import QUANTITIES, stacked_allocation
from bayes_scaling.result import load
from bayes_scaling.util.numbers import count, interval_text

#: Version of the JSON ``stack --json`` prints.
SCHEMA_VERSION = 1
#: How each quantity is written.
STYLES = {"n_params": count, "n_tokens": count, "loss": None}


def stacked_result(paths: list[str], compute: float, *, level: float = 0.9, seed: int = 0) -> dict:
    """The JSON of ``stack``: :func:`~bayes_scaling.analysis.stacking.stacked_allocation` of the fits in ``paths``."""
    return {"schema_version": SCHEMA_VERSION,
            **stacked_allocation([load(path) for path in paths], compute, level=level, seed=seed)}


def format_stacked(result: dict) -> str:
    lines = [f"budget C = {result['compute']:.3g} FLOP: {result['how']}"]
    if not result["converged"]:
        lines.append("WARNING: a fit did NOT converge; do not quote these numbers")
    width = max(len(name) for name in result["laws"]) + 2
    header = "".join(f"{label:<28}" for _, label, _ in QUANTITIES)
    lines.append(f"{'':<{width}}{'weight':<8}{header}")

    def row(name: str, weight: str, values: dict) -> str:
        cells = "".join(f"{interval_text(values[key], style=STYLES[key]):<28}" for key, _, _ in QUANTITIES)
        return f"{name:<{width}}{weight:<8}{cells}"

    for name, values in result["laws"].items():
        lines.append(row(name, f"{result['weights'][name]:.2f}", values))
    lines.append(row("stacked", "", result["stacked"]))
    lines.append(f"({int(result['level'] * 100)}% intervals; {result['includes']})")
    return "\n".join(lines)


def stack(args: argparse.Namespace) -> int:
    if not 0 < args.level < 1:
        raise ValueError(f"--level must be between 0 and 1, got {args.level}")
    if not args.compute > 0:
        raise ValueError(f"--compute must be a positive FLOP count, got {args.compute}")
    result = stacked_result(args.fits, args.compute, level=args.level, seed=args.seed)
    print(json.dumps(result, indent=2) if args.json else format_stacked(result))
    return 0 if result["converged"] else 1

