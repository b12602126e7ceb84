r"""Learn the cross-suite extrapolation model from the development suites' leave-future-out errors.

The model (:mod:`bayes_scaling.uncertainty.extrapolation` gives it whole) is fitted by NUTS to the errors of one law
on every suite, one refit per (suite, cut):

.. math::

    e_i \sim \mathcal{N}\big(b_{r(i)} d_i + \gamma_{g(i)} \min(1, d_i),\ v_i\big), \quad
    b_r = \mu + \tau z_{suite(r)} + \psi w_r, \quad \gamma_g \sim \mathcal{N}(0, \rho^2), \quad
    z, w \sim \mathcal{N}(0, 1)

with priors fixed before any score was seen: :math:`\mu \sim \mathcal{N}(0, 0.05)` (a slope of a few percent of
loss per decade either way), :math:`\tau \sim \mathrm{HalfNormal}(0.05)`, :math:`\psi, \rho \sim
\mathrm{HalfNormal}(0.03)`. With ``between="student_t"`` the suites' slopes spread as a Student-t instead,
:math:`z \sim t_\nu(0, 1)`, :math:`\nu \sim \mathrm{Gamma}(2, 0.1)` (Juárez and Steel's default): a narrow centre
with heavy tails, where a few suites extrapolate far worse than the rest (a choice made after seeing the
leave-one-suite-out scores of the Normal, docs/calibration.md). Errors of fits that failed their diagnostics are
left out (the method never quotes them). The budget offsets are integrated out in closed form (a rank-one term per
budget), so NUTS moves only the hyperparameters and the suite and refit slopes. With ``shared`` (session 19)
the mean gains :math:`\lambda_{r(i)} a_i`, :math:`\lambda_r \sim \mathcal{N}(0, 1)` per refit, and :math:`v_i`
keeps only its independent part :math:`v_i - a_i^2`: :math:`a_i^2` is the refit's posterior variance of the law at
the run, which the held-out runs share (the prediction's own draws carry it, so the slopes' spread must not take it
up again; the GP's part stays independent, as the misfit differs from size to size). The posterior draws of
:math:`(\mu, \tau, \psi, \rho)` (and :math:`\nu`) are what ``extrapolation_prior.json`` stores.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from bayes_scaling.sampling.diagnostics import diagnose
from bayes_scaling.sampling.generated_source import keep_generated_source
from bayes_scaling.uncertainty.extrapolation import HYPER

log = logging.getLogger(__name__)

#: Times a cross-suite fit that fails its diagnostics is sampled again, twice as long each time (another seed).
LONGER_ATTEMPTS = 1

#: Posterior draws kept per law in the packaged prior.
KEPT_DRAWS = 400
#: How the suites' slopes spread around the mean slope: ``normal`` or ``student_t``.
BETWEEN = ("normal", "student_t")


def fit_cross_suite(errors: pd.DataFrame, *, seed: int = 0, draws: int = 2000, tune: int = 2000,
                    chains: int = 4, between: str = "normal", shared: bool = False) -> dict[str, Any]:
    """Posterior of the cross-suite model on ``errors`` (rows of :func:`~bayes_scaling.validation.extrapolation_errors.
    errors_table` for one law or several): ``suites``, ``between``, ``draws`` (:data:`KEPT_DRAWS` of each
    hyperparameter, evenly thinned; with ``nu`` for a Student-t spread between suites) and ``diagnostics`` (max R-hat,
    min bulk and tail ESS, divergences, whether they pass with the problems if not, and the draws per chain: a fit
    that fails is sampled again twice as long, :data:`LONGER_ATTEMPTS` times, before it is reported as failed).
    ``shared``: each refit's systematic uncertainty (the ``shared`` column: the law's posterior variance) is one
    shift its held-out runs share, lambda_r a_i with lambda_r ~ N(0, 1), and only the rest of each variance is
    independent (``shared_errors`` in the result; errors without the column have no shared part)."""
    if between not in BETWEEN:
        raise ValueError(f"between must be one of {BETWEEN}, not {between!r}")
    import pymc as pm
    import pytensor.tensor as pt

    used = errors[errors["converged"].astype(bool) & (errors["distance"] > 0)].reset_index(drop=True)
    if used.empty:
        raise ValueError("no held-out errors of converged fits beyond their data")
    refit_codes, refits = pd.factorize(used["refit"])
    suite_of_refit = pd.factorize(used.groupby("refit", sort=False)["suite"].first().loc[refits])[0]
    suites = list(dict.fromkeys(used.groupby("refit", sort=False)["suite"].first().loc[refits]))
    group_codes, _ = pd.factorize(pd.MultiIndex.from_arrays([used["refit"], used["budget"]]))
    d = used["distance"].to_numpy(dtype=float)
    ramp, variance = np.minimum(1.0, d), used["variance"].to_numpy(dtype=float)
    common = np.zeros_like(variance)
    if shared and "shared" in used:
        common = np.minimum(used["shared"].to_numpy(dtype=float), variance)
        variance = np.maximum(variance - common, 1e-12)
    n_groups = int(group_codes.max()) + 1
    ramp_weight = np.bincount(group_codes, weights=ramp**2 / variance, minlength=n_groups)  # sum of m^2 / v per budget
    with pm.Model():
        mu = pm.Normal("mu", 0.0, 0.05)
        tau = pm.HalfNormal("tau", 0.05)
        psi = pm.HalfNormal("psi", 0.03)
        rho = pm.HalfNormal("rho", 0.03)
        if between == "student_t":
            nu = pm.Gamma("nu", alpha=2.0, beta=0.1)
            z = pm.StudentT("z", nu=nu, mu=0.0, sigma=1.0, shape=len(suites))
        else:
            z = pm.Normal("z", 0.0, 1.0, shape=len(suites))
        w = pm.Normal("w", 0.0, 1.0, shape=len(refits))
        slope = mu + tau * z[suite_of_refit] + psi * w
        residual = used["error"].to_numpy(dtype=float) - slope[refit_codes] * d
        if np.any(common > 0):  # the refit's own systematic uncertainty, one shift for its held-out runs
            shift = pm.Normal("shift", 0.0, 1.0, shape=len(refits))
            residual = residual - shift[refit_codes] * np.sqrt(common)
        # each budget's offset gamma ~ N(0, rho^2) integrated out: a rank-one term per budget (Sherman-Morrison)
        inflation = 1.0 + rho**2 * ramp_weight
        cross = pt.inc_subtensor(pt.zeros(n_groups)[group_codes], ramp * residual / variance)
        pm.Potential("errors", -0.5 * (np.sum(np.log(2 * np.pi * variance)) + pm.math.sum(pm.math.log(inflation))
                                       + pm.math.sum(residual**2 / variance)
                                       - pm.math.sum(rho**2 * cross**2 / inflation)))
        keep_generated_source()  # PyTensor's generated source beside its cache, not new files in /tmp
        names = [*HYPER, *(("nu",) if between == "student_t" else ())]
        for attempt in range(1 + LONGER_ATTEMPTS):
            scale = 2**attempt
            idata = pm.sample(draws=draws * scale, tune=tune * scale, chains=chains, target_accept=0.99,
                              random_seed=seed + attempt, progressbar=False, compute_convergence_checks=False)
            posterior = idata["posterior"].to_dataset()
            found = diagnose(posterior, idata["sample_stats"].to_dataset(), names)
            if found.converged:
                break
            log.warning("cross-suite model on %d errors of %d suites, %d draws a chain: %s%s", len(used), len(suites),
                        draws * scale, "; ".join(found.problems),
                        ", sampling again twice as long" if attempt < LONGER_ATTEMPTS else ": NOT CONVERGED")
    diagnostics = {"max_rhat": found.max_rhat, "min_ess_bulk": found.min_ess_bulk, "min_ess_tail": found.min_ess_tail,
                   "divergences": found.divergences, "converged": found.converged, "problems": list(found.problems),
                   "draws_per_chain": draws * scale}
    flat = {name: posterior[name].to_numpy().reshape(-1) for name in names}
    keep = np.linspace(0, flat["mu"].size - 1, KEPT_DRAWS).round().astype(int)
    log.info("cross-suite model on %d errors of %d suites: %s", len(used), len(suites), diagnostics)
    return {"suites": suites, "errors": len(used), "between": between, "shared_errors": bool(np.any(common > 0)),
            "diagnostics": diagnostics,
            "draws": {name: np.round(values[keep], 8).tolist() for name, values in flat.items()}}


def summary(found: dict[str, Any]) -> dict[str, str]:
    """Median and 90% interval of each hyperparameter, as text."""
    out = {}
    for name in (*HYPER, "nu"):
        if name not in found["draws"]:
            continue
        values = np.asarray(found["draws"][name])
        out[name] = f"{np.median(values):+.4f} [{np.quantile(values, 0.05):+.4f}, {np.quantile(values, 0.95):+.4f}]"
    return out
