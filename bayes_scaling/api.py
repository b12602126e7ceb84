"""The Python API: fit a law to your runs (a DataFrame, a CSV or a spec) and ask the fit what the command line asks.

>>> import bayes_scaling as bs
>>> fit = bs.fit(runs, law="chinchilla", columns={"n_params": "params", "n_tokens": "tokens", "loss": "val_loss"})
>>> fit.summary()                      # parameters, intervals, R-hat, ESS
>>> fit.plan(compute=1e23)             # compute-optimal N, D and loss, law alone and with the discrepancy
>>> fit.predictive(n_params=7e9, n_tokens=1.4e11)   # draws of a new run's loss (chain, draw, point)
>>> fit.score(new_runs)                # were the new runs where the fit said?
>>> fit.save("fits/mine"); bs.load("fits/mine")

Each call runs the same code as the matching command (``fit``, ``plan``, ``score``), with the same checks of the
input and the same numbers for the same seed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.analysis.design import suggest_runs
from bayes_scaling.analysis.planning import plan as make_plan
from bayes_scaling.analysis.planning import plan_frame
from bayes_scaling.data.errors import DataError
from bayes_scaling.data.load import load_runs
from bayes_scaling.data.source import DataSpec
from bayes_scaling.laws import get_law
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.report.templating import render
from bayes_scaling.result import FitResult
from bayes_scaling.sampling.io import load_tree
from bayes_scaling.sampling.run import PreparedFit, prepare
from bayes_scaling.sampling.tree import run_inputs
from bayes_scaling.spec import AnalysisSpec, SpecError, load_spec, spec_from_dict
from bayes_scaling.uncertainty import fit_with_uncertainty
from bayes_scaling.util.defaults import DEFAULT_LEVEL, DESIGN_MAX_RUNS, DESIGN_WINDOW
from bayes_scaling.validation.holdout import LEVELS
from bayes_scaling.validation.scoring import score_frame, score_runs

log = logging.getLogger(__name__)

#: Where a fit made from Python is said to come from, in its errors.
WHERE = "bayes_scaling.fit"


class ScalingFit(FitResult):
    """A fitted law: its posterior (``tree``), diagnostics, parameter summary, predictive draws, plans and scores.

    The quantities derived per posterior draw (``optimal_allocation``, ``compute_for_loss``, ``exponents``...) are
    xarray objects with ``chain, draw`` dims; :meth:`plan` and :meth:`score` return tidy DataFrames.
    """

    def plan(self, *, compute: float | Sequence[float] = (), params: float | Sequence[float] = (),
             target_loss: float | Sequence[float] = (), level: float = DEFAULT_LEVEL,
             inference_tokens: float | None = None, **options: float) -> pd.DataFrame:
        """What budgets (``compute``, FLOP), model sizes (``params``) and target losses (nats per token) imply: the
        compute-optimal N, D and loss, the budget that makes a size optimal, the compute that reaches a loss; each
        as median and central ``level`` interval, from the law alone and (budgets) with the discrepancy along the
        IsoFLOP line, the answer to quote beyond the runs. One row per question, quantity and answer
        (:func:`~bayes_scaling.analysis.planning.plan_frame`); the full dict is ``attrs["plan"]`` (with each budget's
        near-optimal sizes, each target's compute at ``probability`` and, with ``inference_tokens``, its
        inference-aware size). ``options``: ``tolerance`` and ``probability`` as for ``bayes-scaling plan``."""
        found = make_plan(self, compute=_sequence(compute), n_params=_sequence(params),
                          target_loss=_sequence(target_loss), level=level, inference_tokens=inference_tokens,
                          **options)
        frame = plan_frame(found)
        frame.attrs["plan"] = found
        if not self.converged:
            log.warning("%s did NOT converge (%s): its plan is not reliable", self.name, self.diagnostics.verdict())
        return frame

    def score(self, data: pd.DataFrame | str | Path, *, columns: Mapping[str, str] | None = None,
              units: Mapping[str, str] | None = None, seed: int = 0,
              compute_tolerance: float | None = None) -> pd.DataFrame:
        """New runs (a DataFrame or CSV, read and checked as :func:`fit` reads runs) against the fit's whole
        predictive (law, discrepancy, extrapolation slope, noise): per run its median, 50/80/90/95% intervals,
        whether each covers it and its decades beyond the fit's data; ``attrs`` hold coverage per run and per
        budget, CRPS, log score and a plain verdict, and ``attrs["score"]`` the whole result as ``bayes-scaling score
        --json`` prints it (:func:`~bayes_scaling.validation.scoring.score_runs`)."""
        runs = _runs(data, columns, units, compute_tolerance)
        missing = [name for name in self.law.inputs if name not in runs.frame]
        if missing:
            raise DataError(_label(data), f"the law {self.law.name!r} needs {', '.join(missing)} for each run",
                            "name the column in columns={...}", column=missing[0])
        found = score_runs(self, run_inputs(runs), seed=seed, levels=LEVELS)
        frame = score_frame(found)
        frame.attrs["score"] = found
        return frame

    def suggest(self, target_compute: float, experiment_budget: float, *, quantity: str = "n_opt",
                window: float = DESIGN_WINDOW, most: int = DESIGN_MAX_RUNS, misfit: bool = True) -> pd.DataFrame:
        """The runs to train next within ``experiment_budget`` FLOP that most narrow the decision at
        ``target_compute`` (as ``bayes-scaling suggest``): one row per run (``n_params``, ``n_tokens``, ``compute``,
        ``tokens_per_param``); ``attrs["suggest"]`` holds the whole result, with the expected narrowing and the
        standard design of equal cost (:func:`~bayes_scaling.analysis.design.suggest_runs`); ``misfit=False`` takes
        the law as right (as ``--law-only``)."""
        found = suggest_runs(self, target_compute, experiment_budget, quantity=quantity, window=window, most=most,
                             misfit=misfit)
        frame = pd.DataFrame(found["suggested"]["runs"])
        frame.attrs["suggest"] = found
        return frame

    def _repr_html_(self) -> str:
        """The fit in a notebook: verdict, parameter table with diagnostics, discrepancy and the data's range."""
        table = self.summary()
        runs = self.runs
        rows = [{"name": name, "median": f"{row['median']:.4g}", "interval": f"[{row['lower']:.4g}, "
                 f"{row['upper']:.4g}]", "r_hat": f"{row['r_hat']:.3f}", "ess_bulk": f"{row['ess_bulk']:.0f}",
                 "ess_tail": f"{row['ess_tail']:.0f}",
                 "ratio": "–" if np.isnan(row["prior_sd_ratio"]) else f"{row['prior_sd_ratio']:.2f}"}
                for name, row in table.iterrows()]
        spans = [f"{name} {float(runs[name].min()):.3g} to {float(runs[name].max()):.3g}"
                 for name in (*self.law.inputs, "compute") if name in runs]
        return str(render(
            "notebook/fit.html.j2", name=self.name, equation=self.law.equation, n_runs=runs.sizes["run"],
            likelihood=get_likelihood(str(self.tree.attrs["likelihood"])).description, converged=self.converged,
            verdict=self.diagnostics.verdict(), level=f"{DEFAULT_LEVEL:.0%}", rows=rows,
            divergences=self.diagnostics.divergences, weak=", ".join(self.weakly_identified),
            discrepancy=self.discrepancy.describe(), collapsed=self.discrepancy.collapsed,
            data_range="; ".join(dict.fromkeys(spans)), loss_unit=self.units["loss"]))


def fit(data: pd.DataFrame | str | Path | AnalysisSpec, law: str | None = None, *,
        columns: Mapping[str, str] | None = None, units: Mapping[str, str] | None = None,
        priors: Mapping[str, Mapping[str, Any]] | None = None, sampler: Mapping[str, Any] | None = None,
        likelihood: str | None = None, filters: Mapping[str, float] | None = None, name: str = "my-runs",
        discrepancy: str | None = None, budget_effect: str | None = None, progress: bool = False) -> ScalingFit:
    """Fit ``law`` to runs by NUTS, with its discrepancy and extrapolation error, as ``bayes-scaling fit`` does.

    Parameters
    ----------
    data : DataFrame, CSV path, spec path (``.toml``) or AnalysisSpec
        One row per training run. A spec carries its own settings (give no others).
    law : str
        ``chinchilla``, ``isoflop``, ``kaplan-joint``... (``bayes-scaling laws`` lists them).
    columns : mapping
        Canonical name -> your column, e.g. ``{"n_params": "params", "n_tokens": "tokens", "loss": "val_loss"}``;
        columns already named ``n_params``, ``n_tokens``, ``compute``, ``loss`` are taken as they are.
    units : mapping
        ``{"loss": "bits"}`` or ``{"compute": "PF-days"}`` where the table is not in nats and FLOP.
    priors, sampler, likelihood, filters :
        As the spec's ``[priors]``, ``[sampler]`` (``draws``, ``tune``, ``chains``, ``seed``...), ``[likelihood]
        family`` and ``[data]`` filters; by default the law's own (``law.default_filters``), which a filter of value
        None removes (``filters={"isoflop_loss_window": None}``, as ``--filter isoflop_loss_window=none``).
    discrepancy : str
        ``"after"`` (the GP fitted to the sampled law's residuals) or ``"in_model"`` (sampled with the law, so that
        every parameter interval carries the misfit; slower), as ``[discrepancy] gp``; by default the law's own
        (``law.default_discrepancy``).
    budget_effect : str
        ``"none"`` (default: every run independent, the scored method) or ``"auto"`` (a random offset per budget
        where the runs have budgets, so that runs of one budget err together), as ``[discrepancy] budgets``.
    name : str
        The fit's name in its summary, pages and files.

    Returns
    -------
    ScalingFit. Bad input raises :class:`~bayes_scaling.data.errors.DataError` or
    :class:`~bayes_scaling.spec.SpecError` naming the column, row and fix, before anything is sampled.
    """
    if isinstance(data, AnalysisSpec) or (isinstance(data, str | Path) and str(data).endswith(".toml")):
        given = {"law": law, "columns": columns, "units": units, "priors": priors, "sampler": sampler,
                 "likelihood": likelihood, "filters": filters, "discrepancy": discrepancy,
                 "budget_effect": budget_effect}
        extra = sorted(key for key, value in given.items() if value is not None)
        if extra:
            raise SpecError(f"{WHERE}: a spec carries its own settings; give them in the spec, not as {extra}")
        spec = data if isinstance(data, AnalysisSpec) else load_spec(data)
        return fit_spec(spec, progress=progress)
    if law is None:
        raise SpecError(f"{WHERE}: name the law to fit, e.g. law=\"chinchilla\"")
    try:
        chosen = get_law(law)
    except ValueError as err:
        raise SpecError(f"{WHERE}: {err}") from None
    chosen_filters = {name: value for name, value in {**chosen.default_filters, **dict(filters or {})}.items()
                      if value is not None}
    table: dict[str, Any] = {"columns": dict(columns or {}), "units": dict(units or {}), **chosen_filters}
    frame = None
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, str | Path):
        table["csv"] = str(data)
    else:
        raise DataError(_label(data), f"is a {type(data).__name__}",
                        "pass a pandas DataFrame (one row per run), a CSV path or a spec")
    raw = {"analysis": {"name": name, "law": law, "title": f"{law} law on {_label(data)}"}, "data": table,
           "likelihood": {"family": likelihood} if likelihood else {},
           "priors": {key: dict(value) for key, value in (priors or {}).items()}, "sampler": dict(sampler or {}),
           "discrepancy": {"gp": discrepancy or chosen.default_discrepancy, "budgets": budget_effect or "none"}}
    spec = spec_from_dict(raw, where=WHERE, in_memory=frame is not None)
    return fit_spec(spec, frame, progress=progress)


def fit_spec(spec: AnalysisSpec, frame: pd.DataFrame | None = None, *, progress: bool = False) -> ScalingFit:
    """Check, sample and measure the uncertainty of one spec (``frame``: its runs, if given in memory)."""
    return fit_prepared(prepare(spec, frame), progress=progress)  # every input check happens in prepare


def fit_prepared(prepared: PreparedFit, *, progress: bool = False) -> ScalingFit:
    """Sample a checked spec and measure its discrepancy and extrapolation error."""
    spec = prepared.spec
    log.info("fitting %s: %s to %d runs (%s, %d chains x %d draws)", spec.name, prepared.law.equation,
             len(prepared.runs), prepared.likelihood.description, spec.sampler.chains, spec.sampler.draws)
    if prepared.runs.filters:
        log.info("data filters (change with --filter NAME=VALUE or the spec's [data]): %s",
                 "; ".join(prepared.runs.filters))
    return ScalingFit(fit_with_uncertainty(prepared, progress=progress))


def load(path: str | Path) -> ScalingFit:
    """Load a fit from ``posterior.nc`` or the folder holding it (a corrupt or altered file is refused)."""
    return ScalingFit(load_tree(path), path)


def dataset(name: str, **filters: float) -> pd.DataFrame:
    """The runs of a registered dataset (``bayes-scaling data list``; Porian's ``porian2024`` needs a
    configuration, use a spec) as a DataFrame in canonical columns and units (``n_params``, ``n_tokens``,
    ``compute`` in FLOP, ``loss`` in nats per token), after ``filters`` (e.g. ``drop_highest_loss=0.1``): ready for
    :func:`fit` and :meth:`ScalingFit.score`."""
    runs = load_runs(DataSpec(dataset=name, filters=dict(filters)))
    return runs.frame.drop(columns=["row"]).reset_index(drop=True)


def from_tree(tree: xr.DataTree, path: str | Path | None = None) -> ScalingFit:
    """A :class:`ScalingFit` of a DataTree already in memory."""
    return ScalingFit(tree, path)


def _runs(data: pd.DataFrame | str | Path, columns: Mapping[str, str] | None, units: Mapping[str, str] | None,
          compute_tolerance: float | None = None):
    """Runs of a DataFrame or CSV, read and checked as a fit's are (no filters)."""
    settings = {"columns": dict(columns or {}), "units": dict(units or {}),
                **({} if compute_tolerance is None else {"compute_tolerance": compute_tolerance})}
    if isinstance(data, pd.DataFrame):
        return load_runs(DataSpec(**settings), data)
    return load_runs(DataSpec(csv=str(data), **settings))


def _label(data: Any) -> str:
    return "DataFrame" if isinstance(data, pd.DataFrame) else str(data)


def _sequence(values: float | Sequence[float]) -> list[float]:
    return [float(v) for v in np.atleast_1d(np.asarray(values, dtype=float))] if np.size(values) else []
