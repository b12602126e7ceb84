"""Simulation-based calibration (Talts et al. 2018): draw parameters from the prior, simulate runs at the real data's
design (its N, D, C), fit, and record the rank of each true value among the posterior draws. If the sampler and
the model's implementation are right, every rank is uniform; a chi-square test per parameter checks it.

The model is compiled once per process (a Dask worker fitting several chunks of one SBC keeps it); each simulated
dataset is swapped in as data (nutpie's ``with_data``), so a simulation costs its sampling, not a compilation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import chisquare

from bayes_scaling.sampling import budget_term
from bayes_scaling.sampling.budget_term import BudgetTerm, budget_term_for
from bayes_scaling.sampling.diagnostics import diagnose
from bayes_scaling.sampling.gp_term import GPTerm, delta_at, hyperparameter_names
from bayes_scaling.sampling.gp_term import prior_draws as gp_prior_draws
from bayes_scaling.sampling.model import OBSERVED, build_model, natural_parameters, prior_draws
from bayes_scaling.sampling.run import EXTEND_RHAT, PreparedFit
from bayes_scaling.sampling.sampler import compile_model, run_nuts

log = logging.getLogger(__name__)

#: Posterior draws kept (evenly thinned) for the ranks, and histogram bins of the uniformity test: ranks 0..49 in 10
#: bins of 5, so 100 simulations put 10 in each bin. 99 draws in 20 bins until session 20: a simulation then needed 99
#: effective draws and 12-15% of them were sampled again, 4x longer; the PIT-ECDF band's power is set by the number of
#: simulations, not by the draws (docs/performance.md, session 20).
RANK_DRAWS = 49
BINS = 10
#: Probability of the simultaneous PIT-ECDF band the ranks must stay inside.
ECDF_BAND = 0.99
#: Tasks per worker: each task fits its share of the simulations (the model compiled once per process); progress is
#: shown as tasks finish. The split is the same on every scheduler.
TASKS_PER_WORKER = 3
#: A simulation's ranks need about RANK_DRAWS effective draws (the thinned draws they count must be nearly
#: independent), not the 400 a reported interval needs: a fit whose bulk or tail ESS of a ranked parameter falls
#: below that while it mixes, only slowly (no divergence, R-hat at most the fits' EXTEND_RHAT), is sampled once more
#: with this many times the draws and twice the tuning, with its own seed (more draws do not mend a fit whose chains
#: disagree). The simulation's fit counts as converged by R-hat <= 1.01, no divergence and ESS >= RANK_DRAWS.
MORE_DRAWS = 4


def simulate_log_loss(prepared: PreparedFit, truth: dict[str, float], rng: np.random.Generator,
                      delta: np.ndarray | None = None) -> np.ndarray:
    """Log losses of the real design's runs under ``truth`` (law and noise parameters), plus ``delta`` at the runs:
    the discrepancy where the GP is inside the model, and the runs' budget offsets where the model has them."""
    law, likelihood = prepared.law, prepared.likelihood
    inputs = {name: prepared.runs.column(name) for name in law.inputs}
    with np.errstate(all="ignore"):
        mu = np.log(law.loss(**inputs, **{k: truth[k] for k in law.parameters}))
    if delta is not None:
        mu = mu + delta
    return likelihood.sample(rng, mu, **{k: truth[k] for k in likelihood.parameters})


def _gp_term(prepared: PreparedFit) -> GPTerm | None:
    """The discrepancy GP of the model when the spec puts it inside (its hyperparameters are ranked too)."""
    if prepared.spec.discrepancy != "in_model":
        return None
    return GPTerm.for_data(tuple(prepared.law.inputs), _columns(prepared))


def _columns(prepared: PreparedFit) -> dict[str, np.ndarray]:
    return {name: prepared.runs.column(name) for name in prepared.law.inputs}


def _budget_term(prepared: PreparedFit) -> BudgetTerm | None:
    """The random offset per budget of the model, where the data have budgets (its spread is ranked too)."""
    return budget_term_for(prepared.runs.frame, prepared.spec.budget_effect)


def ranked_names(prepared: PreparedFit) -> tuple[str, ...]:
    """The parameters whose ranks SBC records: the law's, the noise's, the budgets' spread if the model has it and
    the GP's hyperparameters if inside."""
    term = _gp_term(prepared)
    return (*prepared.law.parameters, *prepared.likelihood.parameters,
            *(() if _budget_term(prepared) is None else (budget_term.SD,)),
            *(() if term is None else hyperparameter_names(term)))


#: Added to a simulation's seed for its longer re-sample.
SEED_OFFSET = 1_000_003


def _sample_ranked(built, settings, compiled, names: tuple[str, ...]):
    """Sample one simulated dataset: the ranked parameters' draws and their diagnostics."""
    result = run_nuts(built, settings, compiled=compiled)
    posterior = {**natural_parameters(built, result.posterior),
                 **{name: result.posterior[name] for name in names if name in result.posterior}}
    diagnostics = diagnose(xr.Dataset({name: posterior[name] for name in names}), result.sample_stats, list(names))
    return posterior, diagnostics


def _short_of_rank_draws(diagnostics, names) -> bool:
    """Whether a ranked parameter has fewer effective draws (bulk or tail) than the ranks count."""
    return any(min(diagnostics.ess_bulk[name], diagnostics.ess_tail[name]) < RANK_DRAWS for name in names)


def needs_more_draws(diagnostics, names) -> bool:
    """Whether a simulation's fit is sampled again, longer: short of :data:`RANK_DRAWS` effective draws while it
    mixes (no divergence, R-hat at most ``EXTEND_RHAT``)."""
    return (_short_of_rank_draws(diagnostics, names) and not diagnostics.divergences
            and diagnostics.max_rhat <= EXTEND_RHAT)


#: The model of the last SBC design this process compiled, by :func:`design_key`: the chunks of one SBC that run in
#: one process (all of them serially; a Dask worker's share) compile it once.
_COMPILED: dict[str, tuple[Any, Any]] = {}


def design_key(prepared: PreparedFit, geometry: str) -> str:
    """What the compiled model of an SBC depends on: the spec, the law's form, the priors, the runs (the design and
    budgets; the observed losses are swapped in per simulation) and the geometry."""
    content = {**prepared.model_content(), "geometry": geometry}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode())
    digest.update(pd.util.hash_pandas_object(prepared.runs.frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def built_and_compiled(prepared: PreparedFit, geometry: str):
    """The built model of ``prepared``'s design and its compiled log density, compiled once per process."""
    key = design_key(prepared, geometry)
    if key not in _COMPILED:
        _COMPILED.clear()  # one SBC at a time: a report calibrates its analyses one after another
        built = build_model(prepared.law, prepared.runs, prepared.likelihood, prepared.priors, geometry,
                            discrepancy=prepared.spec.discrepancy == "in_model", budgets=_budget_term(prepared))
        _COMPILED[key] = (built, compile_model(built))
    return _COMPILED[key]


def _fit_chunk(task) -> list[dict[str, Any]]:
    """Fit a chunk of simulations with the design's compiled model: ``task`` is (prepared, sampler settings,
    [(index, truth, simulated log losses, seed)]). Returns each simulation's ranks and whether it converged."""
    prepared, settings, simulations = task
    built, compiled = built_and_compiled(prepared, settings.geometry)
    names = ranked_names(prepared)
    out = []
    for index, truth, y, seed in simulations:
        data = compiled.with_data(**{f"{OBSERVED}_observed": y})
        posterior, diagnostics = _sample_ranked(built, dataclasses.replace(settings, seed=seed), data, names)
        extended = needs_more_draws(diagnostics, names)
        if extended:
            longer = dataclasses.replace(settings, seed=seed + SEED_OFFSET, draws=settings.draws * MORE_DRAWS,
                                         tune=settings.tune * 2)
            posterior, diagnostics = _sample_ranked(built, longer, data, names)
        ranks = {}
        for name in names:
            values = np.asarray(posterior[name]).ravel()
            thinned = values[np.linspace(0, values.size - 1, RANK_DRAWS).astype(int)]
            ranks[name] = int(np.sum(thinned < truth[name]))
        failed = {"rhat": diagnostics.max_rhat > diagnostics.max_rhat_allowed,
                  "divergences": bool(diagnostics.divergences), "ess": _short_of_rank_draws(diagnostics, names)}
        out.append({"index": index, "ranks": ranks, "converged": not any(failed.values()), "failed": failed,
                    "extended": extended})
    return out


def sbc(prepared: PreparedFit, simulations: int = 100, *, seed: int = 0, draws: int = 500, tune: int = 500,
        chains: int | None = None, scheduler: str = "serial", workers: int = 2, progress=None) -> dict[str, Any]:
    """Run SBC for the prepared spec's law, priors and likelihood at its data's design: each simulation fitted with
    ``chains`` chains (the spec's sampler's when None) of ``draws`` draws after ``tune`` tuning steps.

    The true parameters, simulated data and sampler seeds of every simulation are drawn here, in order, from
    ``seed``; the fits then run in :data:`TASKS_PER_WORKER` x ``workers`` chunks (the model compiled once per
    process, each simulation's data swapped in), serially or on Dask
    (:func:`~bayes_scaling.util.parallel.run_tasks`), so every scheduler gives the same ranks.

    Returns
    -------
    dict with ``ranks`` ({parameter: list of ranks in 0..RANK_DRAWS}), ``p_values`` (chi-square uniformity test on
    BINS bins), ``simulations``, ``skipped`` (simulations whose data were not finite), ``unconverged`` (count of
    fits failing R-hat, divergences or :data:`RANK_DRAWS` effective draws; their ranks are kept, as SBC requires),
    ``failed`` (how many fits failed each of those three checks: ``rhat``, ``divergences``, ``ess``),
    ``extended`` (fits sampled again, longer, for want of effective draws), ``chains``, ``draws`` and ``tune`` (each
    fit's sampler settings), ``seconds`` (wall clock) and
    ``task_seconds`` (the chunks' own times: their sum over ``seconds`` is the speed-up).
    """
    from bayes_scaling.util.parallel import run_tasks

    names = ranked_names(prepared)
    settings = dataclasses.replace(prepared.spec.sampler, draws=draws, tune=tune,
                                   chains=prepared.spec.sampler.chains if chains is None else chains)
    rng = np.random.default_rng(seed)
    planned, skipped = [], 0
    truths = prior_draws(prepared.law, prepared.likelihood, prepared.priors, prepared.runs, rng, simulations)
    term = _gp_term(prepared)
    deltas = None
    if term is not None:  # the GP's truths after the law's: a spec without it draws exactly as before
        gp = gp_prior_draws(term, rng, simulations)
        deltas = delta_at(term, gp, _columns(prepared))
        truths.update({name: gp[name] for name in hyperparameter_names(term)})
    budgets = _budget_term(prepared)
    if budgets is not None:  # the budgets' offsets last: a model without them draws exactly as before
        offsets = budget_term.prior_draws(budgets, rng, simulations)
        at_runs = budget_term.at_runs(offsets[budget_term.OFFSET], budgets.labels)
        deltas = at_runs if deltas is None else deltas + at_runs
        truths[budget_term.SD] = offsets[budget_term.SD]
    for i in range(simulations):
        truth = {name: float(values[i]) for name, values in truths.items()}
        y = simulate_log_loss(prepared, truth, rng, None if deltas is None else deltas[i])
        if np.all(np.isfinite(y)):
            planned.append((i, truth, y, seed + 1 + i))
        else:
            skipped += 1
    chunks = max(1, TASKS_PER_WORKER * workers)
    tasks = [(prepared, settings, planned[k::chunks]) for k in range(chunks) if planned[k::chunks]]
    results, seconds = run_tasks(_timed_chunk, tasks, scheduler=scheduler, workers=workers, progress=progress)
    fitted = sorted((row for chunk, _ in results for row in chunk), key=lambda row: row["index"])
    ranks = {name: [row["ranks"][name] for row in fitted] for name in names}
    p_values = {}
    for name, values in ranks.items():
        counts = np.bincount(np.minimum(np.asarray(values) * BINS // (RANK_DRAWS + 1), BINS - 1), minlength=BINS)
        p_values[name] = float(chisquare(counts).pvalue) if len(values) else float("nan")
    ecdf = {name: rank_ecdf(values, seed=seed) for name, values in ranks.items()}
    return {"ranks": ranks, "p_values": p_values, "ecdf_inside": {name: e["inside"] for name, e in ecdf.items()},
            "ecdf": ecdf, "ecdf_band": ECDF_BAND, "simulations": simulations, "skipped": skipped,
            "unconverged": sum(not row["converged"] for row in fitted),
            "failed": {check: sum(row["failed"][check] for row in fitted) for check in ("rhat", "divergences", "ess")},
            "extended": sum(row.get("extended", False) for row in fitted), "rank_draws": RANK_DRAWS, "bins": BINS,
            "chains": settings.chains, "draws": settings.draws, "tune": settings.tune,
            "seconds": seconds, "task_seconds": [t for _, t in results]}


def rank_ecdf(ranks, *, seed: int = 0, band: float | None = None, simulations: int = 1000,
              rank_draws: int = RANK_DRAWS) -> dict[str, Any]:
    """The PIT-ECDF of SBC ranks with ArviZ's simultaneous ``band`` (Säilynoja, Bürkner & Vehtari 2022): the ranks
    (0..``rank_draws``, the draws they were counted among: :data:`RANK_DRAWS` now, 199 in results saved before
    session 14) become PIT values ``(rank + u) / (rank_draws + 1)`` with a seeded uniform ``u``; they
    are uniform, as SBC requires, unless the ECDF leaves the band somewhere (``inside`` False). Returns the
    evaluation points, the ECDF and the band's bounds as lists, and ``inside``."""
    from arviz_stats.ecdf_utils import ecdf_pit

    band = ECDF_BAND if band is None else band
    values = np.asarray(ranks, dtype=float)
    if values.size == 0:
        return {"inside": True, "x": [], "ecdf": [], "lower": [], "upper": []}
    rng = np.random.default_rng([seed, 11])
    pit = (values + rng.uniform(size=values.size)) / (rank_draws + 1)
    x, ecdf, lower, upper = ecdf_pit(np.sort(pit), band, simulations, rng=np.random.default_rng([seed, 12]))
    inside = bool(np.all((ecdf >= lower - 1e-12) & (ecdf <= upper + 1e-12)))
    return {"inside": inside, "x": x.tolist(), "ecdf": ecdf.tolist(), "lower": lower.tolist(),
            "upper": upper.tolist()}


def _timed_chunk(task) -> tuple[list[dict[str, Any]], float]:
    start = time.perf_counter()
    return _fit_chunk(task), time.perf_counter() - start
