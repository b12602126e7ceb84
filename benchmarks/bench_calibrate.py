"""Scale-out of the extrapolation backtest: the same ``calibrate`` splits serially and on a 2-worker Dask
LocalCluster, measured side by side in one run, with a check that both give the same numbers.

Prints one table, a column per scheduler: wall-clock seconds, splits and NUTS fits per minute, seconds per fit,
min bulk ESS per sampling second of the default sampler, the bootstrap baseline's seconds on the same splits, and
the speed-up; then whether every number agrees. Run with ``BAYES_SCALING_DATA`` set (``make benchmark``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bayes_scaling.sampling.run import prepare
from bayes_scaling.spec import load_spec
from bayes_scaling.validation.calibration import backtest

REPO = Path(__file__).resolve().parents[1]
#: Relative differences below this are floating-point rounding (a sum taken in another order), not other numbers.
ROUNDING = 1e-9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(REPO / "models" / "chinchilla.toml"))
    parser.add_argument("--hold-out", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.4])
    parser.add_argument("--replicates", type=int, default=100)
    args = parser.parse_args()
    prepared = prepare(load_spec(args.spec))
    runs = {}
    for scheduler in ("serial", "local"):
        rows, seconds = backtest(prepared, tuple(args.hold_out), replicates=args.replicates,
                                 seed=prepared.spec.sampler.seed, scheduler=scheduler, workers=2)
        runs[scheduler] = (rows, seconds)
    differences = []
    for a, b in zip(runs["serial"][0], runs["local"][0], strict=True):
        keys = [("crps",), ("log_score",), *(("coverage", level) for level in a["coverage"]),
                *(("width", level) for level in a["width"])]
        for key in keys:
            x, y = (row.get(key[0]) if len(key) == 1 else row[key[0]][key[1]] for row in (a, b))
            if x is not None and x != y:
                differences.append((a["fraction"], a["method"], key, x, y))
    splits = len(args.hold_out)
    columns = {"serial": "serial", "local": "LocalCluster (2 workers)"}
    table = {scheduler: _measures(rows, seconds, splits) for scheduler, (rows, seconds) in runs.items()}
    table["local"]["speed-up over serial (wall clock)"] = runs["serial"][1] / runs["local"][1]
    table["serial"]["speed-up over serial (wall clock)"] = 1.0
    print(f"\n{splits} extrapolation splits of {prepared.spec.name}, each one NUTS fit (4 chains) and one bootstrap "
          f"of {args.replicates} resamples")
    print(f"{'measure':<48}" + "".join(f"{label:>26}" for label in columns.values()))
    for measure in table["serial"]:
        print(f"{measure:<48}" + "".join(f"{table[s][measure]:>26.2f}" for s in columns))
    worst = max((abs(x - y) / max(abs(x), abs(y), 1e-300) for *_, x, y in differences), default=0.0)
    verdict = ("yes, bit for bit" if not differences else
               f"to rounding only (largest relative difference {worst:.1e})" if worst < ROUNDING else "NO")
    print(f"same numbers serial and on the LocalCluster: {verdict}")
    for fraction, method, key, x, y in differences:
        print(f"  differs: {fraction:.0%} {method} {'/'.join(map(str, key))}: {x!r} serial, {y!r} local")


def _measures(rows: list[dict], seconds: float, splits: int) -> dict[str, float]:
    """The benchmark's measures of one scheduler's run."""
    bayes = [row for row in rows if row["method"] == "bayes"]
    boot = [row for row in rows if row["method"] == "bootstrap"]
    return {
        "wall-clock seconds": seconds,
        "splits per minute (fit + bootstrap)": 60 * splits / seconds,
        "NUTS fits per minute": 60 * len(bayes) / seconds,
        "seconds per NUTS fit (compile, sample, tree)": sum(r["seconds"] for r in bayes) / len(bayes),
        "sampling seconds per fit": sum(r["sampling_seconds"] for r in bayes) / len(bayes),
        "min bulk ESS per sampling second": sum(r["min_ess_bulk"] / r["sampling_seconds"] for r in bayes) / len(bayes),
        "bootstrap seconds per split": sum(r["seconds"] for r in boot) / len(boot),
    }

if __name__ == "__main__":
    main()
