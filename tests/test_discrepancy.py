"""The discrepancy GP: its hyperparameters come from the residuals' structure, its kriging recovers the misfit near
the runs, and its spread grows to eta away from them (no NUTS: posterior draws are the true parameters repeated)."""

import numpy as np
import pytest

from bayes_scaling.laws import get_law
from bayes_scaling.uncertainty.discrepancy import Discrepancy, discrepancy_draws, fit_discrepancy

TRUE = {"E": 1.8, "A": 400.0, "B": 1800.0, "alpha": 0.34, "beta": 0.36}
LAW = get_law("chinchilla")


def _field(points: np.ndarray, eta: float, length: float, seed: int) -> np.ndarray:
    """One draw of the exponential-kernel GP at the points (decades)."""
    distance = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
    cov = eta**2 * np.exp(-distance / length) + 1e-12 * np.eye(len(points))
    return np.linalg.cholesky(cov) @ np.random.default_rng(seed).standard_normal(len(points))


@pytest.fixture(scope="module")
def world():
    """Runs on a grid plus held-out points beyond it; log loss = law + GP misfit (eta 0.01, 0.5 decades) + noise."""
    rng = np.random.default_rng(3)
    train = np.array([(n, d) for n in np.linspace(7.5, 9.5, 9) for d in np.linspace(9.0, 11.0, 9)])
    beyond = rng.uniform([9.8, 11.2], [10.6, 12.0], size=(40, 2))
    points = np.vstack([train, beyond])
    misfit = _field(points, 0.01, 0.5, seed=4)
    inputs = {"n_params": 10 ** points[:, 0], "n_tokens": 10 ** points[:, 1]}
    log_loss = LAW.log_loss({k: np.array([v]) for k, v in TRUE.items()}, inputs)[0]
    loss = np.exp(log_loss + misfit + 0.002 * rng.standard_normal(len(points)))
    split = len(train)
    runs = {"n_params": inputs["n_params"][:split], "n_tokens": inputs["n_tokens"][:split], "loss": loss[:split]}
    held = {"n_params": inputs["n_params"][split:], "n_tokens": inputs["n_tokens"][split:], "loss": loss[split:]}
    params = {k: np.full(200, v) for k, v in TRUE.items()}
    return runs, held, params


def test_hyperparameters_come_from_the_residual_structure(world):
    runs, _, params = world
    found = fit_discrepancy(LAW, params, runs)
    assert found.inputs == ("n_params", "n_tokens") and found.n_runs == 81
    assert 0.004 < found.eta < 0.03 and 0.1 < found.length_scale < 3.0 and found.nugget < 0.005
    assert Discrepancy.from_json(found.to_json()) == found


def test_no_structure_gives_a_negligible_discrepancy(world):
    runs, _, params = world
    exact = dict(runs, loss=np.exp(LAW.log_loss({k: v[:1] for k, v in params.items()}, runs)[0]
                                   + 0.003 * np.random.default_rng(5).standard_normal(81)))
    found = fit_discrepancy(LAW, params, exact)
    assert found.eta < 0.002 and found.nugget == pytest.approx(0.003, rel=0.3)


def test_kriging_is_sure_at_the_runs_and_spreads_to_eta_far_away(world):
    runs, _, params = world
    found = fit_discrepancy(LAW, params, runs)
    at_runs = discrepancy_draws(found, LAW, params, runs, runs, np.random.default_rng(0))
    residual = np.log(runs["loss"]) - LAW.log_loss(params, runs)[0]
    assert np.corrcoef(at_runs.mean(0), residual)[0, 1] > 0.95  # near the data it borrows the misfit
    assert at_runs.std(0).max() < 0.5 * found.eta
    far = {"n_params": np.array([1e13]), "n_tokens": np.array([1e15])}
    spread = discrepancy_draws(found, LAW, params, runs, far, np.random.default_rng(0))
    assert abs(spread.mean()) < 0.2 * found.eta and spread.std() == pytest.approx(found.eta, rel=0.15)


def test_discrepancy_restores_coverage_beyond_the_runs(world):
    runs, held, params = world
    found = fit_discrepancy(LAW, params, runs)
    rng = np.random.default_rng(1)
    law_only = LAW.log_loss(params, held) + 0.002 * rng.standard_normal((200, 40))
    with_gp = law_only + discrepancy_draws(found, LAW, params, runs, held, rng)
    observed = np.log(held["loss"])

    def coverage(samples):
        low, high = np.quantile(samples, [0.05, 0.95], axis=0)
        return np.mean((observed >= low) & (observed <= high))

    assert coverage(law_only) < 0.5 and coverage(with_gp) >= 0.8


def test_joint_draws_have_the_marginals_of_the_pointwise_ones_and_the_kernel_correlation():
    """Joint draws along a line: same mean and variance per point as the marginal draws, and neighbouring points
    correlated as the posterior covariance says (nearly 1 for points 0.01 decades apart)."""
    rng = np.random.default_rng(1)
    n = np.geomspace(1e8, 1e10, 30)
    runs = {"n_params": n, "n_tokens": 2e11 / n, "loss": 2.0 * np.exp(0.01 * rng.standard_normal(30))}
    params = {k: np.full(4000, v) for k, v in {"E": 1.7, "A": 400.0, "B": 1800.0, "alpha": 0.34, "beta": 0.36}.items()}
    found = Discrepancy(("n_params", "n_tokens"), eta=0.02, length_scale=0.5, nugget=0.002, n_runs=30)
    far = np.geomspace(1e12, 1.02e12, 3)
    new = {"n_params": far, "n_tokens": 1e24 / (6 * far)}
    joint = discrepancy_draws(found, LAW, params, runs, new, np.random.default_rng(2), joint=True)
    marginal = discrepancy_draws(found, LAW, params, runs, new, np.random.default_rng(2))
    np.testing.assert_allclose(joint.std(axis=0), marginal.std(axis=0), rtol=0.06)
    np.testing.assert_allclose(joint.mean(axis=0), marginal.mean(axis=0), atol=0.002)
    assert np.corrcoef(joint[:, 0], joint[:, 1])[0, 1] > 0.95
    assert abs(np.corrcoef(marginal[:, 0], marginal[:, 1])[0, 1]) < 0.1


def test_same_bits_whatever_the_number_of_blas_threads():
    """Dask workers start BLAS with one thread, a process with one per core: the GP's hyperparameters and draws
    (300 runs, enough for OpenBLAS to split its work) must not depend on it."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    n, d = np.exp(rng.uniform(np.log(1e8), np.log(1e10), 300)), np.exp(rng.uniform(np.log(1e9), np.log(1e11), 300))
    truth = {"E": 1.7, "A": 400.0, "B": 1800.0, "alpha": 0.34, "beta": 0.36}
    params = {k: v * np.exp(0.01 * rng.standard_normal(200)) for k, v in truth.items()}
    wiggle = 0.01 * rng.standard_normal(300) + 0.01 * np.sin(np.log(n))  # noise and a misfit for the GP to find
    loss = LAW.loss(n_params=n, n_tokens=d, **truth) * np.exp(wiggle)
    runs = {"n_params": n, "n_tokens": d, "loss": loss}
    new = {"n_params": np.geomspace(1e10, 1e11, 20), "n_tokens": np.geomspace(1e11, 1e12, 20)}
    results = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            found = fit_discrepancy(LAW, params, runs)
            results.append((found, discrepancy_draws(found, LAW, params, runs, new, np.random.default_rng(1),
                                                     joint=True)))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_many_runs_are_thinned_to_an_even_spread_for_the_gp(world, monkeypatch):
    """Above MOST_RUNS runs the GP is fitted to and conditioned on an even spread of them (its cost is cubic)."""
    import bayes_scaling.uncertainty.discrepancy as discrepancy

    runs, held, params = world
    monkeypatch.setattr(discrepancy, "MOST_RUNS", 30)
    found = fit_discrepancy(LAW, params, runs)
    assert found.n_runs == 30 and found.eta > 0.002
    kept = discrepancy.thinned(runs, found.inputs)
    assert kept["n_params"].size == 30 and np.ptp(np.log10(kept["n_params"])) > 1.5  # spread over the grid
    draws = discrepancy_draws(found, LAW, params, runs, held, np.random.default_rng(0))
    assert draws.shape == (200, 40) and np.all(np.isfinite(draws))
