"""Sampling speed of the Chinchilla law on Epoch AI's 240 runs: default geometry against the naive one, side by side.

Prints, for each geometry (centred/naive) and mass-matrix adaptation (low_rank/diag): compile and sampling seconds,
leapfrog steps per draw, min bulk ESS of E, A, B, alpha, beta and min ESS per sampling second; then the end-to-end
wall time of ``bayes-scaling fit`` (median of 3 fresh processes; also with ``--page``), and the ratios against the
targets (default >= 5x the naive geometry in ESS/s; end-to-end fit < 15 s). All measured in this one run.

Run: ``make benchmark`` (needs BAYES_SCALING_DATA or the shared data beside the checkout).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "models" / "chinchilla.toml"
CONFIGS = [("centred", "low_rank"), ("centred", "diag"), ("naive", "low_rank"), ("naive", "diag")]
LAW_PARAMS = ["E", "A", "B", "alpha", "beta"]


def measure(prepared, geometry: str, adaptation: str) -> dict:
    import dataclasses

    from bayes_scaling.sampling.diagnostics import diagnose
    from bayes_scaling.sampling.model import build_model
    from bayes_scaling.sampling.sampler import compile_model, run_nuts
    from bayes_scaling.sampling.tree import posterior_parameters

    settings = dataclasses.replace(prepared.spec.sampler, geometry=geometry, adaptation=adaptation)
    built = build_model(prepared.law, prepared.runs, prepared.likelihood, prepared.priors, geometry)
    start = time.perf_counter()
    compiled = compile_model(built)
    compile_seconds = time.perf_counter() - start
    sampled = run_nuts(built, settings, compiled=compiled)
    natural = posterior_parameters(built, sampled.posterior)
    diag = diagnose(natural, sampled.sample_stats, LAW_PARAMS)
    min_ess = min(diag.ess_bulk.values())
    return {
        "config": f"{geometry} + {adaptation}",
        "compile_s": compile_seconds,
        "sample_s": sampled.sampling_seconds,
        "steps": float(sampled.sample_stats["n_steps"].mean()),
        "min_ess": min_ess,
        "ess_per_s": min_ess / sampled.sampling_seconds,
        "max_rhat": diag.max_rhat,
        "divergences": diag.divergences,
    }


def end_to_end(extra: list[str], repeats: int = 3) -> list[float]:
    """Wall seconds of ``bayes-scaling fit`` in a fresh process, ``repeats`` times (sorted)."""
    seconds = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "bayes_scaling.cli", "-q", "fit", str(SPEC), "--out", f"{tmp}/fit",
                            *extra], check=True, capture_output=True)
            seconds.append(time.perf_counter() - start)
    return sorted(seconds)


def main() -> None:
    if "BAYES_SCALING_DATA" not in os.environ and (REPO.parent / "shared" / "data").is_dir():
        os.environ["BAYES_SCALING_DATA"] = str(REPO.parent / "shared" / "data")
    from bayes_scaling.sampling.run import prepare
    from bayes_scaling.spec import load_spec

    prepared = prepare(load_spec(SPEC))
    sampler = prepared.spec.sampler
    print(f"Chinchilla law, {len(prepared.runs)} runs, {sampler.chains} chains x {sampler.draws} draws "
          f"(+{sampler.tune} tuning), seed {sampler.seed}")
    rows = [measure(prepared, g, a) for g, a in CONFIGS]
    header = f"{'geometry + adaptation':<22}{'compile s':>10}{'sample s':>10}{'steps/draw':>11}{'min ESS':>9}" \
             f"{'ESS/s':>9}{'max R-hat':>10}{'div':>5}"
    print(header)
    for r in rows:
        print(f"{r['config']:<22}{r['compile_s']:>10.1f}{r['sample_s']:>10.2f}{r['steps']:>11.1f}{r['min_ess']:>9.0f}"
              f"{r['ess_per_s']:>9.0f}{r['max_rhat']:>10.4f}{r['divergences']:>5d}")
    by = {r["config"]: r for r in rows}
    default, naive = by["centred + low_rank"], by["naive + diag"]
    print(f"\nESS/s, default (centred + low_rank) / naive (naive + diag): "
          f"{default['ess_per_s'] / naive['ess_per_s']:.1f}x (target >= 5x)")
    print(f"ESS/s, centred / naive at the same adaptation: low_rank "
          f"{default['ess_per_s'] / by['naive + low_rank']['ess_per_s']:.1f}x, diag "
          f"{by['centred + diag']['ess_per_s'] / naive['ess_per_s']:.1f}x")
    fit_only, with_page = end_to_end([]), end_to_end(["--page"])
    runs = ", ".join(f"{s:.1f}" for s in fit_only)
    print(f"\nend-to-end `bayes-scaling fit` wall time, 3 fresh processes: median {fit_only[1]:.1f} s ({runs}; "
          f"target < 15 s: {'met' if fit_only[1] < 15 else 'NOT met'}); with --page (the HTML page) median "
          f"{with_page[1]:.1f} s, so the page costs {with_page[1] - fit_only[1]:.1f} s")


if __name__ == "__main__":
    main()
