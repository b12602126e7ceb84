"""``bayes-scaling plan``: what a budget, a model size or a target loss implies, with credible intervals."""

from __future__ import annotations

import argparse
import json
import sys

from bayes_scaling.analysis.planning import LAW_ONLY_IN_MODEL, VALIDATED_DECADES
from bayes_scaling.analysis.planning import plan as make_plan
from bayes_scaling.analysis.stacking import stacked_allocation
from bayes_scaling.commands.stack import format_stacked
from bayes_scaling.result import load
from bayes_scaling.util.numbers import count, interval_text

LABELS = {
    "n_params": ("N_opt", "parameters"),
    "n_tokens": ("D_opt", "tokens"),
    "tokens_per_param": ("tokens/param", ""),
    "loss": ("loss", "nats/token"),
    "compute": ("compute", "FLOP"),
}
#: Quantities written as counts with a suffix (70.6B).
COUNTS = {"n_params", "n_tokens"}


def _fmt(s: dict, key: str = "") -> str:
    if s["median"] is None:
        return "unreachable in every draw"
    return interval_text(s, style=count if key in COUNTS else None)


def _lines(values: dict, keys: tuple[str, ...], indent: str = "  ", labels: dict | None = None) -> list[str]:
    labels = {**LABELS, **(labels or {})}
    return [f"{indent}{labels[k][0]:<14}{_fmt(values[k], k):<34} {labels[k][1]}".rstrip() for k in keys]


def _distance(found: dict) -> str:
    """How far an answer is from the data, in words."""
    decades = found.get("decades_compute") or 0.0
    if decades <= 0:
        return "inside the compute range of the runs"
    sizes = [f"{LABELS[name][0]} {found[f'decades_{name}']:.1f} beyond the largest {word}"
             for name, word in (("n_params", "model"), ("n_tokens", "token count"))
             if (found.get(f"decades_{name}") or 0) > 0]
    return f"{decades:.1f} decades of compute beyond the largest run" + (f" ({', '.join(sizes)})" if sizes else "")


def _beyond(found: dict | None) -> str:
    """``; 2.3 decades beyond the largest run`` (with a caution past the checked distance) from an answer's
    ``extrapolation``, or nothing inside the data."""
    decades = (found or {}).get("decades_compute") or 0.0
    if decades <= 0:
        return ""
    caution = (f", further than the extrapolation error was checked ({VALIDATED_DECADES} decades)"
               if found.get("warning") else "")
    return f"; {decades:.1f} decades beyond the largest run{caution}"


def format_plan(result: dict) -> str:
    """Human-readable plan: one answer per question (the whole predictive where the law has one), its distance from
    the data, and the law alone beside it for comparison."""
    level = f"{result['level']:.0%}"
    status = "converged" if result["converged"] else "NOT CONVERGED - do not quote"
    data = result.get("data", {})
    lines = [f"{result['analysis']}: {result['equation']} ({status}); median [{level} credible interval]"]
    if data.get("largest_compute"):
        lines.append(f"runs up to {data['largest_compute']:.3g} FLOP"
                     + (f", N {count(data['largest_n_params'])}" if data.get("largest_n_params") else "")
                     + (f", D {count(data['largest_n_tokens'])}" if data.get("largest_n_tokens") else ""))
    if result.get("weakly_identified"):
        lines.append(f"weakly identified by the runs (intervals lean on the priors): "
                     f"{', '.join(result['weakly_identified'])}")
    found = result.get("discrepancy")
    if found:
        lines.append(f"discrepancy: {found['description']}")
        if found["collapsed"]:
            lines.append("  the discrepancy GP collapsed (no misfit beyond the noise at the runs): the answers add "
                         "only the extrapolation error beyond the data")
    if result.get("exponents"):
        a, b = result["exponents"]["a"], result["exponents"]["b"]
        lines.append(f"exponents (law alone): N_opt ∝ C^a, a = {_fmt(a)};  D_opt ∝ C^b, b = {_fmt(b)}")
    for row in result.get("compute", []):
        where = row["extrapolation"]
        lines.append(f"\nbudget C = {row['compute']:.3g} FLOP, {_distance(where)}:")
        lines += _lines(row, ("n_params", "n_tokens", "tokens_per_param", "loss"))
        lines.append(f"  includes: {row['includes']}")
        if row.get("no_minimum", 0) >= 0.005:
            lines.append(f"  {row['no_minimum']:.0%} of draws had no minimum along the IsoFLOP line (left out)")
        if where.get("warning"):
            lines.append(f"  WARNING: {where['warning']}")
        found = row.get("near_optimal")
        if found:
            tolerance = found["tolerance"]
            rule = (f"within {tolerance['fraction']:.2%} ({tolerance['nats']:.4f} nats) of the best size's loss with "
                    f"probability >= {found['probability']:.0%}")
            if found["n_params"]:
                edge = " (to the edge of the sizes searched)" if found["at_grid_edge"] else ""
                lines.append(f"  near-optimal sizes: {count(found['n_params']['lower'])} to "
                             f"{count(found['n_params']['upper'])} parameters keep the loss {rule}{edge}")
            else:
                lines.append(f"  near-optimal sizes: no size keeps the loss {rule}: the optimum is too uncertain "
                             "here; widen --tolerance or lower --probability")
        for choice in row.get("choices", []):
            cost = choice["relative"]
            if cost is None:
                lines.append(f"  choosing N = {count(choice['n_params'])}: outside the sizes searched")
                continue
            lines.append(f"  choosing N = {count(choice['n_params'])}: expected excess loss {cost['mean']:.2%} "
                         f"({choice['excess']['mean']:.4f} nats), {cost['level']:.0%} interval "
                         f"[{cost['lower']:.2%}, {cost['upper']:.2%}]")
        if row.get("law_only"):
            if row["law_only"].get("includes") == LAW_ONLY_IN_MODEL:
                lines.append("  the law alone, for comparison (its parameters were sampled with the discrepancy, so "
                             "they carry the misfit; it leaves out the discrepancy at this budget and the "
                             "extrapolation error; do not quote it beyond the runs):")
            else:
                lines.append("  the law alone, for comparison (narrower: it leaves out the law's misfit and "
                             "extrapolation error; do not quote it beyond the runs):")
            lines += _lines(row["law_only"], ("n_params", "loss"), indent="    ")
    for row in result.get("params", []):
        lines.append(f"\nmodel size N = {count(row['n_params'])} parameters, the budget that makes it "
                     f"compute-optimal (law alone; {_distance(row['extrapolation'])}):")
        lines += _lines(row, ("compute", "n_tokens", "tokens_per_param", "loss"))
    for row in result.get("target_loss", []):
        lines.append(f"\ntarget loss {row['target_loss']:.4g} nats/token (law alone): reachable in "
                     f"{row['probability_reachable']:.1%} of draws" + ("; among those:" if
                                                                       row["probability_reachable"] else ""))
        if row.get("below_floor"):
            lines.append(f"  {row['below_floor']}")
        if row["probability_reachable"]:
            lines += _lines(row, ("compute", "n_params", "n_tokens"))
        found = row.get("inference_aware")
        if found:
            saving = found["saving"]
            lines.append(f"  serving {found['inference_tokens']:.3g} inference tokens (law alone), the least training "
                         f"plus inference compute reaches it with:")
            lines += _lines(found, ("n_params", "n_tokens", "tokens_per_param"), indent="    ",
                            labels={"n_params": ("N", "parameters"), "n_tokens": ("D", "tokens")})
            lines.append(f"    {'total FLOP':<14}{interval_text(found['total_compute'])}; "
                         f"{saving['median']:.1%} [{saving['lower']:.1%}, {saving['upper']:.1%}] less than the "
                         "compute-optimal model serving the same tokens")
        found = row.get("with_probability")
        if found:
            which = "whole predictive" if found["includes"].startswith("law, its discrepancy") else "law alone"
            if found["reachable"]:
                lines.append(f"  with probability >= {found['probability']:.0%} ({which}): compute "
                             f"{found['compute']:.3g} FLOP, N_opt {count(found['n_params'])}, D_opt "
                             f"{count(found['n_tokens'])}{_beyond(found['extrapolation'])}")
            else:
                where = (f" (at {found['at_compute']:.3g} FLOP{_beyond(found['extrapolation'])})"
                         if found.get("at_compute") else "")
                lines.append(f"  with probability >= {found['probability']:.0%} ({which}): no budget up to 1e30 FLOP "
                             f"reaches it; at most {found['highest_probability']:.1%}{where}")
    return "\n".join(lines)


def plan(args: argparse.Namespace) -> int:
    if not (args.compute or args.params or args.target_loss):
        raise ValueError("give at least one of --compute, --params, --target-loss")
    if args.stack_with and not args.compute:
        raise ValueError("--stack-with gives the stacked allocation at each --compute budget: give --compute")
    fit = load(args.fit)
    if not fit.law.answers_allocation:
        raise ValueError(f"{args.fit}: the law {fit.law.name!r} ({fit.law.equation}) has no compute-optimal "
                         "allocation, so --compute, --params and --target-loss have no answer; plan a fit of a law "
                         "that has one (chinchilla, isoflop, kaplan_joint), or read this law's losses in Python: "
                         "bayes_scaling.load(FIT).predictive(...)")
    others = [load(path) for path in args.stack_with]
    result = make_plan(fit, compute=args.compute, n_params=args.params, target_loss=args.target_loss,
                       level=args.level, tolerance=args.tolerance / 100, probability=args.probability,
                       inference_tokens=args.inference_tokens)
    if others:
        result["stacked"] = [stacked_allocation([fit, *others], budget, level=args.level)
                             for budget in args.compute]
    if not fit.converged:
        print(f"WARNING: {fit.name} did NOT converge ({fit.diagnostics.verdict()}); these numbers are not "
              "reliable.", file=sys.stderr)
    text = format_plan(result)
    if others:
        text += "\n" + "\n".join(format_stacked(found) for found in result["stacked"])
    print(json.dumps(result, indent=2) if args.json else text)
    return 0
