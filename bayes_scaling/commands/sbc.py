"""``bayes-scaling sbc``: simulation-based calibration of a spec's law, priors and likelihood at its data's design."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bayes_scaling.commands.arguments import spec_from_args
from bayes_scaling.sampling.run import prepare
from bayes_scaling.util.files import atomic_write_text
from bayes_scaling.util.progress import Eta
from bayes_scaling.validation.sbc import sbc as run_sbc

#: Where a result has no PIT-ECDF verdict (written before it), uniformity is rejected below this chi-square p-value.
REJECT_BELOW = 0.01


def format_sbc(name: str, result: dict) -> str:
    failed = result.get("failed")
    why = (f": {failed['rhat']} R-hat, {failed['divergences']} divergences, {failed['ess']} effective draws"
           if failed else "")
    lines = [f"{name}: simulation-based calibration, {result['simulations'] - result['skipped']} simulated datasets "
             f"({result['skipped']} skipped: non-finite data; {result.get('extended', 0)} sampled again, longer, for "
             f"want of effective draws; {result['unconverged']} fits failed the diagnostics{why}, ranks kept); "
             f"ranks among {result['rank_draws']} draws, chi-square on {result['bins']} bins",
             f"{'parameter':<12}{'chi2 p':>10}  PIT-ECDF in its {result.get('ecdf_band', 0.99):.0%} simultaneous band"]
    for name_, p in result["p_values"].items():
        verdict = "uniform" if _uniform(result, name_) else "REJECTED (the PIT-ECDF leaves the band)"
        lines.append(f"{name_:<12}{p:>10.3f}  {verdict}")
    busy = sum(result["task_seconds"])
    lines.append(f"{result['seconds']:.0f} s wall clock on {result['scheduler']}; the tasks took {busy:.0f} s in all "
                 f"(speed-up {busy / result['seconds']:.2f}x)")
    return "\n".join(lines)


def sbc(args: argparse.Namespace) -> int:
    """Run SBC; exit 1 if any parameter's rank uniformity is rejected."""
    spec = spec_from_args(args)
    if args.simulations < 1:
        raise ValueError(f"--simulations must be positive, got {args.simulations}")
    prepared = prepare(spec)

    progress = Eta(lambda line: print(line, file=sys.stderr), "chunks of simulations fitted")

    result = run_sbc(prepared, args.simulations, seed=spec.sampler.seed, draws=spec.sampler.draws,
                     tune=spec.sampler.tune, scheduler=args.scheduler, workers=args.workers, progress=progress)
    result = {"analysis": spec.name, "law": spec.law, "seed": spec.sampler.seed, "scheduler": args.scheduler,
              **result}
    if args.out:
        atomic_write_text(Path(args.out), json.dumps(result, indent=1))
    print(json.dumps(result, indent=1) if args.json else format_sbc(spec.name, result))
    return 0 if all(_uniform(result, name) for name in result["p_values"]) else 1


def _uniform(result: dict, name: str) -> bool:
    """The verdict on one parameter's ranks: inside the PIT-ECDF band (the chi-square p-value where no band)."""
    inside = result.get("ecdf_inside", {}).get(name)
    return inside if inside is not None else result["p_values"][name] >= REJECT_BELOW
