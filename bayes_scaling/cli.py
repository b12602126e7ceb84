"""Command line: ``bayes-scaling fit | plan | score | stack | suggest | report | crossover | calibrate | sbc | data``.

Exit codes: 0 success; 1 a fit that failed its convergence diagnostics (unless ``--allow-unconverged``);
2 bad input (spec, data, priors, paths, a corrupt fit file), reported before any sampling and without writing
anything; 3 an internal error (a one-line message; the traceback with ``--debug``).
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import sys
import threading
import traceback

from bayes_scaling.data.errors import DataError
from bayes_scaling.data.runs import COMPUTE_TOLERANCE, COMPUTE_UNITS, LOSS_UNITS
from bayes_scaling.laws.inputs import INPUTS
from bayes_scaling.likelihoods import LIKELIHOODS
from bayes_scaling.priors import PriorError
from bayes_scaling.spec import BUDGET_EFFECTS, SpecError
from bayes_scaling.util import garbage, unused_modules
from bayes_scaling.util.defaults import (
    DEFAULT_LEVEL,
    DEFAULT_PROBABILITY,
    DEFAULT_TOLERANCE,
    DESIGN_MAX_RUNS,
    DESIGN_QUANTITIES,
    DESIGN_WINDOW,
)
from bayes_scaling.util.version import __version__

log = logging.getLogger("bayes_scaling")

EXIT_UNCONVERGED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EPILOG = """exit codes:
  0 success
  1 a fit failed its convergence diagnostics (R-hat, ESS, divergences; see --allow-unconverged)
  2 bad input (spec, data, priors, paths, a corrupt fit file), refused before any work, nothing written
  3 internal error (a one-line message; run with --debug for the traceback)"""


class _Elapsed(logging.Formatter):
    """``[  12.3 s] message``: each line with the seconds since the command started, so a long fit shows which stage
    it is on and how long each took, on a terminal or in a log file alike."""

    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno == logging.INFO else f"{record.levelname}: "
        return f"[{record.relativeCreated / 1000:7.1f} s] {level}{record.getMessage()}"


def _setup_logging(quiet: bool) -> None:
    """The package's own messages (stages, verdicts, warnings) on stderr at INFO (WARNING with ``-q``); other
    libraries' only from WARNING, and the chattiest from ERROR."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Elapsed())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    for noisy in ("pymc", "pytensor", "numba", "h5py", "matplotlib", "arviz", "arviz_base", "arviz_stats",
                  "arviz_plots", "pooch", "distributed", "tornado"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    # the Dask cluster's start-up chatter, in this process and in the workers it starts (read when dask loads)
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _positive_floats(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive finite number")
    return value


def _add_fit_parser(sub) -> None:
    p = sub.add_parser("fit", help="fit a law by NUTS and write posterior.nc (and, with --page, its HTML page)")
    p.add_argument("--out", required=True, help="output folder (created only once the fit has run)")
    _add_spec_arguments(p)
    p.add_argument("--allow-unconverged", action="store_true",
                   help="exit 0 even if diagnostics fail (the fit is still marked NOT CONVERGED everywhere)")
    p.add_argument("--page", action="store_true",
                   help="also write the fit's HTML page, with plan.json and quantiles.csv beside it (about 5 s more; "
                   "`report` writes every page)")
    p.add_argument("--budgets", type=_positive_floats, nargs="+", default=[], metavar="FLOP",
                   help="budgets the page answers at the top (default: the spec's [plan] budgets, else 1, 10 and 100 "
                   "times the largest run's compute)")


def _add_calibrate_parser(sub) -> None:
    p = sub.add_parser("calibrate", help="extrapolation backtest: hold out the highest-compute runs, score the "
                                         "Bayesian fit and the bootstrap baseline on them")
    _add_spec_arguments(p)
    p.add_argument("--hold-out", type=float, nargs="+", default=[0.1, 0.2, 0.3], metavar="FRACTION",
                   help="fractions of runs (the most compute) to hold out, one backtest each (default 0.1 0.2 0.3)")
    p.add_argument("--replicates", type=int, default=200, help="bootstrap replicates (default 200)")
    p.add_argument("--bootstrap-starts", type=_positive_int, default=243,
                   help="most grid starts of the bootstrap's full-data fit (default 243)")
    _add_scheduler_arguments(p)
    p.add_argument("--out", help="also write the results as JSON to this file")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _add_sbc_parser(sub) -> None:
    p = sub.add_parser("sbc", help="simulation-based calibration: prior draws, simulated runs at the data's design, "
                                   "fits, rank uniformity per parameter")
    _add_spec_arguments(p)
    p.add_argument("--simulations", type=int, default=100, help="simulated datasets (default 100)")
    _add_scheduler_arguments(p)
    p.add_argument("--out", help="also write the results (with every rank) as JSON to this file")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _add_scheduler_arguments(p) -> None:
    p.add_argument("--scheduler", default="local",
                   help="'local' (a Dask LocalCluster, default), 'serial' (in this process) or the address of a "
                        "Dask scheduler; every choice gives the same numbers")
    p.add_argument("--workers", type=_positive_int, default=2, help="workers of the LocalCluster (default 2)")


def _add_spec_arguments(p) -> None:
    """A spec file, or --law and --data for an ad-hoc analysis of a CSV, with flag overrides."""
    p.add_argument("spec", nargs="?", help="analysis spec (TOML), e.g. models/chinchilla.toml")
    p.add_argument("--law", help="law name, for an ad-hoc fit of --data without a spec")
    p.add_argument("--data", help="CSV of your runs (one row per run), for an ad-hoc fit")
    for item in INPUTS.values():
        p.add_argument(item.flag, help=f"column holding {item.symbol} ({item.description}, {item.unit})")
    p.add_argument("--loss-col", help="column holding the final loss")
    p.add_argument("--budget-col", help="column holding each run's IsoFLOP budget (optional; splits use whole budgets)")
    p.add_argument("--compute-unit", choices=list(COMPUTE_UNITS), help="unit of the compute (and budget) column")
    p.add_argument("--loss-unit", choices=list(LOSS_UNITS), help="unit of the loss column")
    p.add_argument("--compute-tolerance", type=_positive_floats, metavar="FRACTION",
                   help=f"largest |C / 6ND - 1| accepted when N, D and C are all given (default {COMPUTE_TOLERANCE})")
    p.add_argument("--likelihood", choices=sorted(LIKELIHOODS), help="observation model on log loss")
    p.add_argument("--discrepancy", choices=["after", "in-model"],
                   help="fit the discrepancy GP after sampling the law or sample it with the law's parameters, so "
                        "that their intervals carry the misfit (slower); default: the spec's, else the law's own "
                        "(docs/cli.md)")
    p.add_argument("--budget-effect", choices=list(BUDGET_EFFECTS),
                   help="none (default, the scored method: every run independent) or auto (a random offset per "
                        "budget where the data have budgets: runs of one budget err together)")
    p.add_argument("--drop-highest-loss", type=int, help="drop the k highest-loss runs before fitting")
    p.add_argument("--filter", action="append", metavar="NAME=VALUE",
                   help="a data filter before fitting (repeatable), over the spec's or the law's default ones: "
                        "NAME=VALUE sets it, NAME=none removes it (e.g. --filter isoflop_loss_window=none keeps "
                        "the IsoFLOP profiles' far tails); names in docs/cli.md")
    p.add_argument("--seed", type=int, help="override the spec's sampler seed")
    p.add_argument("--draws", type=int, help="override draws per chain")
    p.add_argument("--tune", type=int, help="override tuning steps per chain")
    p.add_argument("--chains", type=int, help="override the number of chains")


def _add_plan_parser(sub) -> None:
    p = sub.add_parser("plan", help="compute-optimal N, D and loss for a budget, with credible intervals")
    p.add_argument("fit", help="a fit folder (holding posterior.nc) or the file itself")
    p.add_argument("--compute", type=_positive_floats, nargs="+", default=[], help="FLOP budget(s)")
    p.add_argument("--params", type=_positive_floats, nargs="+", default=[],
                   help="model size(s): the budget and tokens that make it compute-optimal")
    p.add_argument("--target-loss", type=_positive_floats, nargs="+", default=[],
                   help="loss(es) to reach: the compute, N and D needed")
    p.add_argument("--level", type=float, default=DEFAULT_LEVEL,
                   help=f"credible interval level (default {DEFAULT_LEVEL})")
    p.add_argument("--tolerance", type=_positive_floats, default=100 * DEFAULT_TOLERANCE, metavar="PERCENT",
                   help=f"near-optimal sizes keep the loss within this percentage of the best size's (default "
                   f"{100 * DEFAULT_TOLERANCE:g}%%, about a tenth more compute's worth); with --params, each size's "
                   "excess loss at each --compute budget")
    p.add_argument("--probability", type=float, default=DEFAULT_PROBABILITY,
                   help=f"near-optimal sizes, and the compute that reaches each --target-loss, with at least this "
                   f"posterior probability (default {DEFAULT_PROBABILITY})")
    p.add_argument("--inference-tokens", type=float, metavar="TOKENS",
                   help="with --target-loss: tokens the model will serve over its life; adds the N and D that reach "
                   "the target with the least training plus inference compute (Sardana & Frankle 2024)")
    p.add_argument("--stack-with", nargs="+", default=[], metavar="FIT",
                   help="fits of other laws to the same runs: adds, at each --compute budget, the stacking weights "
                   "and the stacked allocation beside each law's (as `stack`)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _add_report_parser(sub) -> None:
    p = sub.add_parser("report", help="fit every spec in a folder and write the HTML report")
    p.add_argument("specs", nargs="+", help="spec files or folders of specs (models/)")
    p.add_argument("--out", default="reports", help="report folder (default reports/)")
    _add_scheduler_arguments(p)  # for the specs' [calibration] backtests and SBC
    p.add_argument("--budgets", type=_positive_floats, nargs="+", default=[], metavar="FLOP",
                   help="budgets the fit pages answer at the top (default: 1, 10 and 100 times each analysis's largest "
                   "run, or its [plan] budgets) and the comparison's allocation table adds (besides 5.76e23, 1e25, "
                   "1e26)")
    p.add_argument("--refit", action="store_true", help="refit even when nothing changed")


def _add_crossover_parser(sub) -> None:
    p = sub.add_parser("crossover", help="Kaplan's L* crossover (C*, N*, D*, L*) with credible intervals")
    p.add_argument("fit", help="an IsoFLOP fit folder, or a Kaplan L(N, D) / L(D) fit folder")
    p.add_argument("--with", dest="companion",
                   help="the other fit (default: the fit of the complementary law to the same runs beside it)")
    p.add_argument("--level", type=float, default=DEFAULT_LEVEL,
                   help=f"credible interval level of the JSON's intervals (default {DEFAULT_LEVEL})")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _add_stack_parser(sub) -> None:
    p = sub.add_parser("stack", help="combine laws fitted to the same runs by stacking weights from leave-future-out "
                                     "scores")
    p.add_argument("fits", nargs="+", help="two or more fit folders of the same runs (different laws)")
    p.add_argument("--compute", type=float, required=True, help="the budget (FLOP) to give the allocation at")
    p.add_argument("--level", type=float, default=DEFAULT_LEVEL,
                   help=f"credible interval level (default {DEFAULT_LEVEL})")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _add_suggest_parser(sub) -> None:
    p = sub.add_parser("suggest", help="which runs to train next, within an experiment budget, to narrow the decision "
                                       "at a target budget")
    p.add_argument("fit", help="a fit folder (holding posterior.nc) or the file itself")
    p.add_argument("--target-compute", type=float, required=True, metavar="FLOP",
                   help="the budget the decision is for (e.g. the planned model's training compute)")
    p.add_argument("--experiment-budget", type=float, required=True, metavar="FLOP",
                   help="the compute the new runs may spend together")
    p.add_argument("--quantity", choices=list(DESIGN_QUANTITIES), default="n_opt",
                   help="what to narrow: n_opt (the compute-optimal size, default) or loss (the compute-optimal "
                        "loss) at the target budget")
    p.add_argument("--window", type=float, default=DESIGN_WINDOW, metavar="DECADES",
                   help=f"decades of N either side of the posterior N_opt the runs may use (default {DESIGN_WINDOW}; "
                        "the calculation discounts runs by the misfit the fit has measured; 0.5 keeps to the span "
                        "published IsoFLOP profiles cover)")
    p.add_argument("--max-runs", type=int, default=DESIGN_MAX_RUNS,
                   help=f"most runs to propose (default {DESIGN_MAX_RUNS})")
    p.add_argument("--law-only", action="store_true",
                   help="take the law as right: planned runs carry no misfit (the fit's discrepancy GP, budget "
                        "offsets and drift), so runs far from the data are credited as if the law held there")
    p.add_argument("--out", help="also write the results as JSON to this file")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _add_score_parser(sub) -> None:
    p = sub.add_parser("score", help="score new runs against a fit: were they inside its predictive intervals?")
    p.add_argument("fit", help="a fit folder (holding posterior.nc) or the file itself")
    p.add_argument("--data", required=True, help="CSV of the new runs (one row per run), columns as for `fit`")
    for item in INPUTS.values():
        p.add_argument(item.flag, help=f"column holding {item.symbol} ({item.description}, {item.unit})")
    p.add_argument("--loss-col", help="column holding the final loss")
    p.add_argument("--budget-col", help="column holding each run's IsoFLOP budget (optional; splits use whole budgets)")
    p.add_argument("--compute-unit", choices=list(COMPUTE_UNITS), help="unit of the compute (and budget) column")
    p.add_argument("--loss-unit", choices=list(LOSS_UNITS), help="unit of the loss column")
    p.add_argument("--compute-tolerance", type=_positive_floats, metavar="FRACTION",
                   help=f"largest |C / 6ND - 1| accepted when N, D and C are all given (default {COMPUTE_TOLERANCE})")
    p.add_argument("--seed", type=int, default=0, help="seed of the predictive draws (default 0)")
    p.add_argument("--out", help="also write the results as JSON to this file")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _add_data_parser(sub) -> None:
    p = sub.add_parser("data", help="list or verify the registered datasets")
    p.add_argument("action", choices=["list", "verify"])
    p.add_argument("names", nargs="*", help="datasets to verify (default: all)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bayes-scaling", description=__doc__.splitlines()[0], epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and results")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an internal error")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_fit_parser(sub)
    _add_plan_parser(sub)
    _add_report_parser(sub)
    _add_crossover_parser(sub)
    _add_score_parser(sub)
    _add_stack_parser(sub)
    _add_suggest_parser(sub)
    _add_calibrate_parser(sub)
    _add_sbc_parser(sub)
    _add_data_parser(sub)
    return parser


#: Commands that never start a Dask cluster (their own process hides `distributed` and `dask.array` from xarray).
WITHOUT_CLUSTER = frozenset({"fit", "plan", "score", "stack", "suggest", "crossover"})


def main(argv: list[str] | None = None, *, own_process: bool = False) -> int:
    """Run one command; its exit code. ``own_process``: the process runs only this command (the ``bayes-scaling``
    entry point), so a command that uses no cluster may hide ``distributed`` from xarray
    (:mod:`~bayes_scaling.util.unused_modules`); a caller's own interpreter (tests, notebooks) keeps it."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.quiet)
    if own_process and args.command in WITHOUT_CLUSTER:
        unused_modules.hide()
    import importlib

    try:
        handler = getattr(importlib.import_module(f"bayes_scaling.commands.{args.command}"), args.command)
        return handler(args)
    except (DataError, SpecError, PriorError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug:
            traceback.print_exc()
        print(f"internal error: {type(err).__name__}: {err}" + ("" if args.debug else " (run with --debug for the "
              "traceback)"), file=sys.stderr)
        return EXIT_INTERNAL


def _watched() -> bool:
    """Whether a profiler, tracer or coverage tool watches this process (``sys.setprofile``/``settrace``, or a tool
    registered with ``sys.monitoring``, as cProfile and coverage are on Python 3.12)."""
    monitoring = getattr(sys, "monitoring", None)
    tools = [] if monitoring is None else [monitoring.get_tool(tool) for tool in range(6)]
    return sys.getprofile() is not None or sys.gettrace() is not None or any(tools)


def run() -> None:
    """The ``bayes-scaling`` command: :func:`main`, then the process ends without tearing the interpreter down.

    Finalising the modules a fit loads (PyTensor, numba's LLVM, nutpie, ArviZ, matplotlib) took 1.5-2 CPU s, about a
    seventh of ``fit models/chinchilla.toml``, after everything was written. So once :func:`main` has returned
    (every output written and closed, any Dask cluster shut down), the output streams are flushed, the exit
    handlers a normal exit runs are run (logging's flush, PyTensor's pruning of old generated source) and the
    process exits with main's code. If a thread other than the main one is still running, a profiler, tracer or
    coverage tool watches the process (they write their results at exit), or Python has no
    ``atexit._run_exitfuncs``, it exits the normal way instead.
    The process collects cyclic garbage less often than Python's default (:mod:`~bayes_scaling.util.garbage`).
    """
    garbage.collect_less_often()
    code = main(own_process=True)
    sys.stdout.flush()
    sys.stderr.flush()
    exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    busy = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if exit_handlers is None or busy or _watched():
        sys.exit(code)
    exit_handlers()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
