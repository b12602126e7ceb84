"""SBC cost of the IsoFLOP law under its earlier priors (N_0 and C_c on their own values, wide) and its current ones
(on the optimum and the frontier at the data's centre budget), measured side by side in one run.

Prints one table, a column per prior set: the prior predictive's median simulated loss (5th to 95th percentile over
datasets, nats), the share of datasets whose optimum at the centre budget lies inside the runs' sizes, and seconds
per SBC fit (model compiled once, data swapped in; serial), then the ratio. Run with ``BAYES_SCALING_DATA`` set
(``make benchmark``); the earlier priors take tens of seconds to minutes per fit, so the default is 8 simulations
each.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from bayes_scaling.priors import Prior
from bayes_scaling.sampling.model import all_priors, centre_of, prior_draws
from bayes_scaling.sampling.run import prepare
from bayes_scaling.spec import load_spec
from bayes_scaling.validation.sbc import sbc, simulate_log_loss

REPO = Path(__file__).resolve().parents[1]
#: The IsoFLOP law's default priors before the prior predictive check (session 7), where they differ.
EARLIER = {
    "N_0": Prior("LogNormal", {"mu": -7.0, "sigma": 10.0}),
    "C_c": Prior("LogNormal", {"mu": 65.5, "sigma": 8.0}),
    "u": Prior("LogNormal", {"mu": -0.69, "sigma": 1.5}),
    "v": Prior("LogNormal", {"mu": -0.69, "sigma": 1.5}),
}


def prior_predictive_summary(prepared, draws: int = 400, seed: int = 0) -> tuple[str, float]:
    """'median [5%, 95%]' of each simulated dataset's median loss, and the share of optima inside the runs."""
    rng = np.random.default_rng(seed)
    truths = prior_draws(prepared.law, prepared.likelihood, prepared.priors, prepared.runs, rng, draws)
    medians = []
    for i in range(draws):
        y = simulate_log_loss(prepared, {k: float(v[i]) for k, v in truths.items()}, rng)
        medians.append(float(np.exp(np.median(y))) if np.all(np.isfinite(y)) else np.nan)
    low, mid, high = np.nanquantile(medians, [0.05, 0.5, 0.95])
    log_n = np.log(prepared.runs.column("n_params"))
    log_opt = np.log(truths["N_0"]) + truths["a"] * centre_of(prepared.runs, "compute")
    inside = float(np.mean((log_opt > log_n.min()) & (log_opt < log_n.max())))
    return f"{mid:.3g} [{low:.3g}, {high:.3g}]", inside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(REPO / "models" / "epoch-isoflop.toml"))
    parser.add_argument("--simulations", type=int, default=8)
    args = parser.parse_args()
    current = prepare(load_spec(args.spec))
    earlier = dataclasses.replace(current, priors=all_priors(current.law, current.likelihood, EARLIER))
    columns = {}
    for label, prepared in (("earlier priors", earlier), ("current priors", current)):
        losses, inside = prior_predictive_summary(prepared)
        start = time.perf_counter()
        result = sbc(prepared, args.simulations, seed=1, draws=500, tune=500, scheduler="serial")
        fitted = result["simulations"] - result["skipped"]
        columns[label] = (losses, inside, sum(result["task_seconds"]) / max(fitted, 1),
                          time.perf_counter() - start, result["unconverged"], fitted)
    print(f"{'':<44}" + "".join(f"{label:>26}" for label in columns))
    rows = (("prior predictive median loss (nats)", lambda c: c[0]),
            ("optimum at the centre budget inside runs", lambda c: f"{c[1]:.0%}"),
            ("seconds per SBC fit", lambda c: f"{c[2]:.1f}"),
            ("fits failing the diagnostics", lambda c: f"{c[4]} of {c[5]}"))
    for name, cell in rows:
        print(f"{name:<44}" + "".join(f"{cell(c):>26}" for c in columns.values()))
    ratio = columns["earlier priors"][2] / columns["current priors"][2]
    print(f"SBC fits are {ratio:.0f}x faster with the current priors")


if __name__ == "__main__":
    main()
