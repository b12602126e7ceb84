"""The random offset per budget: when the data have budgets, the model's density, the offsets at the runs, forward
draws, and a fit that recovers the spread of simulated offsets."""

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.laws import get_law
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.sampling import budget_term
from bayes_scaling.sampling.budget_term import BudgetTerm, at_runs, budget_term_for, prior_draws
from bayes_scaling.validation.simulate import isoflop_design

from .conftest import TRUE_PARAMS


def test_budgets_are_found_on_an_isoflop_design_and_not_on_a_grid(simulated_frame):
    term = budget_term_for(simulated_frame)
    assert term.count == 6 and np.all(term.labels >= 0)
    np.testing.assert_allclose(term.compute, [6e18, 3e19, 1e20, 3e20, 1e21, 3e21], rtol=1e-6)
    assert budget_term_for(simulated_frame, "none") is None
    n, d = np.meshgrid(np.logspace(7, 9, 7), np.logspace(9, 11, 7))
    grid = pd.DataFrame({"n_params": n.ravel(), "n_tokens": d.ravel(), "compute": 6 * n.ravel() * d.ravel()})
    assert budget_term_for(grid) is None  # compute everywhere: no budget holds 5 runs
    with pytest.raises(ValueError, match="none, auto"):
        budget_term_for(simulated_frame, "sometimes")


def test_a_budget_column_gives_the_budgets_even_when_they_are_few():
    frame = pd.DataFrame({"compute": [1e18] * 3 + [1e19] * 3 + [2e19], "budget": [1e18] * 3 + [1e19] * 3 + [2e19]})
    term = budget_term_for(frame)
    assert term.count == 3 and list(term.labels) == [0, 0, 0, 1, 1, 1, 2]


def test_runs_in_no_budget_get_no_offset_and_draws_sum_to_zero():
    term = BudgetTerm(np.array([0, 1, -1, 1]), np.array([1e18, 1e19]))
    offsets = np.array([[0.01, -0.01], [0.02, -0.02]])
    np.testing.assert_array_equal(at_runs(offsets, term.labels), [[0.01, -0.01, 0.0, -0.01], [0.02, -0.02, 0.0, -0.02]])
    np.testing.assert_array_equal(term.label_data(), [0.0, 1.0, 2.0, 1.0])
    draws = prior_draws(BudgetTerm(np.arange(5), np.logspace(18, 22, 5)), np.random.default_rng(0), 20000)
    np.testing.assert_allclose(draws[budget_term.OFFSET].sum(axis=1), 0.0, atol=1e-15)
    # tau ~ HalfNormal(s): E[tau^2] = s^2; a zero-sum offset of 5 budgets has variance tau^2 (1 - 1/5)
    assert np.mean(draws[budget_term.OFFSET][:, 0] ** 2) == pytest.approx(0.8 * budget_term.SD_SCALE**2, rel=0.05)


def test_the_models_density_is_the_likelihood_around_the_law_plus_each_runs_budget_offset(simulated_runs):
    from bayes_scaling.sampling.model import OBSERVED, all_priors, build_model, natural_parameters

    law, likelihood = get_law("chinchilla"), get_likelihood("student_t")
    term = budget_term_for(simulated_runs.frame)
    built = build_model(law, simulated_runs, likelihood, all_priors(law, likelihood), "naive", budgets=term)
    model = built.model
    point = model.initial_point()
    rng = np.random.default_rng(0)
    point = {name: value + 0.3 * rng.standard_normal(np.shape(value)) for name, value in point.items()}
    outputs = model.unobserved_value_vars  # each free variable on its own scale, from the transformed point
    values = dict(zip([v.name for v in outputs], model.compile_fn(outputs)(point), strict=True))
    values.update(natural_parameters(built, values))
    assert abs(np.sum(values[budget_term.STANDARD])) < 1e-12 and np.ptp(values[budget_term.STANDARD]) > 0
    logp = model.compile_fn(model.logp(vars=[model[OBSERVED]], sum=True))(point)
    offsets = values[budget_term.SD] * values[budget_term.STANDARD]
    mu = law.log_loss({name: values[name] for name in law.parameters},
                      {k: simulated_runs.column(k) for k in law.inputs})[0] + offsets[term.labels]
    expected = likelihood.logpdf(np.log(simulated_runs.column("loss")), mu, sigma=values["sigma"], nu=values["nu"])
    assert float(logp) == pytest.approx(float(np.sum(expected)), rel=1e-10)


@pytest.mark.slow
def test_a_fit_with_budget_offsets_recovers_their_spread_the_runs_noise_and_a():
    """Runs of eight budgets, each budget shifted by its own offset (spread about 0.01): the fit's tau interval holds
    the offsets' spread, its noise interval the runs' own noise (without the offsets the noise absorbs them), and
    its interval of a the true a (a comes from the curvature within budgets, which the offsets leave alone)."""
    from bayes_scaling import api

    law = get_law("chinchilla")
    design = isoflop_design(np.logspace(18, 22, 8), sizes_per_budget=8)
    rng = np.random.default_rng(11)
    offsets = np.array([0.01, -0.008, 0.012, -0.015, 0.003, -0.006, 0.009, -0.005])
    inputs = {k: design[k].to_numpy() for k in law.inputs}
    mu = np.log(law.loss(**inputs, **TRUE_PARAMS)) + np.repeat(offsets, 8)
    frame = design.assign(loss=np.exp(mu + 0.004 * rng.standard_normal(mu.size)))
    sampler = {"seed": 3}
    with_offsets = api.fit(frame, law="chinchilla", likelihood="normal", sampler=sampler, budget_effect="auto",
                           name="with", discrepancy="after")
    without = api.fit(frame, law="chinchilla", likelihood="normal", sampler=sampler, name="without",
                      discrepancy="after")
    assert with_offsets.converged and without.converged
    summary = with_offsets.summary(level=0.9)
    spread = float(np.std(offsets))
    assert summary.loc["budget_sd", "lower"] < spread < summary.loc["budget_sd", "upper"]
    assert "budget_sd" not in without.summary().index
    # the offsets are not noise: with them the noise is the runs' own 0.004; without, it absorbs the offsets
    assert summary.loc["sigma", "lower"] < 0.004 < summary.loc["sigma", "upper"]
    assert without.summary(level=0.9).loc["sigma", "lower"] > 0.006
    truth = TRUE_PARAMS["beta"] / (TRUE_PARAMS["alpha"] + TRUE_PARAMS["beta"])
    low, high = np.quantile(with_offsets.exponents()["a"].to_numpy().ravel(), [0.05, 0.95])
    assert low < truth < high


def test_the_budget_effect_is_an_option_that_samples_with_smaller_steps_and_is_ranked_by_sbc(simulated_frame):
    from bayes_scaling.sampling.run import BUDGET_TARGET_ACCEPT, prepare
    from bayes_scaling.spec import SpecError, spec_from_dict
    from bayes_scaling.validation.sbc import ranked_names

    raw = {"analysis": {"name": "x", "law": "chinchilla"}, "data": {}, "discrepancy": {"gp": "after"}}
    default = prepare(spec_from_dict(raw, in_memory=True), simulated_frame)
    assert default.spec.budget_effect == "none" and default.spec.sampler.target_accept == 0.95  # GP after sampling
    assert budget_term.SD not in ranked_names(default)
    raw["discrepancy"] = {"gp": "after", "budgets": "auto"}
    asked = prepare(spec_from_dict(raw, in_memory=True), simulated_frame)
    assert asked.spec.sampler.target_accept == BUDGET_TARGET_ACCEPT
    assert ranked_names(asked)[-1] == budget_term.SD
    raw["discrepancy"] = {"budgets": "sometimes"}
    with pytest.raises(SpecError, match="budgets must be one of 'none', 'auto'"):
        spec_from_dict(raw, in_memory=True)


def test_a_sensitivity_check_can_add_the_offsets():
    from bayes_scaling.spec import SpecError, spec_from_dict

    raw = {"analysis": {"name": "x", "law": "chinchilla"}, "data": {},
           "sensitivity": [{"label": "offset per budget", "budgets": "auto"}]}
    spec = spec_from_dict(raw, in_memory=True)
    assert spec.budget_effect == "none" and spec.sensitivity[0].apply(spec).budget_effect == "auto"
    raw["sensitivity"][0]["budgets"] = "always"
    with pytest.raises(SpecError, match=r"\[\[sensitivity\]\] #1: budgets must be one of"):
        spec_from_dict(raw, in_memory=True)
