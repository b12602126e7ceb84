"""Learn the cross-suite extrapolation prior from the suites' held-out errors and score it leave-one-suite-out.

    python scripts/learn_extrapolation_prior.py build/extrapolation --version 2026.12.1 \
        [--write bayes_scaling/uncertainty/extrapolation_prior.json] [--table docs/leave_one_suite_out.json] \
        [--between student_t] [--shared-errors] [--drift-scale learn]

Reads ``errors.csv`` and the suite fits that ``scripts/extrapolation_errors.py`` wrote into the folder.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pandas as pd

from bayes_scaling.util.files import atomic_write_text
from bayes_scaling.validation.drift_scale import learn_scales
from bayes_scaling.validation.extrapolation_learning import BETWEEN, fit_cross_suite, summary
from bayes_scaling.validation.leave_one_suite_out import markdown_table, score_suite
from bayes_scaling.validation.suites import SUITES

SEED = 20261201


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--version", required=True)
    parser.add_argument("--write", type=Path, help="write the packaged prior here")
    parser.add_argument("--table", type=Path, help="write the leave-one-suite-out rows here (JSON)")
    parser.add_argument("--between", choices=BETWEEN, default="normal",
                        help="how the suites' slopes spread around the mean slope")
    parser.add_argument("--shared-errors", action="store_true",
                        help="a refit's systematic uncertainty (the law's) is one shift of its held-out runs "
                             "(needs errors.csv with the shared column, session 19)")
    parser.add_argument("--drift-scale", choices=("none", "learn", "reuse"), default="none",
                        help="learn kappa, the factor on the drift's spread, by leave-one-suite-out CRPS (nested for "
                             "the table; bayes_scaling.validation.drift_scale), or reuse the folder's "
                             "drift-scales.json from an earlier run")
    parser.add_argument("--draws-from", type=Path,
                        help="with --write and --drift-scale learn: keep this prior file's draws (a packaged prior), "
                             "adding only the learned kappa, so its users' slopes move by kappa alone")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    errors = pd.read_csv(args.folder / "errors.csv")
    if args.drift_scale != "none" and args.shared_errors:
        parser.error("--drift-scale is defined for the cross-suite model without --shared-errors")
    scales = {}
    if args.drift_scale == "reuse":
        scales = json.loads((args.folder / "drift-scales.json").read_text(encoding="utf-8"))
    if args.drift_scale == "learn":
        for law in sorted(errors["law"].unique()):
            scales[law] = learn_scales(args.folder, errors, law, seed=SEED, between=args.between)
            print(law, "kappa packaged", scales[law]["packaged"], "left out", scales[law]["left_out"],
                  "every cross-suite fit converged" if scales[law]["priors_converged"] else
                  "A CROSS-SUITE FIT DID NOT CONVERGE", flush=True)
        stored = {law: {key: value for key, value in found.items() if key != "priors"} for law, found in scales.items()}
        atomic_write_text(args.folder / "drift-scales.json", json.dumps(stored, indent=1) + "\n")
    if args.write and args.draws_from:
        if not scales:
            parser.error("--draws-from adds a learned kappa: give --drift-scale learn or reuse")
        kept = json.loads(args.draws_from.read_text(encoding="utf-8"))
        for law, found in scales.items():
            kept["laws"][law]["drift_scale"] = found["packaged"]
        kept["draws_from"] = kept["version"]
        kept["version"] = args.version
        kept["drift_scale"] = "bayes_scaling.validation.drift_scale (leave-one-suite-out CRPS; 'any' unscaled)"
        atomic_write_text(args.write, json.dumps(kept, indent=None, separators=(",", ":")) + "\n")
    elif args.write:
        laws = {}
        allocation = pd.read_csv(args.folder / "allocation_errors.csv")
        for law in (*sorted(errors["law"].unique()), "any"):
            rows = errors if law == "any" else errors[errors["law"] == law]
            laws[law] = fit_cross_suite(rows, seed=SEED, between=args.between, shared=args.shared_errors)
            if law in scales:  # "any" (laws without a prior of their own) keeps the unscaled spread
                laws[law]["drift_scale"] = scales[law]["packaged"]
            print(law, laws[law]["diagnostics"], summary(laws[law]), flush=True)
            rows = allocation if law == "any" else allocation[allocation["law"] == law]
            laws[law]["allocation"] = fit_cross_suite(rows, seed=SEED, between=args.between)
            print(law, "N_opt", laws[law]["allocation"]["diagnostics"], summary(laws[law]["allocation"]), flush=True)
        stored = {"version": args.version, "method": "bayes_scaling.validation.extrapolation_learning",
                  "suites_errors": "scripts/extrapolation_errors.py (budgets 0.5, 1 and 1.5 decades below the top)",
                  "laws": laws}
        fits = {**laws, **{f"{law} N_opt": found["allocation"] for law, found in laws.items()}}
        failed = [name for name, found in fits.items() if not found["diagnostics"]["converged"]]
        if failed:
            raise SystemExit(f"not writing {args.write}: the cross-suite model did not converge for {', '.join(failed)}"
                             " (see the diagnostics printed above); a prior is packaged only from converged fits")
        atomic_write_text(args.write, json.dumps(stored, indent=None, separators=(",", ":")) + "\n")
    if args.table:
        rows = []
        for suite in SUITES:
            for law in suite.laws:
                learned = scales.get(law, {})
                found = score_suite(args.folder, suite.name, law, errors, seed=SEED, between=args.between,
                                    shared=args.shared_errors,
                                    drift_scale=learned.get("left_out", {}).get(suite.name, 1.0),
                                    learned=learned.get("priors", {}).get(suite.name))
                for row in found:
                    mark = "" if row["prior_converged"] else "  (cross-suite prior NOT CONVERGED)"
                    print(f"{row['suite']:22} {row['law']:10} {row['method']:12} kappa {row['drift_scale']:.2f} "
                          f"90%: {row['coverage'][0.9]:.0%} "
                          f"50%: {row['coverage'][0.5]:.0%} CRPS {row['crps']:.4f} n={row['n_runs']}{mark}", flush=True)
                rows.extend(found)
        atomic_write_text(args.table, json.dumps(rows, indent=1, default=str) + "\n")
        print(markdown_table(rows))


if __name__ == "__main__":
    main()
