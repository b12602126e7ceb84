"""``bayes-scaling report``: fit every spec (refitting only what changed) and write the pages and the index
(:func:`bayes_scaling.report.build.build_report`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bayes_scaling.report.build import build_report


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def report(args: argparse.Namespace) -> int:
    """Build the report; exit 1 if any fit failed its diagnostics."""
    done = build_report(args.specs, Path(args.out), refit=args.refit, budgets=tuple(getattr(args, "budgets", ()) or ()),
                        scheduler=args.scheduler, workers=args.workers, say=_say,
                        progress_bars=sys.stderr.isatty())
    print(f"wrote {done.index}")
    print(f"report: {len(done.fits)} analyses ({done.sampled} fits sampled, {done.reused} reused; {done.rendered} "
          f"pages rendered, {done.unchanged} unchanged) in {done.seconds:.1f} s", file=sys.stderr)
    if done.unconverged:
        print(f"*** NOT CONVERGED: {', '.join(done.unconverged)} ***", file=sys.stderr)
        return 1
    return 0
