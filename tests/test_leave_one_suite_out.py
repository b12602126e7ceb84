"""The pieces of the leave-one-suite-out scores: the bootstrap's log score from its draws, the empirical optimum of
a held-out budget with its uncertainty, and the suites as a user's ``fit --law`` would fit them."""

import numpy as np
import pytest
from scipy.stats import norm

from bayes_scaling.validation.allocation_errors import vertex_and_variance
from bayes_scaling.validation.leave_one_suite_out import at_least, ideal_coverage, markdown_table, sample_log_score
from bayes_scaling.validation.suites import SUITES, get_suite


def test_log_score_from_draws_approaches_the_density_it_was_drawn_from():
    rng = np.random.default_rng(0)
    samples = rng.normal(0.0, 0.01, size=(4000, 3))
    observed = np.array([0.0, 0.01, -0.02])
    exact = np.mean(norm.logpdf(observed, 0.0, 0.01))
    assert sample_log_score(samples, observed) == pytest.approx(exact, abs=0.05)


def test_the_vertex_of_a_noisy_parabola_and_its_spread_match_repeated_draws():
    rng = np.random.default_rng(1)
    log_n = np.log(np.geomspace(1e8, 1e10, 9))
    centre = np.log(1e9)
    found = [vertex_and_variance(log_n, 0.02 * (log_n - centre) ** 2 + 0.003 * rng.standard_normal(9))
             for _ in range(400)]
    vertices, variances = np.array(found).T
    assert np.median(vertices) == pytest.approx(centre, abs=0.05)
    assert np.median(variances) == pytest.approx(np.var(vertices), rel=0.35)
    assert np.isnan(vertex_and_variance(log_n, -(log_n - centre) ** 2)[0])  # no minimum
    assert np.isnan(vertex_and_variance(log_n[:4], log_n[:4] ** 2)[0])  # too few runs


def test_suites_are_fitted_with_the_laws_defaults_and_their_own_filters():
    assert len(SUITES) == 12 and len({suite.name for suite in SUITES}) == 12
    spec = get_suite("porian-rw-tuned").spec("isoflop", filters={"below_top_compute": 1.0}, seed=3)
    assert spec.likelihood == "normal" and spec.sampler.seed == 3
    assert spec.data.filters == {"isoflop_loss_window": 0.1, "below_top_compute": 1.0}
    assert get_suite("li2025").spec("chinchilla").likelihood == "student_t"
    with pytest.raises(ValueError, match="unknown suite"):
        get_suite("nope")


def test_the_table_has_a_row_per_method_and_marks_unconverged_fits():
    row = {"suite": "s", "law": "chinchilla", "n_runs": 10, "n_budgets": 2, "method": "whole model",
           "converged": False, "coverage": {"0.5": 0.5, "0.8": 0.8, "0.9": 0.9, "0.95": 1.0},
           "width": {"0.9": 0.05}, "crps": 0.01, "log_score": 2.5}
    text = markdown_table([row])
    assert "| s | chinchilla | 10 (2) | whole model (not converged) | 50% | 80% | 90% | 100% | 0.050 |" in text
    text = markdown_table([{**row, "converged": True, "prior_converged": False}])
    assert "| whole model (cross-suite prior not converged) |" in text


def test_ideal_coverage_of_independent_runs_is_binomial_and_of_a_shared_shift_is_all_or_nothing():
    rng = np.random.default_rng(3)
    independent = rng.standard_normal((20_000, 40))
    share = ideal_coverage(independent, level=0.9, truths=4000, seed=1)
    assert share.mean() == pytest.approx(0.9, abs=0.01)
    assert share.std() == pytest.approx(np.sqrt(0.9 * 0.1 / 40), rel=0.15)
    shared = np.repeat(rng.standard_normal((20_000, 1)), 40, axis=1)  # every run moves with one draw
    share = ideal_coverage(shared, level=0.9, truths=4000, seed=1)
    assert set(np.unique(share)) <= {0.0, 1.0}
    assert share.mean() == pytest.approx(0.9, abs=0.015)


def test_at_least_is_the_poisson_binomial_tail():
    assert at_least(np.full(12, 0.5), 8) == pytest.approx(794 / 4096)
    assert at_least(np.array([1.0, 0.0, 0.3]), 1) == pytest.approx(1.0)
    assert at_least(np.array([1.0, 0.0, 0.3]), 2) == pytest.approx(0.3)


def test_the_drift_scale_is_the_grid_point_of_least_mean_crps_over_pairs_weighed_equally():
    from bayes_scaling.validation.drift_scale import SCALES, best_scale

    assert SCALES[0] == 0.0 and SCALES[-1] == 1.5 and np.allclose(np.diff(SCALES), 0.05)
    first = (SCALES - 0.4) ** 2          # pair 1 wants 0.4
    second = 3.0 * (SCALES - 1.0) ** 2   # pair 2 wants 1.0, and weighs more by its curvature only
    assert best_scale([first, second]) == pytest.approx(0.85)
    assert best_scale([first]) == pytest.approx(0.4)
