"""A fit of many simulated runs end to end: does it complete, how much CPU and memory, how large is posterior.nc?

Simulates an IsoFLOP sweep from Chinchilla's law (``--budgets`` budgets from 1e18 to 1e22 FLOP, ``--runs`` runs
in all, sizes over one decade per budget, Student-t noise on log loss), writes it as a CSV and runs
``bayes-scaling fit --law chinchilla`` on it in a child process under ``/usr/bin/time -v`` (user and system CPU
seconds, peak resident memory), then prints the stage times the fit logged, its verdict and the size of its
``posterior.nc``. Issue 19's bar: 100,000 runs complete with a ``posterior.nc`` under 1 GB.

    python benchmarks/bench_large_fit.py                 # 100,000 runs (about 15-20 CPU minutes)
    python benchmarks/bench_large_fit.py --runs 10000    # a quicker look
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bayes_scaling.laws import get_law
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.validation.simulate import isoflop_design, simulate_runs

TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
NOISE = {"sigma": 0.01, "nu": 5.0}


def simulated_csv(path: Path, runs: int, budgets: int, seed: int) -> int:
    """Write the simulated sweep to ``path``; returns its number of runs."""
    design = isoflop_design(np.logspace(18, 22, budgets), sizes_per_budget=max(1, runs // budgets))
    frame = simulate_runs(get_law("chinchilla"), TRUTH, design, get_likelihood("student_t"), NOISE, seed=seed)
    frame.to_csv(path, index=False)
    return len(frame)


def timed_fit(csv: Path, out: Path) -> tuple[dict[str, float], str]:
    """Run the fit under ``/usr/bin/time -v``: its CPU seconds and peak memory, and its log (stderr)."""
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "bayes_scaling.cli", "fit", "--law", "chinchilla",
               "--data", str(csv), "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the fit failed (exit {done.returncode}):\n{done.stderr[-3000:]}")

    def field(label: str) -> float:
        found = re.search(rf"{re.escape(label)}: ([0-9.]+)", done.stderr)
        return float(found.group(1)) if found else float("nan")

    measured = {"user": field("User time (seconds)"), "system": field("System time (seconds)"),
                "peak_gb": field("Maximum resident set size (kbytes)") / 1e6}
    return measured, done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--budgets", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="keep the CSV and the fit in this folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-large-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        csv = folder / "runs.csv"
        n = simulated_csv(csv, args.runs, args.budgets, args.seed)
        print(f"{n:,} simulated runs ({args.budgets} budgets) in {csv}", flush=True)
        measured, log = timed_fit(csv, folder / "fit")
        size = (folder / "fit" / "posterior.nc").stat().st_size
        for line in log.splitlines():
            if line.startswith("[") or line.startswith("verdict"):
                print("  " + line)
        print(f"CPU {measured['user'] + measured['system']:.0f} s (user {measured['user']:.0f}, system "
              f"{measured['system']:.0f}); peak memory {measured['peak_gb']:.2f} GB; posterior.nc "
              f"{size / 1e6:.0f} MB ({'under' if size < 1e9 else 'OVER'} 1 GB)")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
