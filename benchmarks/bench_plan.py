"""The page's answer (``plan`` at the page's budgets) on saved fits, this code against another
commit, side by side in one run: CPU seconds per fit, their ratio, and how far the two answers' numbers are apart.

    python benchmarks/bench_plan.py reports/chinchilla reports/epoch-isoflop --against HEAD~1

Each side runs in its own process (the other commit from a temporary ``git worktree``), loads every fit first and
then times :func:`bayes_scaling.report.answer.answer_plan` on each, ``--repeats`` times, keeping the least CPU time
(``time.process_time``: user + system of the process, robust to a busy machine). Run from the repository root.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: What each side runs: its source folder, repeats and fits' folders in argv; on stdout, JSON of
#: {folder: [cpu seconds, answer]} and the package file it imported (to show which code ran).
CHILD = """
import json, sys, time
sys.meta_path = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
sys.path.insert(0, sys.argv.pop(1))  # the side's source, before an editable install's
from bayes_scaling.report.answer import answer_plan
from bayes_scaling.result import load
repeats = int(sys.argv[1])
fits = {folder: load(folder + "/posterior.nc") for folder in sys.argv[2:]}
out = {}
for folder, fit in fits.items():
    fit.posterior  # the draws read before the clock starts
    best, answer = float("inf"), None
    for _ in range(repeats):
        start = time.process_time()
        answer = answer_plan(fit, ())
        best = min(best, time.process_time() - start)
    out[folder] = [best, answer]
import bayes_scaling
out["package"] = bayes_scaling.__file__
print(json.dumps(out, default=str))
"""


def run_side(source: Path, folders: list[str], repeats: int) -> dict[str, list]:
    """CPU seconds and answer per fit folder, with ``source`` first on the import path."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(source), str(repeats), *folders], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def largest_difference(old, new) -> float:
    """The largest relative difference between two answers' numbers (0 if equal; inf if their shapes differ)."""
    if isinstance(old, dict) and isinstance(new, dict):
        if old.keys() != new.keys():
            return float("inf")
        return max((largest_difference(old[key], new[key]) for key in old), default=0.0)
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return float("inf")
        return max((largest_difference(a, b) for a, b in zip(old, new, strict=True)), default=0.0)
    if isinstance(old, bool) or isinstance(new, bool) or not isinstance(old, int | float):
        return 0.0 if old == new else float("inf")
    if not isinstance(new, int | float):
        return float("inf")
    scale = max(abs(old), abs(new))
    return 0.0 if scale == 0 else abs(old - new) / scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="report folders of saved fits (posterior.nc inside)")
    parser.add_argument("--against", default="HEAD", help="the commit to compare with (default: HEAD)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    folders = [str(Path(folder).resolve()) for folder in args.folders]
    missing = [folder for folder in folders if not (Path(folder) / "posterior.nc").is_file()]
    if missing:
        parser.error(f"no posterior.nc in {', '.join(missing)}: pass report folders of saved fits "
                     "(`bayes-scaling report models --out reports` writes them)")
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(other), args.against], check=True, cwd=REPO)
        try:
            old = run_side(other, folders, args.repeats)
            new = run_side(REPO, folders, args.repeats)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], check=True, cwd=REPO)
    print(f"code: {old['package']} against {new['package']}")
    print(f"{'fit':<40}{args.against + ' CPU s':>14}{'this CPU s':>12}{'ratio':>8}{'largest rel. diff':>20}")
    for folder in folders:
        (t_old, a_old), (t_new, a_new) = old[folder], new[folder]
        print(f"{Path(folder).name:<40}{t_old:>14.2f}{t_new:>12.2f}{t_new / t_old:>8.2f}"
              f"{largest_difference(a_old, a_new):>20.2e}")
    total_old = sum(old[f][0] for f in folders)
    total_new = sum(new[f][0] for f in folders)
    print(f"{'all':<40}{total_old:>14.2f}{total_new:>12.2f}{total_new / total_old:>8.2f}")


if __name__ == "__main__":
    main()
