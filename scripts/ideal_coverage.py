"""What a perfectly calibrated whole model would score per suite in the leave-one-suite-out table.

    python scripts/ideal_coverage.py build/extrapolation

For each scored suite fit (a tenth of the top budget) the whole model's joint predictive at the held-out runs is
drawn (law, discrepancy GP drawn jointly over the runs, extrapolation slope and budget offset, noise) and each draw in
turn taken as the truth: the spread of per-suite coverage a method that is exactly right on average would show. It
uses the packaged cross-suite prior (the table uses one learned without the suite), which only shifts the slope's
mean, not the spread this measures.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from bayes_scaling.result import load
from bayes_scaling.validation.extrapolation_errors import SCORED_CUT, Task
from bayes_scaling.validation.holdout import predictive_log_loss
from bayes_scaling.validation.leave_one_suite_out import at_least, held_dataset, ideal_coverage
from bayes_scaling.validation.suites import SUITES

SEED = 20261201
BAND = (0.80, 0.97)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print("| suite | law | held-out runs | P(90% coverage in 80-97%) | P(100%) | P(< 80%) | P(50% coverage < 35%) |")
    print("|---|---|---|---|---|---|---|")
    in_band: dict[str, list[float]] = {}
    for suite in SUITES:
        for law in suite.laws:
            task = Task(suite.name, law, SCORED_CUT)
            path = args.folder / f"{task.key}.nc"
            if not path.exists():
                continue
            held = held_dataset(task)
            samples = predictive_log_loss(load(path), held, np.random.default_rng(SEED), discrepancy=True)
            ninety = ideal_coverage(samples, level=0.9, seed=SEED)
            fifty = ideal_coverage(samples, level=0.5, seed=SEED)
            share = float(np.mean((ninety >= BAND[0]) & (ninety <= BAND[1])))
            in_band.setdefault(law, []).append(share)
            print(f"| {suite.name} | {law} | {held.sizes['run']} | {share:.2f} | {np.mean(ninety == 1):.2f} | "
                  f"{np.mean(ninety < BAND[0]):.2f} | {np.mean(fifty < 0.35):.2f} |")
    for law, shares in in_band.items():
        expected = sum(shares)
        print(f"\n{law}: expected suites in band {expected:.1f} of {len(shares)}; "
              f"P(at least 8 in band) = {at_least(np.array(shares), 8):.2f}")


if __name__ == "__main__":
    main()
