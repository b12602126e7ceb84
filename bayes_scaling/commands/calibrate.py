"""``bayes-scaling calibrate``: extrapolation backtests of a spec, Bayesian fit beside the bootstrap baseline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bayes_scaling.commands.arguments import spec_from_args
from bayes_scaling.sampling.run import prepare
from bayes_scaling.util.files import atomic_write_text
from bayes_scaling.util.progress import Eta
from bayes_scaling.validation.calibration import backtest, rows_as_json
from bayes_scaling.validation.holdout import LEVELS, is_scored, optimum_text


def format_backtest(name: str, rows: list[dict]) -> str:
    """The backtest as a table: one line per held-out fraction and method."""
    head = (f"{'held out':<10}{'method':<19}{'runs':>6}{'budgets':>8}"
            + "".join(f"{f'{level:.0%} cov':>9}" for level in LEVELS)
            + f"{'90%/budget':>11}{'90% width':>11}{'CRPS':>9}{'log score':>11}{'N_opt in 90%':>14}{'seconds':>9}")
    lines = [f"{name}: extrapolation backtest, whole budgets held out (coverage of central predictive intervals on "
             "held-out log loss, per run and averaged per budget)", head]
    for row in rows:
        start = f"{row['fraction']:<10.0%}{row['method']:<19}{row['n_runs']:>6}{row.get('n_budgets', '–'):>8}"
        if not is_scored(row):
            lines.append(start + f"  not scored: the refit did not converge ({row['seconds']:.1f} s)")
            continue
        log_score = f"{row['log_score']:>11.2f}" if "log_score" in row else f"{'–':>11}"
        per_budget = row.get("budget_coverage", {}).get(0.9)
        lines.append(start + "".join(f"{row['coverage'][level]:>9.0%}" for level in LEVELS)
                     + (f"{per_budget:>11.0%}" if per_budget is not None else f"{'–':>11}")
                     + f"{row['width'][0.9]:>11.4f}{row['crps']:>9.4f}{log_score}{optimum_text(row):>14}"
                     + f"{row['seconds']:>9.1f}")
    return "\n".join(lines)


#: Version of the JSON ``calibrate --json`` prints.
SCHEMA_VERSION = 1


def calibrate(args: argparse.Namespace) -> int:
    """Run the backtests; print a table (or JSON) and optionally save the JSON."""
    spec = spec_from_args(args)
    if any(not 0 < f < 1 for f in args.hold_out):
        raise ValueError(f"--hold-out fractions must lie in (0, 1), got {args.hold_out}")
    if args.replicates < 2:
        raise ValueError(f"--replicates must be at least 2, got {args.replicates}")
    prepared = prepare(spec)  # everything checked before the first fit

    progress = Eta(lambda line: print(line, file=sys.stderr), "held-out splits scored (Bayesian fit and bootstrap)")

    rows, seconds = backtest(prepared, tuple(args.hold_out), replicates=args.replicates, seed=spec.sampler.seed,
                             starts=args.bootstrap_starts, scheduler=args.scheduler, workers=args.workers,
                             progress=progress)
    busy = sum(row["seconds"] for row in rows if row["method"] in ("bayes", "bootstrap"))  # one Bayesian fit each
    result = {"schema_version": SCHEMA_VERSION, "analysis": spec.name, "law": spec.law, "seed": spec.sampler.seed,
              "replicates": args.replicates,
              "scheduler": args.scheduler, "seconds": seconds, "speedup": busy / seconds,
              "rows": rows_as_json(rows)}
    if args.out:
        atomic_write_text(Path(args.out), json.dumps(result, indent=1))
    print(json.dumps(result, indent=1) if args.json else format_backtest(spec.name, rows) + (
        f"\n{seconds:.0f} s wall clock on {args.scheduler}; the fits took {busy:.0f} s in all "
        f"(speed-up {busy / seconds:.2f}x)"))
    return 0
