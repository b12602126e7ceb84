"""``bayes-scaling plan``: what a budget, a model size or a target loss implies, with credible intervals."""

from __future__ import annotations

import argparse
import json
import sys

from bayes_scaling.analysis.planning import plan as make_plan
from bayes_scaling.result import load

LABELS = {
    "n_params": ("N_opt", "parameters"),
    "n_tokens": ("D_opt", "tokens"),
    "tokens_per_param": ("tokens/param", ""),
    "loss": ("loss", "nats/token"),
    "compute": ("compute", "FLOP"),
}


def _fmt(s: dict) -> str:
    if s["median"] is None:
        return "unreachable in every draw"
    return f"{s['median']:>10.4g}   [{s['lower']:.4g}, {s['upper']:.4g}]"


def format_plan(result: dict) -> str:
    """Human-readable plan."""
    level = f"{result['level']:.0%}"
    status = "converged" if result["converged"] else "NOT CONVERGED - do not quote"
    lines = [f"{result['analysis']}: {result['equation']} ({status}); median [{level} credible interval]"]
    if result.get("weakly_identified"):
        lines.append(f"weakly identified by the runs (intervals lean on the priors): "
                     f"{', '.join(result['weakly_identified'])}")
    found = result.get("discrepancy")
    if found:
        lines.append(f"discrepancy: {found['description']}")
        if found["collapsed"]:
            lines.append("  the discrepancy GP collapsed (no misfit beyond the noise at the runs): 'allowing for the "
                         "discrepancy' adds only the extrapolation error beyond the data")
    if result.get("exponents"):
        a, b = result["exponents"]["a"], result["exponents"]["b"]
        lines.append(f"exponents: N_opt ∝ C^a, a = {_fmt(a).strip()};  D_opt ∝ C^b, b = {_fmt(b).strip()}")
    for row in result.get("compute", []):
        lines.append(f"\nbudget C = {row['compute']:.4g} FLOP (compute-optimal):")
        lines += [f"  {LABELS[k][0]:<14}{_fmt(row[k])} {LABELS[k][1]}".rstrip() for k in
                  ("n_params", "n_tokens", "tokens_per_param", "loss")]
        if row.get("with_discrepancy"):
            found = row["with_discrepancy"]
            missing = f"; {found['no_minimum']:.0%} of draws had no minimum" if found["no_minimum"] >= 0.005 else ""
            lines.append(f"  allowing for the law's discrepancy along the IsoFLOP line (quote this beyond the runs"
                         f"{missing}):")
            lines += [f"  {LABELS[k][0]:<14}{_fmt(found[k])} {LABELS[k][1]}".rstrip() for k in
                      ("n_params", "n_tokens", "tokens_per_param", "loss")]
    for row in result.get("params", []):
        lines.append(f"\nmodel size N = {row['n_params']:.4g} parameters (budget that makes it compute-optimal):")
        lines += [f"  {LABELS[k][0]:<14}{_fmt(row[k])} {LABELS[k][1]}".rstrip() for k in
                  ("compute", "n_tokens", "tokens_per_param", "loss")]
    for row in result.get("target_loss", []):
        lines.append(f"\ntarget loss {row['target_loss']:.4g} nats/token: reachable in "
                     f"{row['probability_reachable']:.1%} of draws; among those:")
        lines += [f"  {LABELS[k][0]:<14}{_fmt(row[k])} {LABELS[k][1]}".rstrip()
                  for k in ("compute", "n_params", "n_tokens")]
    return "\n".join(lines)


def plan(args: argparse.Namespace) -> int:
    if not (args.compute or args.params or args.target_loss):
        raise ValueError("give at least one of --compute, --params, --target-loss")
    fit = load(args.fit)
    result = make_plan(fit, compute=args.compute, n_params=args.params, target_loss=args.target_loss,
                       level=args.level)
    if not fit.converged:
        print(f"WARNING: {fit.name} did NOT converge ({fit.diagnostics.verdict()}); these numbers are not "
              "reliable.", file=sys.stderr)
    print(json.dumps(result, indent=2) if args.json else format_plan(result))
    return 0
