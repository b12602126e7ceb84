"""``bayes-scaling fit``: spec (or --law/--data) -> posterior.nc (and with ``--page`` its HTML page), with
diagnostics printed."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from bayes_scaling.data.runs import CANONICAL, FLAGS
from bayes_scaling.fit.run import fit_prepared, prepare
from bayes_scaling.output import write_fit
from bayes_scaling.result import ScalingFit
from bayes_scaling.spec import AnalysisSpec, DataSpec, SpecError, load_spec

#: Canonical column -> argparse destination of its flag (``--n-params-col`` -> ``n_params_col``).
FLAG_DESTS = {name: flag.lstrip("-").replace("-", "_") for name, flag in FLAGS.items()}


def spec_from_args(args: argparse.Namespace) -> AnalysisSpec:
    """The spec named on the command line with flag overrides, or an ad-hoc spec from --law and --data."""
    if args.spec:
        if args.law or args.data:
            raise SpecError("give either a spec file or --law with --data, not both")
        spec = load_spec(args.spec)
    else:
        if not (args.law and args.data):
            raise SpecError("give a spec file (e.g. models/chinchilla.toml), or --law and --data for your own CSV")
        columns = _columns_from_flags(args)
        units = {k: v for k, v in (("compute", args.compute_unit), ("loss", args.loss_unit)) if v}
        filters = {} if args.drop_highest_loss is None else {"drop_highest_loss": args.drop_highest_loss}
        data = DataSpec(csv=args.data, columns=columns, units=units, filters=filters)
        name = Path(args.out).name if getattr(args, "out", None) else Path(args.data).stem
        spec = AnalysisSpec(name=name, law=args.law, data=data, title=f"{args.law} law on {args.data}")
    if args.likelihood:
        spec = dataclasses.replace(spec, likelihood=args.likelihood)
    overrides = {k: getattr(args, k) for k in ("seed", "draws", "tune", "chains") if getattr(args, k) is not None}
    if overrides:
        spec = dataclasses.replace(spec, sampler=dataclasses.replace(spec.sampler, **overrides))
    return spec


def _columns_from_flags(args: argparse.Namespace) -> dict[str, str]:
    """Columns named by flags; unnamed ones default to the canonical names if the CSV has them."""
    import pandas as pd

    named = {key: getattr(args, dest) for key, dest in FLAG_DESTS.items() if getattr(args, dest)}
    try:
        header = list(pd.read_csv(args.data, nrows=0).columns)
    except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        header = []  # the loader reports the problem with the file itself
    for key in CANONICAL:
        if key not in named and key in header:
            named[key] = key
    if "loss" not in named:
        named["loss"] = "loss"  # so that a missing loss column is reported by name
    return named


def fit(args: argparse.Namespace) -> int:
    """Run one fit; exit 1 if it failed its diagnostics (unless --allow-unconverged)."""
    spec = spec_from_args(args)
    prepared = prepare(spec)  # every input check happens here, before anything is sampled or written
    print(f"fitting {spec.name}: {prepared.law.equation} to {len(prepared.runs)} runs "
          f"({prepared.likelihood.description}, {spec.sampler.chains} chains x {spec.sampler.draws} draws)",
          file=sys.stderr)
    tree = fit_prepared(prepared, progress=sys.stderr.isatty())
    result = ScalingFit(tree, Path(args.out))
    written = write_fit(result, Path(args.out), page=args.page)
    print(format_fit_summary(result))
    for path in written:
        print(f"wrote {path}")
    if not result.converged:
        print(f"\n*** {spec.name} did NOT converge: {'; '.join(result.diagnostics.problems)} ***\n"
              "Its numbers are marked unconverged everywhere; do not quote them.", file=sys.stderr)
        return 0 if args.allow_unconverged else 1
    return 0


def format_fit_summary(result: ScalingFit, level: float = 0.9) -> str:
    """Parameter table (median and interval, R-hat, ESS) and the verdict line."""
    from bayes_scaling.planning import summary

    diag = result.diagnostics
    lines = [f"{result.name}: {result.law.equation}  [{level:.0%} credible intervals]",
             f"{'parameter':>10} {'median':>11} {'lower':>11} {'upper':>11} {'R-hat':>6} "
             f"{'ESS bulk':>9} {'ESS tail':>9}"]
    for name in diag.rhat:
        s = summary(result.posterior[name], level)
        lines.append(f"{name:>10} {s['median']:>11.4g} {s['lower']:>11.4g} {s['upper']:>11.4g} "
                     f"{diag.rhat[name]:>6.3f} {diag.ess_bulk[name]:>9.0f} {diag.ess_tail[name]:>9.0f}")
    lines.append(f"divergences: {diag.divergences}")
    lines.append(f"verdict: {diag.verdict()}")
    return "\n".join(lines)
