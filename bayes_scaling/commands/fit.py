"""``bayes-scaling fit``: spec (or --law/--data) -> posterior.nc (and with ``--page`` its HTML page), with
diagnostics printed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bayes_scaling.api import fit_prepared
from bayes_scaling.commands.arguments import spec_from_args
from bayes_scaling.data.filters import repeated_cells
from bayes_scaling.report.output import write_fit
from bayes_scaling.result import FitResult
from bayes_scaling.sampling.run import prepare
from bayes_scaling.spec import SpecError
from bayes_scaling.study.references import declared
from bayes_scaling.util.defaults import DEFAULT_LEVEL
from bayes_scaling.util.files import check_output_folder


def fit(args: argparse.Namespace) -> int:
    """Run one fit; exit 1 if it failed its diagnostics (unless --allow-unconverged)."""
    spec = spec_from_args(args)
    check_output_folder(args.out)
    try:
        declared(spec.references)
    except ValueError as err:
        raise SpecError(f"{spec.path or spec.name} [analysis]: {err}") from None
    prepared = prepare(spec)  # every input check happens here, before anything is sampled or written
    result = fit_prepared(prepared, progress=sys.stderr.isatty())
    result.path = Path(args.out)
    written = write_fit(result, Path(args.out), page=args.page, budgets=tuple(args.budgets or ()))
    print(format_fit_summary(result))
    for path in written:
        print(f"wrote {path}")
    if not result.converged:
        print(f"\n*** {spec.name} did NOT converge: {'; '.join(result.diagnostics.problems)} ***\n"
              "Its numbers are marked unconverged everywhere; do not quote them.", file=sys.stderr)
        return 0 if args.allow_unconverged else 1
    return 0


def format_fit_summary(result: FitResult, level: float = DEFAULT_LEVEL) -> str:
    """Parameter table (median and interval, R-hat, ESS) and the verdict line."""
    from bayes_scaling.analysis.planning import summary

    diag = result.diagnostics
    lines = [f"{result.name}: {result.law.equation}  [{level:.0%} credible intervals]",
             f"{'parameter':>10} {'median':>11} {'lower':>11} {'upper':>11} {'R-hat':>6} "
             f"{'ESS bulk':>9} {'ESS tail':>9}"]
    for name in diag.rhat:
        s = summary(result.posterior[name], level)
        lines.append(f"{name:>10} {s['median']:>11.4g} {s['lower']:>11.4g} {s['upper']:>11.4g} "
                     f"{diag.rhat[name]:>6.3f} {diag.ess_bulk[name]:>9.0f} {diag.ess_tail[name]:>9.0f}")
    lines.append(f"divergences: {diag.divergences}")
    filters = result.attr_json("filters") if "filters" in result.attrs else []
    lines.append(f"runs: {result.attrs.get('n_runs', '?')} fitted"
                 + (f", after filters: {'; '.join(filters)}" if filters else ", no filter"))
    repeats = repeated_cells(result.runs.to_dataframe())
    if repeats:
        lines.append(f"  WARNING: {repeats}")
    if result.tree.attrs.get("sampler_retry"):
        lines.append(f"re-sampled: {result.tree.attrs['sampler_retry']}")
    if result.weakly_identified:
        lines.append(f"weakly identified by these runs (posterior sd over 0.3 of the prior's, log scale): "
                     f"{', '.join(result.weakly_identified)}; their intervals lean on the priors")
    lines.append(f"discrepancy: {result.discrepancy.describe()}")
    if result.discrepancy.collapsed:
        lines.append("  the discrepancy GP collapsed: it adds nothing to the law inside the data")
    lines.append(f"verdict: {diag.verdict()}")
    return "\n".join(lines)
