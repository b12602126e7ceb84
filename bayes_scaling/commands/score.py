"""``bayes-scaling score FIT --data NEW_RUNS.csv``: were the runs you trained since where the fit said they would be?"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bayes_scaling.api import load
from bayes_scaling.commands.arguments import columns_from_flags
from bayes_scaling.util.files import atomic_write_text


def format_score(result: dict) -> str:
    """Per-run lines (observed loss, median, 90% interval, decades beyond the data) and the summary and verdict."""
    summary = result["summary"]
    lines = [f"{result['fit']}: {summary['n_runs']} new runs in {summary['n_budgets']} budgets against the fit's "
             f"whole predictive ({result['includes']})",
             f"{'run':>5} {'compute':>10} {'loss':>8} {'median':>8} {'90% interval':>20} {'decades beyond':>15}"]
    for run in result["runs"]:
        interval = run["intervals"]["0.9"]
        mark = ("" if interval["covered"] else "  outside") + ("  (beyond the fit's window)"
                                                               if run.get("outside_window") else "")
        lines.append(f"{run['run']:>5} {run.get('compute', float('nan')):>10.3g} {run['loss']:>8.4f} "
                     f"{run['median']:>8.4f} {f'[{interval['lower']:.4f}, {interval['upper']:.4f}]':>20} "
                     f"{run['decades_beyond']:>15.2f}{mark}")
    lines.append("coverage of central intervals, per run (per budget): " + ", ".join(
        f"{float(level):.0%} {summary['coverage'][level]:.0%} ({summary['budget_coverage'][level]:.0%})"
        for level in summary["coverage"]))
    lines.append(f"CRPS {summary['crps']:.4f} and log score {summary['log_score']:.2f} on log loss; the runs lie up to "
                 f"{summary['decades_beyond']:.2f} decades of compute beyond the fit's data")
    window = summary.get("window")
    if window and window["outside"]:
        said = ", ".join(f"{name}={value:g}" for name, value in window["filters"].items())
        inside = window["coverage_inside"].get("0.9")
        lines.append(f"{window['outside']} of {summary['n_runs']} runs lie beyond the fit's {said} (the fit saw no run "
                     f"that far from its budget's best): their intervals extrapolate along the IsoFLOP profile"
                     + (f"; 90% coverage of the other runs {inside:.0%}" if inside is not None else ""))
    lines.append(f"verdict: {result['verdict']}")
    return "\n".join(lines)


def score(args: argparse.Namespace) -> int:
    """Score new runs against a saved fit; exit 0 (the verdict is in the output, not the exit status)."""
    fit = load(args.fit)
    units = {k: v for k, v in (("compute", args.compute_unit), ("loss", args.loss_unit)) if v}
    result = fit.score(args.data, columns=columns_from_flags(args), units=units, seed=args.seed,
                       compute_tolerance=args.compute_tolerance).attrs["score"]
    if args.out:
        atomic_write_text(Path(args.out), json.dumps(result, indent=1))
    print(json.dumps(result, indent=1) if args.json else format_score(result))
    return 0
