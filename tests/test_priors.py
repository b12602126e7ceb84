import pytest

from bayes_scaling.priors import Prior, PriorError, merge_priors


def test_prior_round_trips_through_its_toml_form():
    prior = Prior.from_mapping({"dist": "Gamma", "mu": 0.4, "sigma": 0.3})
    assert prior.to_mapping() == {"dist": "Gamma", "mu": 0.4, "sigma": 0.3}
    assert prior.describe() == "Gamma(mu=0.4, sigma=0.3)"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"dist": "Normall", "mu": 0}, "unknown prior distribution 'Normall'; valid: Beta"),
        ({"dist": "Normal", "mean": 0}, "does not take ['mean']"),
        ({"dist": "Normal", "mu": float("nan"), "sigma": 1}, "mu must be a finite number"),
        ({"mu": 0}, "needs a 'dist' key"),
    ],
)
def test_bad_priors_are_refused_with_the_fix(spec, message):
    with pytest.raises(PriorError, match=None) as err:
        Prior.from_mapping(spec)
    assert message in str(err.value)


def test_merge_overrides_without_mutating_defaults_and_rejects_unknown_names():
    defaults = {"alpha": Prior("Gamma", {"mu": 0.4, "sigma": 0.3}), "E": Prior("LogNormal", {"mu": 0.5, "sigma": 0.5})}
    merged = merge_priors(defaults, {"alpha": {"dist": "Normal", "mu": 0.3, "sigma": 0.1}}, owner="law x")
    assert merged["alpha"] == Prior("Normal", {"mu": 0.3, "sigma": 0.1})
    assert defaults["alpha"].dist == "Gamma"
    with pytest.raises(PriorError, match="law x has no parameter 'gamma' to put a prior on; valid: alpha, E"):
        merge_priors(defaults, {"gamma": {"dist": "Normal", "mu": 0, "sigma": 1}}, owner="law x")


def test_typical_values_are_central():
    assert Prior("LogNormal", {"mu": 0.0, "sigma": 1.0}).typical() == pytest.approx(1.0)
    assert Prior("Gamma", {"alpha": 2.0, "beta": 4.0}).typical() == pytest.approx(0.5)
    assert Prior("Uniform", {"lower": 1.0, "upper": 3.0}).typical() == pytest.approx(2.0)


@pytest.mark.parametrize("prior", [Prior("HalfNormal", {"sigma": 0.03}), Prior("Gamma", {"alpha": 2.0, "beta": 0.1}),
                                   Prior("LogNormal", {"mu": 1.0, "sigma": 2.0})])
def test_forward_draws_are_the_distributions_own_to_the_bit(prior):
    import numpy as np
    import pymc as pm

    def draws(graph):
        return pm.draw(graph, draws=1, random_seed=np.random.default_rng([3, 11]), mode="FAST_COMPILE")

    ours = draws(prior.draw_object(500))
    assert np.array_equal(ours, draws(prior.dist_object(size=500))) and (ours > 0).all()
