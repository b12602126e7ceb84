"""Fast re-runs: ``bayes-scaling report`` on the shipped specs into an empty folder, then again with nothing
changed (every fit and page reused), measured side by side in one run.

Prints both wall-clock times and their ratio (target: the second under a fifth of the first). Run from the
repository root with ``BAYES_SCALING_DATA`` set (``make benchmark``); ``--specs`` picks other specs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed_report(specs: list[str], out: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bayes_scaling.cli", "-q", "report", *specs, "--out", str(out)],
                   check=True, cwd=REPO)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", nargs="+", default=[str(REPO / "models")])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        first = timed_report(args.specs, Path(tmp))
        second = timed_report(args.specs, Path(tmp))
    print(f"{'run':<34}{'seconds':>10}")
    print(f"{'first (fit and render everything)':<34}{first:>10.1f}")
    print(f"{'second (nothing changed)':<34}{second:>10.1f}")
    print(f"ratio second / first: {second / first:.3f} (target < 0.2)")


if __name__ == "__main__":
    main()
