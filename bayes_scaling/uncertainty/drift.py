r"""The fit's own leave-future-out errors: how far refits without the budgets with the most compute missed them.

A law fitted to small budgets can be off by an amount that keeps growing with each decade beyond them, and
residuals at the runs cannot show that: the law's parameters absorb any trend inside the data. So the runs are
refitted without the budgets with the most compute, about 10, 20 and 30% of the runs (whole budgets, never part of
one; one compiled model, data swapped in), and each held-out run's error (observed log loss minus the refit's median
prediction) is recorded with its variance :math:`v_i` (the refit's posterior variance of the law there, its noise's
spread squared and the GP amplitude :math:`\eta^2`) and its distance :math:`d_i`, the decades of compute beyond the
refit's data (:mod:`bayes_scaling.uncertainty.distance`). The noise's spread is
:meth:`~bayes_scaling.likelihoods.Likelihood.spread`: a Student-t's 68% half-width, not its scale sigma, which
understates it, nor its variance sigma^2 nu/(nu-2), infinite at the nu <= 2 fitted to digitised runs.

These errors update the cross-suite extrapolation prior (:mod:`bayes_scaling.uncertainty.extrapolation`): a few
refits of one dataset cannot tell a slope's spread from its sign, many suites can. The refits use the full data's
centring (so each costs its sampling, not a compilation), and a prior ``at = "centre"`` is therefore taken at the
full data's centre. A refit's chains start around the main fit's posterior mean and tune briefly
(:data:`WARM_CHAINS` chains of :data:`WARM_TUNE` steps, then :data:`WARM_DRAWS` draws each); without that start, the
fit's chains with at most :data:`REFIT_DRAWS` of each.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np
import pandas as pd

from bayes_scaling.data.budgets import budget_labels
from bayes_scaling.data.errors import DataError
from bayes_scaling.data.filters import split_top_compute
from bayes_scaling.data.load import check_identifiable
from bayes_scaling.sampling import budget_term
from bayes_scaling.sampling.data_logs import input_data
from bayes_scaling.sampling.gp_term import term_data as gp_term_data
from bayes_scaling.sampling.model import OBSERVED, natural_parameters
from bayes_scaling.sampling.sampler import WarmStart, run_nuts, swap_data
from bayes_scaling.uncertainty.distance import beyond, largest_scale
from bayes_scaling.uncertainty.extrapolation import (
    ExtrapolationPrior,
    OwnErrors,
    allocation_model,
    drift_model,
    independent_variance,
    packaged_allocation_prior,
    packaged_prior,
)
from bayes_scaling.util.defaults import HOLD_OUT_FRACTIONS

log = logging.getLogger(__name__)

#: Fractions of the runs (whole budgets with the most compute) each leave-future-out refit holds out.
FRACTIONS = HOLD_OUT_FRACTIONS
#: Most draws and tuning steps per chain of a refit started from scratch.
REFIT_DRAWS = 500
#: Tuning steps and draws per chain of a refit whose chains start inside the main fit's posterior (a warm start,
#: :class:`~bayes_scaling.sampling.sampler.WarmStart`). The three refits against 500 and 500 from the model's own
#: initial point: 3.1 -> 1.6 CPU s (Chinchilla's law on Epoch's runs), 4.4 -> 2.8 (IsoFLOP), 3.5 -> 1.4 (Kaplan's
#: joint law), 1.4 -> 0.8 (IsoFLOP on Porian's RW "tuned"); errors within 0.05 of their sd of the cold refits' and
#: variances within 11%, as close as a cold refit with another seed (docs/performance.md, session 14).
WARM_TUNE = 200
#: Chains and draws per chain of a warm refit: 2 x 500 (4 x 250 until session 24). Every chain tunes from nutpie's
#: own mass matrix (none can be handed over), and tuning was most of a refit's leapfrog steps; half the chains, the
#: same 1,000 draws: refits' CPU 0.84 -> 0.54 s (law alone, Epoch's runs) and 9.6 -> 7.3 s (GP inside), 28-35% on
#: five suites, errors and variances as close to 4 x 250's as 4 x 250 with another seed is (mean |error change| /
#: sd 0.004-0.041 against 0.003-0.052; docs/performance.md, session 24).
WARM_CHAINS = 2
WARM_DRAWS = 500
#: Most held-out runs a refit keeps as own errors (evenly spread over its budgets): the slope's information comes
#: from the budgets' distances, and thousands of runs of one budget add little but cost memory in the fit's attrs.
MOST_OWN_ERRORS = 1000


def evenly_kept(budgets: np.ndarray, most: int) -> np.ndarray:
    """Indices of at most ``most`` of the runs, evenly spaced through them in budget order (every budget keeps its
    share); all of them if there are no more than ``most``."""
    order = np.argsort(budgets, kind="stable")
    if order.size <= most:
        return np.arange(order.size)
    return np.sort(order[np.linspace(0, order.size - 1, most).round().astype(int)])


def error_terms(law, likelihood, params: dict[str, np.ndarray], noise: dict[str, np.ndarray],
                inputs: dict[str, np.ndarray], loss: np.ndarray, eta: float, budget_sd: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Errors of held-out runs (observed log loss minus the median law over posterior draws ``params``), their
    variances (the law's posterior variance there, the noise's spread squared, ``eta`` squared and, where the model
    has a random offset per budget, a new budget's: the median of ``budget_sd`` squared), and the part of each
    variance the held-out runs share (the law's posterior variance: one shift for all of them, the parameters being
    common; :mod:`bayes_scaling.uncertainty.extrapolation`)."""
    predicted = law.log_loss(params, inputs)
    shared = np.var(predicted, axis=0)
    return (np.log(loss) - np.median(predicted, axis=0),
            shared + independent_variance(likelihood, noise, eta, budget_sd), shared)



def refit_settings(sampler, warm: bool):
    """A refit's sampler settings: from the main fit's warm start, at most :data:`WARM_CHAINS` chains of
    :data:`WARM_TUNE` tuning steps and :data:`WARM_DRAWS` draws; from scratch, the fit's chains with at most
    :data:`REFIT_DRAWS` of each."""
    if warm:
        return dataclasses.replace(sampler, chains=min(sampler.chains, WARM_CHAINS),
                                   draws=min(sampler.draws, WARM_DRAWS), tune=min(sampler.tune, WARM_TUNE))
    return dataclasses.replace(sampler, draws=min(sampler.draws, REFIT_DRAWS), tune=min(sampler.tune, REFIT_DRAWS))


def refit_errors(prepared, built, compiled, eta: float, start_from: WarmStart | None = None) -> OwnErrors:
    """Errors, variances and distances of the held-out runs of the leave-future-out refits, with the refit and the
    budget each comes from (over :data:`FRACTIONS`; fractions that hold out nothing or leave too few runs for the
    law are skipped). ``start_from``: the main fit's warm start, from which each refit starts its chains."""
    law, likelihood, runs = prepared.law, prepared.likelihood, prepared.runs
    settings = refit_settings(prepared.spec.sampler, start_from is not None)
    parts: dict[str, list[np.ndarray]] = {"errors": [], "variances": [], "distances": [], "refits": [], "budgets": [],
                                          "rows": [], "shared": []}
    labels = budget_labels(runs.frame)
    seen: set[frozenset] = set()
    for k, fraction in enumerate(FRACTIONS):
        try:
            train, held = split_top_compute(runs, fraction)
            check_identifiable(train, law, "drift refit")
        except DataError as error:
            log.info("drift: no refit without the top %.0f%% of compute (%s)", 100 * fraction, error)
            continue
        rows = frozenset(held.frame["row"].tolist())
        if len(held) == 0 or rows in seen:  # coarse designs: two fractions can hold out the same whole budgets
            continue
        seen.add(rows)
        columns = {name: train.column(name) for name in law.inputs}
        gp_data = {} if built.gp is None else gp_term_data(built.gp, columns)  # same box: the full data's
        if built.budgets is not None:  # the same budgets: the held-out ones keep their offsets' prior
            position = pd.Series(np.arange(len(runs)), index=runs.frame["row"].to_numpy())
            kept_labels = built.budgets.label_data()[position.loc[train.frame["row"].to_numpy()].to_numpy()]
            gp_data = {**gp_data, budget_term.LABELS: kept_labels}
        log.info("drift: refitting without the top %.0f%% of compute (%d runs held out)", 100 * fraction, len(held))
        result = run_nuts(built, dataclasses.replace(settings, seed=settings.seed + 1 + k), start_from=start_from,
                          compiled=swap_data(built, compiled, {
                              **input_data(law.inputs, columns), **gp_data,
                              f"{OBSERVED}_observed": np.log(train.column("loss"))}))
        natural = natural_parameters(built, result.posterior)
        params = {name: np.asarray(natural[name]).reshape(-1) for name in law.parameters}
        noise = {name: np.asarray(result.posterior[name]).reshape(-1) for name in likelihood.parameters}
        held_labels = labels[runs.frame["row"].isin(rows).to_numpy()]
        keep = evenly_kept(held_labels, MOST_OWN_ERRORS)
        held_inputs = {name: held.column(name)[keep] for name in law.inputs}
        budget_sd = None if built.budgets is None else np.asarray(result.posterior[budget_term.SD]).reshape(-1)
        errors, variances, shared = error_terms(law, likelihood, params, noise, held_inputs,
                                                held.column("loss")[keep], eta, budget_sd)
        parts["errors"].append(errors)
        parts["variances"].append(variances)
        parts["shared"].append(shared)
        parts["distances"].append(beyond(held_inputs, largest_scale(columns)))
        parts["refits"].append(np.full(keep.size, float(k)))
        parts["budgets"].append(held_labels[keep].astype(float))
        parts["rows"].append(held.frame["row"].to_numpy(dtype=float)[keep])
    found = {key: np.concatenate(values) if values else np.zeros(0) for key, values in parts.items()}
    finite = np.isfinite(found["errors"]) & np.isfinite(found["variances"])
    if not finite.all():  # a refit whose law overflows at a held-out run says nothing about the slope there
        log.warning("drift: %d of %d held-out runs had no finite refit prediction; left out", int((~finite).sum()),
                    finite.size)
    return OwnErrors(**{key: values[finite] for key, values in found.items()})


def measure_drift(prepared, built, compiled, eta: float, prior: ExtrapolationPrior | None = None, *,
                  refits: bool = True, start_from: WarmStart | None = None) -> dict[str, Any]:
    """The extrapolation of a fit: ``drift_from`` (log10 of the data's largest compute), ``drift_errors`` (held-out
    runs of its own refits), ``drift_own`` (those errors), ``allocation_model`` (the packaged drift of log10 N_opt
    per decade beyond the data, :func:`~bayes_scaling.uncertainty.extrapolation.allocation_model`) and
    ``drift_model`` (the slope distribution: the
    cross-suite ``prior``, by default the packaged one for the law, updated by the own errors unless ``refits`` is
    false;
    :mod:`bayes_scaling.uncertainty.extrapolation`)."""
    own = refit_errors(prepared, built, compiled, eta, start_from) if refits else OwnErrors.empty()
    prior = prior or packaged_prior(prepared.law.name, prepared.spec.budget_effect, prepared.spec.discrepancy)
    reference = largest_scale({name: prepared.runs.column(name) for name in prepared.law.inputs})
    found = drift_model(prior, own)
    allocation = packaged_allocation_prior(prepared.law.name, prepared.spec.budget_effect,
                                           prepared.spec.discrepancy)
    return {"drift": 0.0, "drift_from": reference, "drift_errors": int(own.errors.size),
            "drift_own": own.to_dict(), "drift_model": found.to_dict(),
            "allocation_model": None if allocation is None else allocation_model(allocation).to_dict()}
