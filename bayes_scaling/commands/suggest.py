"""``bayes-scaling suggest``: which runs to train next, within an experiment budget, to narrow a decision."""

from __future__ import annotations

import argparse
import json

from bayes_scaling.analysis.design import suggest_runs
from bayes_scaling.result import load
from bayes_scaling.util.files import atomic_write_text
from bayes_scaling.util.numbers import count

#: Version of the JSON ``suggest --json`` prints.
SCHEMA_VERSION = 1


def suggestion(args: argparse.Namespace) -> dict:
    """The JSON of ``suggest``: :func:`~bayes_scaling.analysis.design.suggest_runs` on the fit in ``args.fit``."""
    fit = load(args.fit)
    return {"schema_version": SCHEMA_VERSION,
            **suggest_runs(fit, args.target_compute, args.experiment_budget, quantity=args.quantity,
                           window=args.window, most=args.max_runs, misfit=not args.law_only)}


def _ratio(part: dict) -> str:
    r = part["width_ratio"]
    return f"{r['median']:.2f} of today's width (90% over the posterior: {r['lower']:.2f} to {r['upper']:.2f})"


def format_suggestion(result: dict) -> str:
    lines = [f"{result['fit']}: runs to narrow {result['quantity_means']} (C = {result['target_compute']:.3g} FLOP), "
             f"within {result['experiment_budget']:.3g} FLOP"]
    if not result["converged"]:
        lines.append("WARNING: the fit did NOT converge; its posterior cannot plan experiments")
    lines.append(f"{'N (parameters)':>16}{'D (tokens)':>14}{'C (FLOP)':>12}{'D/N':>9}")
    for run in result["suggested"]["runs"]:
        lines.append(f"{count(run['n_params']):>16}{count(run['n_tokens']):>14}{run['compute']:>12.3g}"
                     f"{run['tokens_per_param']:>9.1f}")
    suggested, standard = result["suggested"], result["standard"]
    lines.append(f"{len(suggested['runs'])} runs, {suggested['cost']:.3g} FLOP: the 90% interval of the decision "
                 f"(now {result['width_now']:.3f} wide) is expected to shrink to {_ratio(suggested)}")
    design = standard["design"]
    lines.append(f"a standard IsoFLOP design of the same cost ({design['sizes']} sizes at each of {design['budgets']} "
                 f"budgets, {standard['cost']:.3g} FLOP): {_ratio(standard)}")
    lines.append(f"misfit a planned run carries: {result['misfit']}")
    lines.append(f"({result['how']})")
    return "\n".join(lines)


def suggest(args: argparse.Namespace) -> int:
    result = suggestion(args)
    text = json.dumps(result, indent=2) if args.json else format_suggestion(result)
    if args.out:
        atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(text)
    return 0 if result["converged"] else 1
