"""The drift's leave-future-out refits started inside the main fit's posterior, beside refits from scratch.

For each spec: one fit, then its three refits (:func:`bayes_scaling.uncertainty.drift.refit_errors`) four ways in
this one process: from the model's own initial point with 500 tuning steps and 500 draws per chain (the refits
before session 14), the same with another seed (the Monte Carlo noise), from the model's initial point with the warm
settings (``drift.WARM_CHAINS`` chains of ``WARM_TUNE`` tuning steps and ``WARM_DRAWS`` draws: 2 x 200/500 since
session 24, 4 x 200/250 before), and from the main fit's warm start with them (today's refits). Prints their CPU seconds
(``time.process_time``, which counts nutpie's chain threads), leapfrog steps, and how far each moves the held-out
errors (largest shift in units of the cold refits' sd) and their variances (largest relative change).

    python benchmarks/bench_refits.py [SPEC ...]     # default: models/chinchilla.toml models/epoch-kaplan-joint.toml
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from bayes_scaling.sampling import sampler as sampler_module
from bayes_scaling.sampling.run import prepare, sample_prepared
from bayes_scaling.spec import load_spec
from bayes_scaling.uncertainty import drift

#: The warm settings as printed: chains x tuning/draws.
WARM = f"{drift.WARM_CHAINS} x {drift.WARM_TUNE}/{drift.WARM_DRAWS}"

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SPECS = ("models/chinchilla.toml", "models/epoch-kaplan-joint.toml")
RESEED = 7


STEPS = [0]
REAL_RUN, REAL_SETTINGS = sampler_module.run_nuts, drift.refit_settings


def counting(*args, **kwargs):
    """``run_nuts`` that adds the leapfrog steps of its draws to :data:`STEPS`."""
    result = REAL_RUN(*args, **kwargs)
    STEPS[0] += int(result.sample_stats["n_steps"].sum())
    return result


def refits(prepared, sampled, warm_settings: bool, start, seed_shift: int = 0):
    """The three refits with the warm settings or the cold ones (500/500), from ``start`` or the model's
    initial point: their own errors, CPU seconds and leapfrog steps."""
    drift.refit_settings = lambda sampler, warm: REAL_SETTINGS(sampler, warm_settings)
    sampler = dataclasses.replace(prepared.spec.sampler, seed=prepared.spec.sampler.seed + seed_shift)
    item = dataclasses.replace(prepared, spec=dataclasses.replace(prepared.spec, sampler=sampler))
    STEPS[0] = 0
    begun = time.process_time()
    own = drift.refit_errors(item, sampled.built, sampled.compiled, 0.0, start)
    return own, time.process_time() - begun, STEPS[0]


def main() -> None:
    specs = sys.argv[1:] or [str(REPO / spec) for spec in DEFAULT_SPECS]
    drift.run_nuts = counting
    print(f"{'spec':<34} {'refits':<26} {'CPU s':>6} {'steps':>8} {'errors moved':>13} {'variances':>10}")
    for path in specs:
        prepared = prepare(load_spec(path))
        sampled = sample_prepared(prepared)
        cold, seconds, count = refits(prepared, sampled, False, None)
        sd = np.sqrt(cold.variances)
        name = Path(path).name
        print(f"{name:<34} {'from scratch 500/500':<26} {seconds:6.2f} {count:8d} {'':>13} {'':>10}")
        for label, warm_settings, start, shift in (("from scratch, other seed", False, None, RESEED),
                                                   (f"from scratch {WARM}", True, None, 0),
                                                   (f"warm start {WARM}", True, sampled.warm_start, 0)):
            own, seconds, count = refits(prepared, sampled, warm_settings, start, shift)
            moved = np.max(np.abs(own.errors - cold.errors) / sd)
            changed = np.max(np.abs(own.variances / cold.variances - 1.0))
            print(f"{'':<34} {label:<26} {seconds:6.2f} {count:8d} {moved:11.3f}sd {changed:10.1%}")
    drift.refit_settings, drift.run_nuts = REAL_SETTINGS, REAL_RUN


if __name__ == "__main__":
    main()
