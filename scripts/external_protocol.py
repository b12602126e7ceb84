"""Issue 15's check for other labs' sweeps, run on Porian et al.'s *raw* runs as a user would run it: fit each law
with its command-line defaults to the budgets up to a tenth of the top one, score every run of the larger budgets.

    python scripts/external_protocol.py build/external [--law chinchilla] [--only porian-rw-tuned] \
        [--discrepancy in_model] [--prior extrapolation_prior.json] [--out external-other.csv]

Each fit is `bayes_scaling.fit(train, law=LAW)` (what `bayes-scaling fit --law LAW --data train.csv` does) and each
score `fit.score(test)` (`bayes-scaling score`). Pass = converged, 90% coverage inside the central 99% Binomial band
of a true 90% interval, 50% coverage at least 35%. The packaged extrapolation prior was learned from these suites
(within their loss window), so this is not out of sample; it shows what the command-line path does with the far tails
of raw profiles. Writes ``external.csv`` and prints a markdown table. Each fit is saved under ``fits/`` in the folder
and reused by a later run; ``--prior`` scores them with another cross-suite prior file (the packaged format), its
slope recombined with each fit's own leave-future-out errors as the packaged one was.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from bayes_scaling import api
from bayes_scaling.data.filters import split_below_top
from bayes_scaling.data.load import load_runs
from bayes_scaling.spec import DISCREPANCY_MODES
from bayes_scaling.uncertainty.extrapolation import prior_from_dict
from bayes_scaling.validation.holdout import honest_range
from bayes_scaling.validation.suites import SUITES

COLUMNS = ["n_params", "n_tokens", "compute", "loss"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--law", action="append", help="law (repeatable; default chinchilla and isoflop)")
    parser.add_argument("--only", action="append", help="suite name (repeatable; default every Porian suite)")
    parser.add_argument("--discrepancy", choices=DISCREPANCY_MODES, help="where the GP is fitted (default: the "
                        "command line's default; use a separate folder per choice)")
    parser.add_argument("--prior", type=Path, help="a cross-suite prior file to score the fits with (default: the "
                        "packaged one each fit was made with)")
    parser.add_argument("--out", default="external.csv", help="the table's file name in the folder")
    args = parser.parse_args()
    other = None if args.prior is None else json.loads(args.prior.read_text(encoding="utf-8"))
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s")
    args.folder.mkdir(parents=True, exist_ok=True)
    laws = args.law or ["chinchilla", "isoflop"]
    rows = []
    for suite in SUITES:
        if not suite.name.startswith("porian") or (args.only and suite.name not in args.only):
            continue
        raw = load_runs(replace(suite.data, filters={}))
        train, test = split_below_top(raw, 1.0)
        for law in laws:
            began = time.process_time()
            saved = args.folder / "fits" / f"{suite.name}-{law}"
            if (saved / "posterior.nc").exists():
                fit = api.load(saved)
            else:
                chosen = {} if args.discrepancy is None else {"discrepancy": args.discrepancy}
                fit = api.fit(train.frame[COLUMNS], law=law, name=f"{suite.name}-{law}", **chosen)
                fit.save(saved)
            if other is not None:
                key = law if law in other["laws"] else "any"
                fit = fit.with_extrapolation(prior_from_dict(key, other["laws"][key], other["version"]))
            scored = fit.score(test.frame[COLUMNS]).attrs["score"]
            summary = scored["summary"]
            n = summary["n_runs"]
            low, high = honest_range(n)
            c50, c90 = summary["coverage"]["0.5"], summary["coverage"]["0.9"]
            passed = fit.converged and low - 1e-9 <= c90 <= high + 1e-9 and c50 >= 0.35
            rows.append({"suite": suite.name, "law": law, "train_runs": len(train), "scored_runs": n,
                         "budgets": summary["n_budgets"], "converged": fit.converged, "coverage_50": c50,
                         "coverage_90": c90, "crps": summary["crps"], "band_low": low, "band_high": high,
                         "pass": passed, "cpu_s": time.process_time() - began})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(args.folder / args.out, index=False)
    print("| runs | law | scored runs (budgets) | converged | 50% | 90% | CRPS | 90% band | pass |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in table.to_dict("records"):
        print(f"| {r['suite'].removeprefix('porian-')} | {r['law']} | {r['scored_runs']} ({r['budgets']}) | "
              f"{'yes' if r['converged'] else 'NO'} | {r['coverage_50']:.0%} | {r['coverage_90']:.0%} | "
              f"{r['crps']:.4f} | {r['band_low']:.0%}-{r['band_high']:.0%} | {'yes' if r['pass'] else 'no'} |")
    print(f"{int(table['pass'].sum())} of {len(table)} pass; {int(table['converged'].sum())} converged")


if __name__ == "__main__":
    main()
