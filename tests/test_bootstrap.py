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
