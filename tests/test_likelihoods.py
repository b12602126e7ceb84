"""The numpy density used for log-likelihood and LOO must equal PyMC's, and the numpy sampler must match it."""

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from bayes_scaling.likelihoods import LIKELIHOODS, get_likelihood

PARAMS = {"student_t": {"sigma": 0.03, "nu": 3.5}, "normal": {"sigma": 0.03}}


@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
def test_numpy_logpdf_equals_pymc_logp(name):
    likelihood = get_likelihood(name)
    y, mu = np.array([0.70, 0.81, 1.2]), np.array([0.72, 0.80, 1.0])
    with pm.Model():
        params = {k: v for k, v in PARAMS[name].items()}
        rv = likelihood.observe("y", mu, y, params, dims=None)
        expected = pm.logp(rv, y).eval()
    np.testing.assert_allclose(likelihood.logpdf(y, mu, **PARAMS[name]), expected, rtol=1e-8)


@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
def test_numpy_sampler_follows_the_density(name):
    likelihood = get_likelihood(name)
    draws = likelihood.sample(np.random.default_rng(0), np.zeros(20000), **PARAMS[name])
    scale = PARAMS[name]["sigma"]
    reference = stats.t(df=PARAMS[name]["nu"], scale=scale) if name == "student_t" else stats.norm(scale=scale)
    assert stats.kstest(draws, reference.cdf).pvalue > 0.01


def test_unknown_likelihood_lists_valid_names():
    with pytest.raises(ValueError, match="unknown likelihood 'huber'; valid: normal, student_t"):
        get_likelihood("huber")


def test_spread_is_the_68_percent_half_width_finite_for_any_student_t():
    from scipy.stats import t as student

    from bayes_scaling.likelihoods import get_likelihood

    assert get_likelihood("normal").spread(sigma=np.array(0.01)) == pytest.approx(0.01)
    spread = get_likelihood("student_t").spread(sigma=np.array([0.01, 0.01]), nu=np.array([1.0, 1000.0]))
    assert spread[0] == pytest.approx(0.01 * student.ppf(0.841345, 1.0), rel=1e-4)  # 1.8 sigma at nu = 1
    assert spread[1] == pytest.approx(0.01, rel=0.01) and np.all(np.isfinite(spread))
