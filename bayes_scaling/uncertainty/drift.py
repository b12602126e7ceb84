r"""Extrapolation drift: how fast a law's error grows beyond the largest compute in its data, measured on the data
themselves by leave-future-out refits.

.. math::

    \delta_{drift}(x) = s \, d(x) \, z, \qquad z \sim \mathcal{N}(0, 1) \text{ per posterior draw}, \qquad
    d(x) = \max\big(0,\ \log_{10} c(x) - \log_{10} c_{max}\big)

with :math:`c` the compute of a point (``compute``, or N·D for laws of N and D: the same up to the factor 6; N or D
for a law of one of them) and
:math:`c_{max}` the largest in the data. It is added to the stationary discrepancy GP
(:mod:`bayes_scaling.uncertainty.discrepancy`), whose spread stops growing at :math:`\eta` a few length scales from
the runs.
A law fitted to small budgets can be off by an amount that keeps growing with each decade beyond them (a frontier
that levels off too early, say), and residuals at the runs cannot show that: the law's parameters absorb any trend
inside the data. So :math:`s` is measured the way a user meets the problem. The runs are refitted without the
budgets with the most compute, about 10, 20 and 30% of the runs (whole budgets, never part of one; one compiled
model, data swapped in), and each held-out run's error (observed log
loss minus the refit's median prediction) is taken as
:math:`e_i \sim \mathcal{N}(0,\ v_i + \eta^2 + s^2 d_i^2)`, with :math:`v_i` the refit's posterior variance of the
law there plus its noise scale squared and :math:`d_i` the run's decades beyond the refit's largest compute.
:math:`s` (log loss per decade) maximises that likelihood; it is 0 where the refits extrapolate within their own
spread. The random slope :math:`z` is shared along a draw, so predictions beyond the data move together, as one
wrong trend would move them.

The refits use the full data's centring (so each costs its sampling, not a compilation), and a prior ``at =
"centre"`` is therefore taken at the full data's centre; at most :data:`REFIT_DRAWS` draws and tuning steps per
chain are used.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from scipy.optimize import minimize_scalar

from bayes_scaling.data.errors import DataError
from bayes_scaling.data.filters import split_top_compute
from bayes_scaling.data.load import check_identifiable
from bayes_scaling.sampling.model import OBSERVED, natural_parameters
from bayes_scaling.sampling.sampler import run_nuts
from bayes_scaling.uncertainty.distance import beyond, log10_scale
from bayes_scaling.util.defaults import HOLD_OUT_FRACTIONS

log = logging.getLogger(__name__)

#: Fractions of the runs (whole budgets with the most compute) each leave-future-out refit holds out.
FRACTIONS = HOLD_OUT_FRACTIONS
#: Most draws and tuning steps per chain of a refit.
REFIT_DRAWS = 500
#: Upper bound of the slope search, in log loss per decade.
MOST_SLOPE = 1.0


def slope_estimate(errors: np.ndarray, variances: np.ndarray, distances: np.ndarray) -> float:
    """Maximum-likelihood s of ``errors ~ N(0, variances + s^2 distances^2)`` on [0, :data:`MOST_SLOPE`]."""
    def negative_log_likelihood(s: float) -> float:
        total = variances + (s * distances) ** 2
        return float(0.5 * np.sum(np.log(total) + errors**2 / total))

    if not np.any(distances > 0):
        return 0.0
    found = minimize_scalar(negative_log_likelihood, bounds=(0.0, MOST_SLOPE), method="bounded",
                            options={"xatol": 1e-6})
    return float(found.x) if negative_log_likelihood(found.x) < negative_log_likelihood(0.0) else 0.0


def refit_errors(prepared, built, compiled, eta: float) -> dict[str, np.ndarray]:
    """Errors, variances and distances of the held-out runs of the leave-future-out refits (concatenated over
    :data:`FRACTIONS`; fractions that hold out nothing or leave too few runs for the law are skipped)."""
    law, likelihood, runs = prepared.law, prepared.likelihood, prepared.runs
    sampler = prepared.spec.sampler
    settings = dataclasses.replace(sampler, draws=min(sampler.draws, REFIT_DRAWS), tune=min(sampler.tune, REFIT_DRAWS))
    parts: dict[str, list[np.ndarray]] = {"errors": [], "variances": [], "distances": []}
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
        data = {name: train.column(name) for name in law.inputs}
        result = run_nuts(built, dataclasses.replace(settings, seed=settings.seed + 1 + k),
                          compiled=compiled.with_data(**data, **{f"{OBSERVED}_observed": np.log(train.column("loss"))}))
        natural = natural_parameters(built, result.posterior)
        params = {name: np.asarray(natural[name]).reshape(-1) for name in law.parameters}
        held_inputs = {name: held.column(name) for name in law.inputs}
        predicted = law.log_loss(params, held_inputs)
        scale = float(np.median(result.posterior["sigma"])) if "sigma" in likelihood.parameters else 0.0
        parts["errors"].append(np.log(held.column("loss")) - np.median(predicted, axis=0))
        parts["variances"].append(np.var(predicted, axis=0) + scale**2 + eta**2)
        parts["distances"].append(beyond(held_inputs, float(np.max(log10_scale(data)))))
    found = {key: np.concatenate(values) if values else np.zeros(0) for key, values in parts.items()}
    finite = np.isfinite(found["errors"]) & np.isfinite(found["variances"])
    if not finite.all():  # a refit whose law overflows at a held-out run says nothing about the slope there
        log.warning("drift: %d of %d held-out runs had no finite refit prediction; left out", int((~finite).sum()),
                    finite.size)
    return {key: values[finite] for key, values in found.items()}


def measure_drift(prepared, built, compiled, eta: float) -> dict[str, float | int]:
    """The drift of a fit: ``drift`` (s, log loss per decade), ``drift_from`` (log10 of the data's largest
    compute) and ``drift_errors`` (held-out runs it was measured on; 0: not measured, s = 0)."""
    found = refit_errors(prepared, built, compiled, eta)
    slope = slope_estimate(found["errors"], found["variances"], found["distances"]) if found["errors"].size else 0.0
    reference = float(np.max(log10_scale({name: prepared.runs.column(name) for name in prepared.law.inputs})))
    log.info("drift: %.4f log loss per decade beyond the data, from %d held-out runs", slope, found["errors"].size)
    return {"drift": slope, "drift_from": reference, "drift_errors": int(found["errors"].size)}
