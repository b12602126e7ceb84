"""What the commands that fit (``fit``, ``calibrate``, ``sbc``) share: an analysis spec from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path

from bayes_scaling.data.filters import FILTERS
from bayes_scaling.data.runs import COMPUTE_TOLERANCE, FLAGS
from bayes_scaling.laws import get_law
from bayes_scaling.spec import AnalysisSpec, DataSpec, SpecError, law_default, likelihood_for, load_spec

#: Canonical column -> argparse destination of its flag (``--n-params-col`` -> ``n_params_col``).
FLAG_DESTS = {name: flag.lstrip("-").replace("-", "_") for name, flag in FLAGS.items()}


def spec_from_args(args: argparse.Namespace) -> AnalysisSpec:
    """The spec named on the command line with flag overrides, or an ad-hoc spec from --law and --data."""
    if args.spec:
        if args.law or args.data:
            raise SpecError("give either a spec file or --law with --data, not both")
        spec = load_spec(args.spec)
        filters = filters_from_args(spec.data.filters, args)
        if filters != spec.data.filters:
            spec = dataclasses.replace(spec, data=dataclasses.replace(spec.data, filters=filters))
    else:
        if not (args.law and args.data):
            raise SpecError("give a spec file (e.g. models/chinchilla.toml), or --law and --data for your own CSV")
        columns = columns_from_flags(args)
        units = {k: v for k, v in (("compute", args.compute_unit), ("loss", args.loss_unit)) if v}
        try:
            law = get_law(args.law)
        except ValueError as err:
            raise SpecError(str(err)) from None
        filters = filters_from_args(law.default_filters, args)
        tolerance = args.compute_tolerance if args.compute_tolerance is not None else COMPUTE_TOLERANCE
        data = DataSpec(csv=args.data, columns=columns, units=units, filters=filters, compute_tolerance=tolerance)
        name = Path(args.out).name if getattr(args, "out", None) else Path(args.data).stem
        spec = AnalysisSpec(name=name, law=args.law, data=data, title=f"{args.law} law on {args.data}",
                            likelihood=likelihood_for(law.default_discrepancy, None, law.default_likelihood,
                                                      "--likelihood"),
                            discrepancy=law.default_discrepancy)
    discrepancy = (getattr(args, "discrepancy", None) or spec.discrepancy).replace("-", "_")
    given = args.likelihood or (spec.likelihood if spec.discrepancy == discrepancy else None)
    fallback = spec.likelihood if spec.discrepancy == discrepancy else law_default(spec.law, "default_likelihood")
    spec = dataclasses.replace(spec, discrepancy=discrepancy,
                               likelihood=likelihood_for(discrepancy, given, fallback, "--likelihood"),
                               budget_effect=getattr(args, "budget_effect", None) or spec.budget_effect)
    overrides = {k: getattr(args, k) for k in ("seed", "draws", "tune", "chains") if getattr(args, k) is not None}
    if overrides:
        spec = dataclasses.replace(spec, sampler=dataclasses.replace(spec.sampler, **overrides))
    return spec


#: What ``--filter NAME=none`` says to drop a filter (a law's default or the spec's).
NO_FILTER = "none"


def filters_from_args(base: dict[str, float], args: argparse.Namespace) -> dict[str, float]:
    """``base`` (the spec's or the law's default filters) with ``--drop-highest-loss K`` and each ``--filter
    NAME=VALUE`` applied in order; ``NAME=none`` removes a filter. Bad names and values raise :class:`SpecError`
    naming the flag and the fix, before any data is read."""
    filters = dict(base)
    if getattr(args, "drop_highest_loss", None) is not None:
        filters["drop_highest_loss"] = args.drop_highest_loss
    for item in getattr(args, "filter", None) or ():
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise SpecError(f"--filter {item!r}: give NAME=VALUE, e.g. --filter isoflop_loss_window=0.2, or "
                            f"NAME={NO_FILTER} to remove a filter")
        if name not in FILTERS:
            raise SpecError(f"--filter {item!r}: unknown filter {name!r}; use any of {', '.join(FILTERS)}")
        if text.lower() == NO_FILTER:
            filters.pop(name, None)
            continue
        try:
            value = float(text)
        except ValueError:
            raise SpecError(f"--filter {item!r}: {text!r} is not a number; {name}: {FILTERS[name]}") from None
        if not math.isfinite(value) or value < 0:
            raise SpecError(f"--filter {item!r}: give a finite non-negative number; {name}: {FILTERS[name]}")
        filters[name] = int(value) if value.is_integer() and name == "drop_highest_loss" else value
    return filters


def columns_from_flags(args: argparse.Namespace) -> dict[str, str]:
    """Columns named by flags; the loader recognises the others by their names
    (:func:`~bayes_scaling.data.runs.recognised_columns`)."""
    return {key: getattr(args, dest) for key, dest in FLAG_DESTS.items() if getattr(args, dest, None)}
