import numpy as np
import pytest

from bayes_scaling.laws import get_law
from bayes_scaling.validation.bootstrap import bootstrap_fit, huber

from .conftest import TRUE_PARAMS


def test_huber_is_quadratic_inside_delta_and_linear_outside():
    assert huber(np.array([0.0005]), 1e-3)[0] == pytest.approx(0.5 * 0.0005**2)
    assert huber(np.array([-0.01]), 1e-3)[0] == pytest.approx(1e-3 * (0.01 - 0.0005))


def test_bootstrap_recovers_the_law_and_its_replicates_bracket_the_truth(simulated_frame):
    law = get_law("chinchilla")
    inputs = {k: simulated_frame[k].to_numpy() for k in law.inputs}
    boot = bootstrap_fit(law, inputs, simulated_frame["loss"].to_numpy(), replicates=20, seed=3, max_starts=12)
    best = boot.params(boot.best)
    for name in ("E", "alpha", "beta"):
        assert best[name] == pytest.approx(TRUE_PARAMS[name], rel=0.1)
    replicates = boot.params(boot.replicates)
    assert np.ptp(replicates["alpha"]) > 0  # the replicates moved from the full-data optimum
    samples = boot.predictive_log_loss(inputs, np.random.default_rng(0))
    assert samples.shape == (20, len(simulated_frame))
    observed = np.log(simulated_frame["loss"].to_numpy())
    low, high = np.quantile(samples, [0.05, 0.95], axis=0)
    assert 0.7 < np.mean((observed >= low) & (observed <= high)) <= 1.0
    again = bootstrap_fit(law, inputs, simulated_frame["loss"].to_numpy(), replicates=20, seed=3, max_starts=12)
    np.testing.assert_array_equal(again.replicates, boot.replicates)  # seeded


def test_grid_starts_put_amplitudes_with_centre_priors_on_their_natural_scale(simulated_frame):
    from bayes_scaling.validation.bootstrap import typical_values

    law = get_law("chinchilla")
    inputs = {k: simulated_frame[k].to_numpy() for k in law.inputs}
    typical = typical_values(law, inputs)
    term = law.default_priors["A"].typical()  # the prior's typical N term at the data centre, in nats
    assert typical["A"] == pytest.approx(term * np.exp(0.4 * np.mean(np.log(inputs["n_params"]))))
    assert 10 < typical["A"] < 1e5 and typical["alpha"] == pytest.approx(0.4)


def test_batched_fits_reach_the_weighted_optimum_scipy_finds(simulated_frame):
    """Each batched fit (weights = a replicate's resampling counts) ends where L-BFGS-B ends on the same weighted
    Huber objective from the same start, or lower, and L-BFGS-B started there finds nothing lower (the objective is
    flat along the amplitudes, so the parameters themselves may differ along the valley)."""
    from scipy.optimize import minimize

    from bayes_scaling.validation.batched_huber import HUBER_DELTA, fit_many

    law = get_law("chinchilla")
    inputs = {k: simulated_frame[k].to_numpy(dtype=float) for k in law.inputs}
    log_observed = np.log(simulated_frame["loss"].to_numpy(dtype=float))
    n = log_observed.size
    rng = np.random.default_rng(1)
    counts = np.array([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(3)], dtype=float)
    start = np.log([TRUE_PARAMS[name] for name in law.parameters]) + 0.05
    thetas, values = fit_many(law, law.parameters, inputs, log_observed, np.tile(start, (3, 1)), counts)

    def objective(theta, weights):
        pred = np.log(law.loss(**inputs, **dict(zip(law.parameters, np.exp(theta), strict=True))))
        return float(np.sum(weights * huber(pred - log_observed))) / HUBER_DELTA

    for theta, value, weights in zip(thetas, values, counts, strict=True):
        reference = minimize(objective, start, args=(weights,), method="L-BFGS-B",
                             options={"ftol": 1e-12, "gtol": 1e-10, "maxiter": 5000})
        assert value == pytest.approx(objective(theta, weights), rel=1e-12)
        assert value <= reference.fun * (1 + 1e-7)
        from_ours = minimize(objective, theta, args=(weights,), method="L-BFGS-B", options={"ftol": 1e-14})
        assert from_ours.fun >= value * (1 - 1e-8)  # scipy cannot improve on the batched optimum either


def test_a_start_whose_prediction_overflows_is_dropped_not_chosen(simulated_frame):
    from bayes_scaling.validation.batched_huber import best_of, fit_many

    law = get_law("chinchilla")
    inputs = {k: simulated_frame[k].to_numpy(dtype=float) for k in law.inputs}
    log_observed = np.log(simulated_frame["loss"].to_numpy(dtype=float))
    good = np.log([TRUE_PARAMS[name] for name in law.parameters])
    far = good + np.array([0.0, 800.0, 0.0, 0.0, 0.0])  # A = e^806 overflows
    _, values = fit_many(law, law.parameters, inputs, log_observed, np.array([far, good]))
    assert np.isinf(values[0]) and np.isfinite(values[1])
    np.testing.assert_allclose(best_of(law, law.parameters, inputs, log_observed, np.array([far, good]))[[0, 3, 4]],
                               good[[0, 3, 4]], atol=0.1)


def test_a_singular_or_broken_system_refuses_its_own_step_only():
    from bayes_scaling.validation.batched_huber import solve_each

    systems = np.array([np.eye(2) * 2.0, np.zeros((2, 2)), np.full((2, 2), np.inf)])
    right = np.array([[2.0, 4.0], [1.0, 1.0], [1.0, 1.0]])
    out = solve_each(systems, right)
    np.testing.assert_allclose(out[0], [1.0, 2.0])
    assert np.all(np.isnan(out[1:]))


def test_the_bootstrap_of_epochs_runs_without_the_top_fifth_runs_through(shared_data):
    """This split once stopped `make report`: one grid start's system was singular and the batched solve raised."""
    from bayes_scaling.data.filters import split_top_compute
    from bayes_scaling.sampling.run import prepare
    from bayes_scaling.spec import load_spec

    from .conftest import REPO

    prepared = prepare(load_spec(REPO / "models" / "chinchilla.toml"))
    train, _ = split_top_compute(prepared.runs, 0.2)
    boot = bootstrap_fit(prepared.law, {k: train.column(k) for k in prepared.law.inputs}, train.column("loss"),
                         replicates=10, seed=0)
    assert np.all(np.isfinite(boot.replicates)) and 0.3 < np.exp(boot.best[3]) < 0.4  # alpha
