"""``bayes-scaling crossover``: Kaplan's L* crossover with posterior intervals, beside Kaplan's published values."""

from __future__ import annotations

import argparse
import json
import logging

from bayes_scaling.analysis.pairing import same_runs
from bayes_scaling.result import FitResult, load
from bayes_scaling.sampling.io import POSTERIOR_FILE, load_tree
from bayes_scaling.study.crossover import (
    DATA_LIMITED_LAWS,
    FRONTIER_LAWS,
    KAPLAN_STATED,
    fits_crossover,
    published_crossover,
    summarise,
)

log = logging.getLogger(__name__)


def find_companion(fit: FitResult, laws: tuple[str, ...]) -> FitResult:
    """A fit beside ``fit`` (sibling folders) of one of ``laws`` to the same runs."""
    if fit.path is None:
        raise ValueError(f"{fit.name}: give the companion fit with --with")
    for candidate in sorted(fit.path.parent.glob(f"*/{POSTERIOR_FILE}")):
        if candidate.parent == fit.path:
            continue
        tree = load_tree(candidate)
        if tree.attrs.get("law") in laws:
            other = FitResult(tree, candidate.parent)
            if same_runs(fit, other):
                return other
    raise ValueError(f"no fit of {' or '.join(laws)} to the same runs beside {fit.path}; fit one, or name it with "
                     "--with")


#: Version of the JSON ``crossover --json`` prints (2: each quantity also as ``median, lower, upper, level``).
SCHEMA_VERSION = 2


def crossover_result(report_dir: str, companion: str | None = None, level: float = 0.9) -> dict:
    """The crossover of the fit in ``report_dir`` and its companion, with the published-values computation."""
    fit = load(report_dir)
    if fit.law.name == "isoflop" and not companion:  # the floored frontier levels off: use Kaplan's form beside it
        fit = find_companion(fit, FRONTIER_LAWS)
        log.info("using %s, the fit of Kaplan's floorless frontier to the same runs", fit.path)
    if fit.law.name in FRONTIER_LAWS:
        frontier, data = fit, (load(companion) if companion else find_companion(fit, DATA_LIMITED_LAWS))
    elif fit.law.name in DATA_LIMITED_LAWS:
        data, frontier = fit, (load(companion) if companion else find_companion(fit, FRONTIER_LAWS))
    else:
        raise ValueError(f"{fit.name} is a {fit.law.name} fit; the crossover needs an IsoFLOP fit ({FRONTIER_LAWS}) "
                         f"and a data-limited law ({', '.join(DATA_LIMITED_LAWS)}) of the same runs")
    result = summarise(fits_crossover(frontier, data), level=level)
    return {
        "schema_version": SCHEMA_VERSION,
        "frontier_fit": str(frontier.path), "data_limited_fit": str(data.path),
        "converged": frontier.converged and data.converged,
        "posterior": result,
        "published_values": published_crossover(),
        "kaplan_stated": KAPLAN_STATED,
        "note": "Porian's runs use another dataset and tokenizer than Kaplan's WebText2: scales (C*, N*, D*, L*) "
                "compare loosely, exponents closely. The two fits are independent posteriors of the same runs, paired "
                "draw by draw.",
    }


def format_crossover(result: dict) -> str:
    post = result["posterior"]
    status = "converged" if result["converged"] else "NOT CONVERGED - do not quote"
    rows = [("C* (FLOP)", "compute"), ("C* (PF-days)", "compute_pf_days"), ("N* (parameters)", "n_params"),
            ("D* (tokens)", "n_tokens"), ("L* (nats/token)", "loss")]
    lines = [f"L* crossover from {result['frontier_fit']} and {result['data_limited_fit']} ({status})",
             f"{'':<18}{'5%':>11}{'median':>11}{'95%':>11}   Kaplan's values -> formula | Kaplan's statement"]
    pub, stated = result["published_values"], result["kaplan_stated"]
    stated_of = {"compute_pf_days": stated["compute_pf_days"], "n_params": stated["n_params"],
                 "n_tokens": stated["n_tokens"], "loss": stated["loss"], "compute": None}
    for label, key in rows:
        q = post[key]
        tail = f"{pub[key]:.3g}" + (f" | {stated_of[key]:.3g}" if stated_of[key] else "")
        lines.append(f"{label:<18}{q['q05']:>11.3g}{q['q50']:>11.3g}{q['q95']:>11.3g}   {tail}")
    lines.append(f"P(the frontier falls to the data-limited loss: a crossing in Kaplan's direction) = "
                 f"{post['probability_kaplan_direction']:.3f}; the quantiles are over the draws that cross")
    if "probability_beyond_data" in post:
        lines.append(f"P(C* beyond the largest budget in the data | crossing) = "
                     f"{post['probability_beyond_data']:.3f}")
    lines.append(result["note"])
    return "\n".join(lines)


def crossover(args: argparse.Namespace) -> int:
    if not 0 < args.level < 1:
        raise ValueError(f"--level must be between 0 and 1, got {args.level}")
    result = crossover_result(args.fit, args.companion, args.level)
    print(json.dumps(result, indent=2) if args.json else format_crossover(result))
    return 0
