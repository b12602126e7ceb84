"""bayes_scaling's R-hat and ESS (:mod:`bayes_scaling.sampling.convergence`) give ArviZ's numbers."""

import arviz_stats as azs
import numpy as np
import pytest
import xarray as xr

from bayes_scaling.sampling.convergence import bulk_ess, rank_rhat, tail_ess


def _arviz(draws: np.ndarray) -> tuple[float, float, float]:
    data = xr.Dataset({"x": (("chain", "draw"), draws)})
    dims = ["chain", "draw"]
    return (float(azs.rhat(data, sample_dims=dims)["x"]), float(azs.ess(data, sample_dims=dims, method="bulk")["x"]),
            float(azs.ess(data, sample_dims=dims, method="tail")["x"]))


def _ar1(rng, chains: int, draws: int, phi: float, shift=0.0) -> np.ndarray:
    out = np.empty((chains, draws))
    out[:, 0] = rng.normal(size=chains)
    for j in range(1, draws):
        out[:, j] = phi * out[:, j - 1] + np.sqrt(1 - phi**2) * rng.normal(size=chains)
    return out + np.asarray(shift).reshape(-1, 1)


CASES = {
    "independent": lambda rng: rng.normal(size=(4, 1000)),
    "sticky": lambda rng: _ar1(rng, 4, 1000, 0.95),
    "antithetic": lambda rng: _ar1(rng, 4, 500, -0.6),
    "chains apart": lambda rng: _ar1(rng, 4, 500, 0.5, shift=[0.0, 0.0, 0.0, 3.0]),
    "odd draws": lambda rng: _ar1(rng, 3, 251, 0.8),
    "ties": lambda rng: np.round(rng.normal(size=(2, 400)), 1),
    "heavy tails": lambda rng: rng.standard_t(1.5, size=(4, 300)),
    "few draws": lambda rng: rng.normal(size=(2, 6)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rhat_and_ess_match_arviz(case):
    draws = CASES[case](np.random.default_rng(sorted(CASES).index(case)))
    ours = (rank_rhat(draws), bulk_ess(draws), tail_ess(draws))
    np.testing.assert_allclose(ours, _arviz(draws), rtol=1e-9)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_a_constant_parameter_and_too_short_or_nan_chains_are_handled_as_arviz_does():
    constant = np.full((4, 100), 2.5)
    assert np.isnan(rank_rhat(constant)) and np.isnan(_arviz(constant)[0])
    assert bulk_ess(constant) == tail_ess(constant) == 400.0 == _arviz(constant)[1]
    one_chain = np.random.default_rng(1).normal(size=(1, 100))
    assert np.isnan(rank_rhat(one_chain)) and bulk_ess(one_chain) == pytest.approx(_arviz(one_chain)[1], rel=1e-9)
    with_nan = np.random.default_rng(2).normal(size=(2, 100))
    with_nan[0, 3] = np.nan
    assert all(np.isnan(value) for value in (rank_rhat(with_nan), bulk_ess(with_nan), tail_ess(with_nan)))
    assert np.isnan(bulk_ess(np.zeros((2, 3))))


def test_chains_that_disagree_fail_rhat_and_sticky_chains_have_few_effective_draws():
    rng = np.random.default_rng(3)
    apart = _ar1(rng, 4, 500, 0.5, shift=[0.0, 0.0, 0.0, 3.0])
    assert rank_rhat(apart) > 1.3
    assert rank_rhat(rng.normal(size=(4, 500))) < 1.01
    assert bulk_ess(_ar1(rng, 4, 1000, 0.95)) < 0.1 * 4000 < 0.8 * 4000 < bulk_ess(rng.normal(size=(4, 1000)))
