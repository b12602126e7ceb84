"""``bayes-scaling stack``: laws fitted to the same runs, combined by stacking weights from leave-future-out scores."""

from __future__ import annotations

import argparse
import json

import numpy as np
import xarray as xr

from bayes_scaling.analysis.discrepancy_allocation import allocation_with_discrepancy
from bayes_scaling.analysis.planning import summary
from bayes_scaling.analysis.stacking import stack as stack_fits
from bayes_scaling.result import load
from bayes_scaling.util.numbers import count, interval_text

#: Version of the JSON ``stack --json`` prints.
SCHEMA_VERSION = 1
QUANTITIES = (("n_params", "N_opt", "parameters", count), ("n_tokens", "D_opt", "tokens", count),
              ("loss", "loss", "nats/token", None))
#: Draws of the stacked mixture.
MIXTURE_DRAWS = 8000


def stacked_result(paths: list[str], compute: float, *, level: float = 0.9, seed: int = 0) -> dict:
    """Weights, each law's allocation at ``compute`` (law and discrepancy) and the stacked mixture of them."""
    fits = [load(path) for path in paths]
    found = stack_fits(fits)
    rng = np.random.default_rng(seed)
    per_law, rows = {}, []
    for fit in fits:
        alloc = allocation_with_discrepancy(fit, [compute], seed=seed).isel(compute=0)
        joint = np.column_stack([alloc[name].to_numpy().ravel() for name, *_ in QUANTITIES])
        rows.append(joint[np.all(np.isfinite(joint), axis=1)])
        per_law[fit.name] = {name: summary(alloc[name], level) for name, *_ in QUANTITIES}
        per_law[fit.name]["law"] = fit.law.name
        per_law[fit.name]["converged"] = fit.converged
    which = rng.choice(len(fits), size=MIXTURE_DRAWS, p=found.weights / found.weights.sum())
    mixed = np.array([rows[k][rng.integers(rows[k].shape[0])] for k in which])
    stacked = {name: summary(xr.DataArray(mixed[None, :, j], dims=("chain", "draw")), level)
               for j, (name, *_) in enumerate(QUANTITIES)}
    return {
        "schema_version": SCHEMA_VERSION, "compute": compute, "level": level,
        "weights": dict(zip(found.names, [float(w) for w in found.weights], strict=True)),
        "mean_log_score": dict(zip(found.names, [float(s) for s in found.log_scores], strict=True)),
        "held_out_runs": found.points, "held_out_budgets": found.budgets,
        "how": found.describe(),
        "converged": all(fit.converged for fit in fits),
        "laws": per_law, "stacked": stacked,
        "includes": "each law with its discrepancy along the IsoFLOP line and its extrapolation beyond the data, "
                    "without run-to-run noise; stacked: the mixture of the laws' draws in the weights' proportions",
    }


def format_stacked(result: dict) -> str:
    lines = [f"budget C = {result['compute']:.3g} FLOP: {result['how']}"]
    if not result["converged"]:
        lines.append("WARNING: a fit did NOT converge; do not quote these numbers")
    width = max(len(name) for name in result["laws"]) + 2
    header = "".join(f"{label:<28}" for _, label, *_ in QUANTITIES)
    lines.append(f"{'':<{width}}{'weight':<8}{header}")

    def row(name: str, weight: str, values: dict) -> str:
        cells = "".join(f"{interval_text(values[key], style=style):<28}" for key, _, _, style in QUANTITIES)
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

