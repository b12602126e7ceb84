"""Scale-out of the extrapolation backtest: the same ``calibrate`` splits serially and on a 2-worker Dask
LocalCluster, measured side by side in one run, with a check that both give the same numbers.

Prints wall-clock seconds, fits per minute (a split is one NUTS fit and one bootstrap), the speed-up, and the
bootstrap baseline's seconds beside the NUTS fit's for each split. Run with ``BAYES_SCALING_DATA`` set
(``make benchmark``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bayes_scaling.calibration import backtest
from bayes_scaling.fit.run import prepare
from bayes_scaling.spec import load_spec

REPO = Path(__file__).resolve().parents[1]


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
    print(f"{'scheduler':<22}{'wall s':>9}{'splits/min':>12}{'speed-up':>10}")
    for scheduler, (_, seconds) in runs.items():
        print(f"{scheduler:<22}{seconds:>9.1f}{60 * splits / seconds:>12.2f}"
              f"{runs['serial'][1] / seconds:>10.2f}")
    print(f"same numbers serial and on the LocalCluster: {not differences}")
    for fraction, method, key, x, y in differences:
        print(f"  differs: {fraction:.0%} {method} {'/'.join(map(str, key))}: {x!r} serial, {y!r} local")
    print(f"\n{'held out':<10}{'NUTS fit s':>12}{'bootstrap s':>13}   (serial run; {args.replicates} replicates)")
    rows = runs["serial"][0]
    for bayes, boot in zip(rows[::3], rows[2::3], strict=True):
        print(f"{bayes['fraction']:<10.0%}{bayes['seconds']:>12.1f}{boot['seconds']:>13.1f}")


if __name__ == "__main__":
    main()
