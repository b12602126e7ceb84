"""Extrapolation beyond the data: a fit's own leave-future-out errors give a slope that updates the cross-suite
prior, and predictions carry the slope (with its sign) only beyond the data's largest compute, one per draw."""

import dataclasses
import json

import numpy as np
import pytest

from bayes_scaling.laws import get_law
from bayes_scaling.uncertainty.discrepancy import Discrepancy, discrepancy_draws
from bayes_scaling.uncertainty.distance import beyond, log10_scale
from bayes_scaling.uncertainty.extrapolation import DriftModel, ExtrapolationPrior, OwnErrors, drift_model, own_slope

LAW = get_law("chinchilla")
TRUE = {"E": 1.7, "A": 400.0, "B": 1800.0, "alpha": 0.34, "beta": 0.36}


def _own(rng, slope, n_refits=3, per_refit=40, noise=0.004):
    distances = rng.uniform(0.05, 1.2, n_refits * per_refit)
    refits = np.repeat(np.arange(n_refits, dtype=float), per_refit)
    errors = slope * distances + noise * rng.standard_normal(distances.size)
    return OwnErrors(errors, np.full(distances.size, noise**2), distances, refits, np.floor(distances * 5))


def _prior(mu=-0.02, tau=0.01, psi=0.005, rho=0.003, n=50):
    return ExtrapolationPrior("chinchilla", "test", ("a", "b"),
                              {"mu": np.full(n, mu), "tau": np.full(n, tau), "psi": np.full(n, psi),
                               "rho": np.full(n, rho)})


def test_own_slope_is_recovered_and_its_information_is_shared_by_nested_refits():
    rng = np.random.default_rng(0)
    own = _own(rng, -0.03)
    slope, information = own_slope(own, psi=1e-4, rho=1e-4)
    assert slope == pytest.approx(-0.03, abs=0.003)
    one = OwnErrors(*(getattr(own, k)[own.refits == 0] for k in ("errors", "variances", "distances", "refits",
                                                                  "budgets")))
    assert information == pytest.approx(own_slope(one, 1e-4, 1e-4)[1], rel=0.3)  # 3 refits count as about one
    assert own_slope(OwnErrors.empty(), 0.01, 0.01) == (0.0, 0.0)


def test_own_slope_with_a_shared_shift_is_the_gls_slope_under_the_dense_covariance():
    """With the refit's systematic uncertainty shared (session 19), the Woodbury slope and information equal those of
    the dense covariance diag(v - s) + psi^2 d d^T + rho^2 (budget ramps) + sqrt(s) sqrt(s)^T; a shared shift that
    grows with distance (as the law's uncertainty does beyond its data) leaves less information about the slope than
    the same variance independent run by run."""
    rng = np.random.default_rng(3)
    d = rng.uniform(0.05, 1.2, 30)
    budgets = np.floor(d * 3)
    shared = np.full(d.size, 0.02**2)
    variances = shared + 0.003**2
    errors = -0.02 * d + 0.02 * rng.standard_normal() + 0.003 * rng.standard_normal(d.size)
    own = OwnErrors(errors, variances, d, np.zeros(d.size), budgets, shared=shared)
    psi, rho = 0.01, 0.004
    ramp = np.minimum(1.0, d)
    dense = np.diag(variances - shared) + psi**2 * np.outer(d, d) + np.outer(np.sqrt(shared), np.sqrt(shared))
    for label in np.unique(budgets):
        m = ramp * (budgets == label)
        dense += rho**2 * np.outer(m, m)
    solved = np.linalg.solve(dense, d)
    slope, information = own_slope(own, psi, rho, shared=True)
    assert slope == pytest.approx(float(errors @ solved / (d @ solved)), rel=1e-8)
    assert information == pytest.approx(float(d @ solved), rel=1e-8)
    growing = OwnErrors(errors, (0.02 * d) ** 2 + 0.003**2, d, np.zeros(d.size), budgets, shared=(0.02 * d) ** 2)
    assert own_slope(growing, psi, rho, shared=True)[1] < own_slope(growing, psi, rho)[1]  # a shift like a slope
    with pytest.raises(ValueError, match="no shared part"):
        own_slope(OwnErrors(errors, variances, d, np.zeros(d.size), budgets), psi, rho, shared=True)
    derived = OwnErrors(errors, variances, d, np.zeros(d.size), budgets).with_shared(0.003**2)
    np.testing.assert_allclose(derived.shared, shared)


def test_the_prior_sets_the_slope_without_own_errors_and_own_errors_pull_it():
    alone = drift_model(_prior(), OwnErrors.empty())
    np.testing.assert_allclose(alone.slope_mean, -0.02)
    np.testing.assert_allclose(alone.slope_sd, np.hypot(0.01, 0.005))
    pulled = drift_model(_prior(), _own(np.random.default_rng(1), +0.02))
    assert 0.0 < np.median(pulled.slope_mean) <= 0.02  # strong own evidence of the other sign wins
    assert np.all(pulled.slope_sd < alone.slope_sd) and np.all(pulled.slope_sd >= 0.005)  # psi stays
    back = DriftModel.from_dict(json.loads(json.dumps(pulled.to_dict())))
    np.testing.assert_allclose(back.slope_mean, pulled.slope_mean)


def test_distance_is_in_decades_of_compute_or_of_n_times_d():
    assert log10_scale({"compute": np.array([1e20])}) == pytest.approx([20.0])
    np.testing.assert_allclose(log10_scale({"n_params": np.array([1e9]), "n_tokens": np.array([2e10])}),
                               [np.log10(2e19)])
    np.testing.assert_allclose(beyond({"compute": np.array([1e18, 1e20, 1e21])}, 20.0), [0.0, 0.0, 1.0])
    np.testing.assert_allclose(log10_scale({"n_params": np.array([1e9])}), [9.0])  # a law of N alone (Kaplan's L(N))
    np.testing.assert_allclose(log10_scale({"n_tokens": np.array([1e12])}), [12.0])


def test_predictions_carry_the_extrapolation_only_beyond_the_data_with_one_slope_per_draw():
    rng = np.random.default_rng(2)
    n = np.geomspace(1e8, 1e10, 30)
    runs = {"n_params": n, "n_tokens": 2e11 / n, "loss": 2.0 * np.exp(0.01 * rng.standard_normal(30))}
    params = {k: np.full(4000, v) for k, v in TRUE.items()}
    still = Discrepancy(("n_params", "n_tokens"), eta=0.01, length_scale=0.5, nugget=0.002, n_runs=30)
    model = drift_model(_prior(mu=-0.02, tau=0.04, psi=1e-6, rho=1e-6), OwnErrors.empty())
    drifting = dataclasses.replace(still, drift_from=float(np.max(log10_scale(runs))), drift_errors=0,
                                   drift_model=model.to_dict())
    inside = {"n_params": n[10:12], "n_tokens": 2e11 / n[10:12]}
    reach = 10 ** float(np.max(log10_scale(runs)))
    far = {"n_params": np.array([1e11, 3e11]), "n_tokens": np.array([10, 100]) * reach / np.array([1e11, 3e11])}
    for joint in (False, True):
        base = discrepancy_draws(still, LAW, params, runs, inside, np.random.default_rng(3), joint=joint)
        moved = discrepancy_draws(drifting, LAW, params, runs, inside, np.random.default_rng(3), joint=joint)
        np.testing.assert_allclose(moved.std(0), base.std(0), rtol=0.05)  # nothing added inside the data
        spread = discrepancy_draws(drifting, LAW, params, runs, far, np.random.default_rng(3), joint=joint)
        level = discrepancy_draws(still, LAW, params, runs, far, np.random.default_rng(4), joint=joint).mean(0)
        np.testing.assert_allclose(spread.mean(0) - level, -0.02 * np.array([1.0, 2.0]), atol=0.004)  # its sign
        np.testing.assert_allclose(spread.std(0), np.sqrt(0.01**2 + (0.04 * np.array([1.0, 2.0])) ** 2), rtol=0.06)
        assert np.corrcoef(spread[:, 0], spread[:, 1])[0, 1] > 0.9  # one slope moves both
    assert drifting.without_drift().drift_model is None


def _prepared(frame, law=LAW):
    from bayes_scaling.data.runs import RunTable, validate_table
    from bayes_scaling.likelihoods import get_likelihood
    from bayes_scaling.sampling.model import all_priors
    from bayes_scaling.sampling.run import PreparedFit
    from bayes_scaling.spec import AnalysisSpec, DataSpec, SamplerSpec

    likelihood = get_likelihood("student_t")
    columns = {k: k for k in ("n_params", "n_tokens", "compute", "loss")}
    runs = RunTable(frame=validate_table(frame, "simulated", columns), source={"file": "simulated"})
    spec = AnalysisSpec(name="sim", law=law.name, data=DataSpec(csv="simulated"),
                        sampler=SamplerSpec(draws=300, tune=300, seed=5))
    return PreparedFit(spec, law, likelihood, all_priors(law, likelihood), runs)


def test_refits_find_no_slope_in_the_law_and_a_negative_one_where_the_data_bend_below_it(simulated_frame):
    """Leave-future-out refits of runs simulated from the law find errors with no slope; with the loss bending
    below the law beyond 1e20 FLOP (3% per decade, which the law's parameters can partly follow), a negative one."""
    from bayes_scaling.uncertainty import fit_with_uncertainty

    prior = _prior(mu=0.0, tau=0.05)

    def own(frame):
        found = json.loads(fit_with_uncertainty(_prepared(frame), prior=prior).attrs["discrepancy"])
        return found, own_slope(OwnErrors.from_dict(found["drift_own"]), 1e-3, 1e-3)[0]

    exact, flat = own(simulated_frame)
    assert exact["drift_errors"] >= 12 and abs(flat) < 0.005
    assert exact["drift_model"]["version"] == "test"
    bent = simulated_frame.copy()
    bent["loss"] *= np.exp(-0.03 * np.maximum(np.log10(bent["compute"] / 1e20), 0.0))
    found, slope = own(bent)
    assert found["drift_errors"] == exact["drift_errors"] and -0.1 < slope < -0.005


def test_a_law_of_one_size_drifts_along_that_size(simulated_frame):
    """Kaplan's L(N) has neither compute nor D among its inputs: its drift is measured and applied along N."""
    from bayes_scaling.result import FitResult
    from bayes_scaling.uncertainty import fit_with_uncertainty

    fit = FitResult(fit_with_uncertainty(_prepared(simulated_frame, get_law("kaplan_params")), prior=_prior()))
    found = json.loads(fit.tree.attrs["discrepancy"])
    largest = np.log10(simulated_frame["n_params"].max())
    assert found["drift_errors"] > 0 and found["drift_from"] == pytest.approx(largest)
    draws = fit.discrepancy_draws(np.random.default_rng(0), n_params=np.array([1e12]))
    assert draws.shape[1] == 1 and np.all(np.isfinite(draws))


def _scripted_diagnose(monkeypatch, *edits):
    """Make the sampler's diagnostics fail as scripted: the k-th call's real verdict passed through ``edits[k]``
    (later calls unchanged); returns the list of each call's draws per chain."""
    import bayes_scaling.sampling.run as run

    real, calls = run.diagnose, []

    def scripted(*args, **kwargs):
        found = real(*args, **kwargs)
        calls.append(found.draws)
        return edits[len(calls) - 1](found) if len(calls) <= len(edits) else found

    monkeypatch.setattr(run, "diagnose", scripted)
    return calls


def _rhat_failed(found):
    return dataclasses.replace(found, problems=("R-hat of E is 1.05 (> 1.01)",))


def test_a_fit_that_fails_its_diagnostics_is_sampled_once_more_for_longer_and_says_so(simulated_frame, monkeypatch):
    import bayes_scaling.sampling.run as run

    calls = _scripted_diagnose(monkeypatch, _rhat_failed)
    sampled = run.sample_prepared(_prepared(simulated_frame))
    assert len(calls) == 2 and calls[1] == run.LONGER_DRAWS * calls[0]  # draws per chain, four times as many
    seed = _prepared(simulated_frame).spec.sampler.seed  # a chain stuck from its start must not start there again
    assert f"sampled again with 1200 draws after 600 tuning steps, seed {seed + run.RETRY_SEED_OFFSET}" in \
        sampled.tree.attrs["sampler_retry"]
    assert sampled.tree.posterior.sizes["draw"] == 1200


def test_a_fit_names_the_parameters_its_runs_barely_narrowed(simulated_frame):
    """Sixty runs identify Chinchilla's exponents well (posterior sd a small fraction of the prior's); a prior as
    narrow as the posterior would be is called weakly identified."""
    from bayes_scaling.result import FitResult
    from bayes_scaling.sampling.identification import spread_ratios, weakly_identified
    from bayes_scaling.sampling.run import sample_prepared

    fit = FitResult(sample_prepared(_prepared(simulated_frame)).tree)
    assert set(fit.identification) == set(LAW.parameters)
    assert fit.identification["alpha"] < 0.5 and "alpha" not in fit.weakly_identified
    rng = np.random.default_rng(0)
    wide, same = np.exp(rng.normal(0, 1.0, 2000)), np.exp(rng.normal(0, 0.8, 2000))
    assert weakly_identified(spread_ratios({"x": same}, {"x": wide})) == ["x"]  # a ratio of 0.8
    assert weakly_identified(spread_ratios({"x": same / same * 2 + rng.normal(0, 0.01, 2000)}, {"x": wide})) == []


def test_the_own_slope_never_builds_an_n_by_n_matrix_and_agrees_with_the_dense_solution():
    """Woodbury over the slope's and the budgets' rank-one terms: the same GLS slope and information as the dense
    covariance, and 60,000 held-out runs in a moment (the dense matrix would need 29 GB)."""
    rng = np.random.default_rng(0)
    n = 300
    d, budgets, refits = rng.uniform(0, 1.5, n), rng.integers(0, 6, n).astype(float), rng.integers(0, 3, n) * 1.0
    errors, variances = -0.02 * d + 0.01 * rng.standard_normal(n), rng.uniform(1e-5, 4e-4, n)
    own = OwnErrors(errors, variances, d, refits, budgets)
    psi, rho = 0.015, 0.01
    slope_sum = information = 0.0
    for refit in np.unique(refits):
        pick = refits == refit
        ramp = np.minimum(1.0, d[pick])
        same = budgets[pick][:, None] == budgets[pick][None, :]
        cov = np.diag(variances[pick]) + psi**2 * np.outer(d[pick], d[pick]) + rho**2 * np.outer(ramp, ramp) * same
        solved = np.linalg.solve(cov, d[pick])
        information += d[pick] @ solved
        slope_sum += errors[pick] @ solved
    slope, info = own_slope(own, psi, rho)
    assert slope == pytest.approx(slope_sum / information, rel=1e-9)
    assert info == pytest.approx(information / 3, rel=1e-9)
    big = 60_000
    wide = OwnErrors(np.zeros(big), np.full(big, 1e-4), np.linspace(0.1, 1.5, big), np.zeros(big),
                     np.repeat(np.arange(30.0), big // 30))
    assert np.isfinite(own_slope(wide, psi, rho)[1])


def test_a_refit_keeps_at_most_so_many_own_errors_spread_over_its_budgets():
    from bayes_scaling.uncertainty.drift import evenly_kept

    budgets = np.repeat(np.arange(5), [10, 2000, 3000, 4000, 1000])
    kept = evenly_kept(budgets, 1000)
    assert kept.size == 1000 and set(budgets[kept]) == set(range(5))
    assert np.bincount(budgets[kept])[3] == pytest.approx(400, abs=2)
    np.testing.assert_array_equal(evenly_kept(budgets[:50], 1000), np.arange(50))


def test_a_resample_that_mixes_slowly_is_extended_once_and_says_so(simulated_frame, monkeypatch):
    """No divergence, R-hat fine, ESS below the threshold after the longer re-sample: one more run with twice the
    tuning and enough draws for the margin (379 of 400 -> twice the draws)."""
    import bayes_scaling.sampling.run as run

    calls = _scripted_diagnose(monkeypatch, _rhat_failed, lambda found: dataclasses.replace(
        found, ess_bulk={**found.ess_bulk, "beta": 379.0}, problems=("bulk ESS of beta is 379 (< 400)",)))
    sampled = run.sample_prepared(_prepared(simulated_frame))
    assert len(calls) == 3 and sampled.tree.posterior.sizes["draw"] == 2 * 1200
    assert "mixed slowly" in sampled.tree.attrs["sampler_retry"]
    assert "sampled again with 2400 draws after 1200 tuning steps" in sampled.tree.attrs["sampler_retry"]


def test_a_resample_that_still_diverges_is_sampled_once_more_with_smaller_steps(simulated_frame, monkeypatch):
    import bayes_scaling.sampling.run as run

    calls = _scripted_diagnose(monkeypatch, _rhat_failed, lambda found: dataclasses.replace(
        found, divergences=1, problems=("1 divergent transitions",)))
    prepared = _prepared(simulated_frame)
    sampled = run.sample_prepared(prepared)
    settings = prepared.spec.sampler
    assert len(calls) == 3 and calls[2] == calls[1]  # the same draws as the longer re-sample
    halfway = 1 - (1 - settings.target_accept) / 2
    assert (f"sampled again with smaller steps, target_accept {halfway:.4g}, seed {settings.seed + 2}"
            in sampled.tree.attrs["sampler_retry"])


def test_only_slow_mixing_is_extended_and_by_a_bounded_factor():
    from bayes_scaling.sampling import run
    from bayes_scaling.sampling.diagnostics import Diagnostics
    from bayes_scaling.spec import SamplerSpec

    base = Diagnostics(rhat={"a": 1.0}, ess_bulk={"a": 100.0}, ess_tail={"a": 900.0}, divergences=0, draws=4000,
                       problems=("bulk ESS of a is 100 (< 400)",))
    settings = SamplerSpec(draws=4000)
    assert run._extension(base, settings).draws == 4000 * run.MOST_EXTENSION  # 1.3 x 400 / 100 = 5.2, capped at 4
    extended = run._extension(dataclasses.replace(base, ess_bulk={"a": 379.0}), settings)
    assert (extended.draws, extended.tune) == (8000, 2 * settings.tune)
    slow = dataclasses.replace(base, rhat={"a": 1.02}, ess_bulk={"a": 900.0})  # R-hat fails, ESS fine: doubled
    assert run._extension(slow, settings).draws == 8000
    assert run._extension(dataclasses.replace(base, divergences=1), settings) is None
    assert run._extension(dataclasses.replace(base, rhat={"a": 1.08}), settings) is None  # chains disagree
    assert run._extension(dataclasses.replace(base, ess_bulk={"a": 900.0}, problems=()), settings) is None


def test_refits_started_from_the_fit_agree_with_refits_from_scratch_and_repeat_exactly(simulated_frame,
                                                                                      monkeypatch):
    """The drift's refits start their chains inside the main fit's posterior (its unconstrained mean, a jitter of one
    sd) and tune briefly: nutpie takes those starting points, the errors and variances match refits started from
    scratch within Monte Carlo noise, and the same seed and start give the same numbers."""
    from bayes_scaling.sampling.run import sample_prepared
    from bayes_scaling.sampling.sampler import WarmStart
    from bayes_scaling.uncertainty import drift

    prepared = _prepared(simulated_frame)
    sampled = sample_prepared(prepared)
    start = sampled.warm_start
    assert start is not None and start.mean.shape == start.sd.shape == (sampled.compiled.n_dim,)
    assert np.all(np.isfinite(start.mean)) and np.all(start.sd > 0)
    cold = drift.refit_errors(prepared, sampled.built, sampled.compiled, 0.0)
    starts = []
    real = WarmStart.initial_point

    def recording(self, seed=None):
        starts.append(real(self, seed))
        return starts[-1]

    monkeypatch.setattr(WarmStart, "initial_point", recording)
    warm = drift.refit_errors(prepared, sampled.built, sampled.compiled, 0.0, start)
    assert len(starts) >= min(prepared.spec.sampler.chains, drift.WARM_CHAINS)  # one per chain and refit at least
    assert all(np.all(np.abs(point - start.mean) <= start.sd + 1e-12) for point in starts)
    again = drift.refit_errors(prepared, sampled.built, sampled.compiled, 0.0, start)
    np.testing.assert_array_equal(warm.errors, again.errors)
    np.testing.assert_array_equal(warm.distances, cold.distances)
    # Monte Carlo noise here (E weakly identified): two cold refits with other seeds moved the errors by up to 0.10
    # of their sd and the variances by up to 26%
    assert np.max(np.abs(warm.errors - cold.errors) / np.sqrt(cold.variances)) < 0.25
    np.testing.assert_allclose(warm.variances, cold.variances, rtol=0.5)
    settings = drift.refit_settings(prepared.spec.sampler, warm=True)
    assert (settings.tune, settings.draws) == (min(300, drift.WARM_TUNE), min(300, drift.WARM_DRAWS))
    assert settings.chains == min(prepared.spec.sampler.chains, drift.WARM_CHAINS)


def test_a_student_t_spread_between_suites_gives_heavier_tails_and_still_yields_to_strong_own_errors():
    normal = _prior(tau=0.02, n=400)
    heavy = dataclasses.replace(normal, draws={**normal.draws, "nu": np.full(400, 2.5)})
    slopes = {name: drift_model(prior, OwnErrors.empty()).draws(np.random.default_rng(0), 20000, np.ones(1))[:, 0]
              for name, prior in (("normal", normal), ("heavy", heavy))}
    centre = {name: np.quantile(np.abs(s + 0.02), 0.5) for name, s in slopes.items()}
    tail = {name: np.quantile(np.abs(s + 0.02), 0.99) for name, s in slopes.items()}
    # at the same scale a t's centre is about as wide (its median |t| 0.74 against 0.67) and its tails much wider
    assert centre["heavy"] < 1.2 * centre["normal"] and tail["heavy"] > 1.3 * tail["normal"]
    first = drift_model(heavy, _own(np.random.default_rng(1), +0.03))
    again = drift_model(heavy, _own(np.random.default_rng(1), +0.03))
    np.testing.assert_array_equal(first.slope_sd, again.slope_sd)  # the mixing scales are seeded
    assert 0.02 < np.median(first.slope_mean) <= 0.03  # an outlying own slope is believed more under heavy tails
    pulled_normal = drift_model(normal, _own(np.random.default_rng(1), +0.03))
    assert np.median(first.slope_mean) >= np.median(pulled_normal.slope_mean)


def test_a_scaled_drift_keeps_its_mean_and_multiplies_its_spread():
    """kappa (session 20) scales each draw's distance from the mean slope: kappa 1 changes nothing, 0 leaves the mean
    shift alone, and the variances the design calculation reads scale by kappa squared."""
    model = drift_model(_prior(mu=-0.02, tau=0.04, psi=0.01, rho=0.005), _own(np.random.default_rng(1), +0.01))
    same = model.scaled(1.0)
    np.testing.assert_allclose(same.slope_mean, model.slope_mean)
    np.testing.assert_allclose(same.slope_sd, model.slope_sd)
    half = model.scaled(0.5)
    assert half.slope_variance == pytest.approx(0.25 * model.slope_variance)
    assert half.offset_variance == pytest.approx(0.25 * model.offset_variance)
    distances = np.array([0.5, 1.0, 2.0])
    draws = {k: model.scaled(k).draws(np.random.default_rng(5), 40000, distances) for k in (0.0, 0.5, 1.0)}
    centre = np.mean(model.slope_mean) * distances
    np.testing.assert_allclose(draws[0.0], np.broadcast_to(centre, draws[0.0].shape), atol=1e-12)
    np.testing.assert_allclose(draws[0.5].mean(0), centre, atol=2e-3)
    np.testing.assert_allclose(draws[0.5].std(0), 0.5 * draws[1.0].std(0), rtol=1e-9)  # same stream, same picks
    with pytest.raises(ValueError, match="at least 0"):
        model.scaled(-0.1)
    assert "spread scaled by 0.50" in half.describe()
    back = DriftModel.from_dict(json.loads(json.dumps(half.to_dict())))
    assert back.spread_scale == 0.5


def test_the_prior_s_drift_scale_reaches_the_fit_s_drift_and_is_read_from_the_stored_prior():
    from bayes_scaling.uncertainty.extrapolation import prior_from_dict

    prior = _prior(mu=-0.02, tau=0.04)
    own = _own(np.random.default_rng(1), +0.01)
    scaled = drift_model(dataclasses.replace(prior, drift_scale=0.3), own)
    np.testing.assert_allclose(scaled.slope_sd, drift_model(prior, own).scaled(0.3).slope_sd)
    raw = {"suites": ["a"], "draws": {k: v.tolist() for k, v in prior.draws.items()}}
    assert prior_from_dict("chinchilla", raw, "v").drift_scale == 1.0  # files before session 20
    assert prior_from_dict("chinchilla", {**raw, "drift_scale": 0.3}, "v").drift_scale == 0.3
