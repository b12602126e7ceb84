"""Fit every development suite below its top budgets and write the held-out errors (the cross-suite model's data):
``errors.csv`` (log loss) and ``allocation_errors.csv`` (log10 N_opt of held-out IsoFLOP budgets).

    python scripts/extrapolation_errors.py build/extrapolation [--scheduler local] [--workers 2] [--only SUITE] \
        [--law LAW] [--discrepancy in_model] [--budget-effect auto]

Fits are saved beside the table (``<suite>-<law>-cut<c>.nc``) and reused when the script runs again.
"""

from __future__ import annotations

import argparse
import logging
from functools import partial
from pathlib import Path

from bayes_scaling.result import load
from bayes_scaling.spec import BUDGET_EFFECTS, DISCREPANCY_MODES
from bayes_scaling.util.parallel import run_tasks
from bayes_scaling.validation.allocation_errors import allocation_errors_of
from bayes_scaling.validation.extrapolation_errors import all_tasks, errors_table, run_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--scheduler", default="local")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", action="append", help="suite name (repeatable)")
    parser.add_argument("--law", action="append", help="law name (repeatable; default: every law of each suite)")
    parser.add_argument("--discrepancy", choices=DISCREPANCY_MODES, default="after",
                        help="where the GP is fitted (use a separate folder per choice)")
    parser.add_argument("--budget-effect", choices=BUDGET_EFFECTS, default="none",
                        help="a random offset per budget (auto) or none (use a separate folder per choice)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    args.folder.mkdir(parents=True, exist_ok=True)
    tasks = [task for task in all_tasks() if (not args.only or task.suite in args.only)
             and (not args.law or task.law in args.law)]

    def progress(done: int, total: int) -> None:
        print(f"{done}/{total} suite fits done", flush=True)

    fit_task = partial(run_task, folder=args.folder, discrepancy=args.discrepancy, budget_effect=args.budget_effect)
    results, seconds = run_tasks(fit_task, tasks, scheduler=args.scheduler, workers=args.workers, progress=progress)
    table = errors_table(results)
    table.to_csv(args.folder / "errors.csv", index=False)
    allocation = [allocation_errors_of(load(args.folder / f"{task.key}.nc"), task) for task in tasks
                  if (args.folder / f"{task.key}.nc").exists()]
    errors_table(allocation).to_csv(args.folder / "allocation_errors.csv", index=False)
    unconverged = sorted({task.key for task, result in zip(tasks, results, strict=True) if not result["converged"]})
    print(f"{len(table)} held-out errors from {len(tasks)} fits in {seconds:.0f} s; not converged: {unconverged}")


if __name__ == "__main__":
    main()
