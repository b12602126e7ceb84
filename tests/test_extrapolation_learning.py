"""The cross-suite extrapolation model recovers a shared slope with a sign from simulated leave-future-out errors,
and a fit's slope distribution follows the prior it is given."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_scaling.sampling.diagnostics import MAX_RHAT, MIN_ESS
from bayes_scaling.uncertainty import extrapolation
from bayes_scaling.uncertainty.extrapolation import packaged_allocation_prior, packaged_prior, prior_from_dict
from bayes_scaling.validation.extrapolation_learning import fit_cross_suite


def _errors(rng, mu=-0.025, tau=0.008, suites=8, refits=3, per=20):
    rows = []
    refit = 0
    for suite in range(suites):
        beta = mu + tau * rng.standard_normal()
        for _ in range(refits):
            slope = beta + 0.003 * rng.standard_normal()
            d = rng.uniform(0.1, 1.5, per)
            budget = np.floor(d * 4)
            rows.append(pd.DataFrame({"suite": f"s{suite}", "law": "chinchilla", "refit": refit, "budget": budget,
                                      "distance": d, "variance": 0.005**2, "converged": True,
                                      "error": slope * d + 0.005 * rng.standard_normal(per)}))
            refit += 1
    return pd.concat(rows, ignore_index=True)


def test_the_shared_slope_and_its_sign_are_recovered():
    errors = _errors(np.random.default_rng(0))
    errors.loc[errors["refit"] == 0, "converged"] = False  # an unconverged fit's errors are left out
    found = fit_cross_suite(errors, seed=1, draws=300, tune=300, chains=2)
    mu = np.asarray(found["draws"]["mu"])
    assert np.quantile(mu, 0.02) < -0.025 < np.quantile(mu, 0.98) and np.quantile(mu, 0.95) < 0
    assert found["suites"] == [f"s{i}" for i in range(8)] and found["errors"] == len(errors) - 20
    assert found["diagnostics"]["max_rhat"] < 1.05
    assert found["diagnostics"]["converged"] == (not found["diagnostics"]["problems"])
    prior = prior_from_dict("chinchilla", found, "test")
    assert prior.draws["tau"].size == 400 and "8 suites" in prior.describe()


def test_a_shift_each_refit_shares_is_not_taken_up_by_the_spread_between_suites():
    """Errors whose refits each carry one shift of the size their own shared variance says (the law's posterior
    uncertainty), on slopes that barely differ between suites: the model with the shared term learns a smaller
    spread between suites than the one that takes every error's variance as independent, and says it was learned
    that way."""
    rng = np.random.default_rng(4)
    errors = _errors(rng, tau=0.002)
    errors["shared"] = 0.02**2
    errors["variance"] = errors["shared"] + 0.005**2
    errors["error"] += 0.02 * rng.standard_normal(errors["refit"].max() + 1)[errors["refit"]]
    shared = fit_cross_suite(errors, seed=1, draws=300, tune=300, chains=2, shared=True)
    independent = fit_cross_suite(errors, seed=1, draws=300, tune=300, chains=2)
    assert shared["shared_errors"] and not independent["shared_errors"]
    assert np.median(shared["draws"]["tau"]) < 0.7 * np.median(independent["draws"]["tau"])
    assert prior_from_dict("chinchilla", shared, "test").shared_errors


def test_the_packaged_prior_names_its_version_and_suites_and_falls_back_to_the_pooled_one():
    prior = packaged_prior("chinchilla")
    assert prior.version and len(prior.suites) >= 10 and prior.law == "chinchilla"
    assert packaged_prior("kaplan_params").law == "any"  # a law without suites of its own: pooled over laws
    assert all(np.all(np.isfinite(values)) for values in prior.draws.values())
    allocation = packaged_allocation_prior("isoflop")  # the drift of log10 N_opt, learned from IsoFLOP budgets
    assert allocation is not None and allocation.version == prior.version and len(allocation.suites) >= 10


def test_a_fit_gets_the_prior_learned_from_suites_fitted_the_same_way():
    after, inside = packaged_prior("chinchilla"), packaged_prior("chinchilla", discrepancy="in_model")
    assert after.version != inside.version and inside.version.endswith("in-model") and len(inside.suites) >= 10
    assert packaged_allocation_prior("isoflop", discrepancy="in_model").version == inside.version
    offsets = packaged_prior("chinchilla", budget_effect="auto")
    assert offsets.version not in (after.version, inside.version)
    # no prior was learned in-model with offsets per budget: the in-model one is used (and the log says so)
    assert packaged_prior("chinchilla", budget_effect="auto", discrepancy="in_model").version == inside.version


def test_a_student_t_spread_between_suites_is_learned_and_stored_with_its_degrees_of_freedom():
    errors = _errors(np.random.default_rng(2), suites=6)
    found = fit_cross_suite(errors, seed=3, draws=300, tune=300, chains=2, between="student_t")
    assert found["between"] == "student_t" and len(found["draws"]["nu"]) == 400
    assert found["diagnostics"]["max_rhat"] < 1.05
    assert found["diagnostics"]["converged"] == (not found["diagnostics"]["problems"])
    prior = prior_from_dict("chinchilla", found, "test")
    assert "nu" in prior.draws and np.all(prior.draws["nu"] > 0) and "Student-t, nu" in prior.describe()
    mu = np.asarray(found["draws"]["mu"])
    assert np.quantile(mu, 0.02) < -0.025 < np.quantile(mu, 0.98)


def test_a_cross_suite_fit_short_of_effective_draws_is_sampled_again_twice_as_long_and_says_so():
    errors = _errors(np.random.default_rng(5))
    found = fit_cross_suite(errors, seed=2, draws=30, tune=100, chains=2)  # 60 draws cannot reach an ESS of 400
    assert found["diagnostics"]["draws_per_chain"] == 60
    assert not found["diagnostics"]["converged"] and any("ESS" in p for p in found["diagnostics"]["problems"])


def test_every_packaged_prior_comes_from_cross_suite_fits_that_passed_their_diagnostics():
    files = sorted(Path(extrapolation.__file__).parent.glob("extrapolation_prior*.json"))
    assert len(files) >= 3
    for path in files:
        for law, found in json.loads(path.read_text())["laws"].items():
            for fit in (found, found["allocation"]):
                diagnostics = fit["diagnostics"]
                assert diagnostics["max_rhat"] <= MAX_RHAT and diagnostics["divergences"] == 0, (path.name, law)
                assert min(diagnostics["min_ess_bulk"], diagnostics["min_ess_tail"]) >= MIN_ESS, (path.name, law)
