"""A fit reads nutpie's raw trace itself: the same draws, dims and coordinates as nutpie's ArviZ conversion."""

import numpy as np
import pytest

from bayes_scaling.sampling.arrow_trace import trace_datasets


@pytest.fixture(scope="module")
def compiled():
    import nutpie
    import pymc as pm

    with pm.Model(coords={"budget": ["small", "large"]}) as model:
        scale = pm.HalfNormal("scale", 1.0)
        offsets = pm.Normal("offsets", 0.0, 1.0, dims="budget")
        pm.Normal("y", offsets.sum(), scale, observed=np.array([0.1, 0.3, -0.2]))
    return nutpie.compile_pymc_model(model, backend="numba", var_names=["scale", "offsets"])


def test_the_draws_after_tuning_with_their_dims_and_coordinates_match_nutpies_conversion(compiled):
    import nutpie

    settings = {"draws": 30, "tune": 20, "chains": 2, "seed": 3, "progress_bar": False, "save_warmup": False,
                "store_unconstrained": True}
    converted = nutpie.sample(compiled, **settings)
    raw = nutpie.sample(compiled, **settings, return_raw_trace=True)
    posterior, stats = trace_datasets(raw, compiled.coords, ["scale", "offsets"],
                                      ("diverging", "n_steps", "unconstrained_draw", "not_a_statistic"))
    theirs = converted["posterior"].to_dataset()
    assert dict(posterior.sizes) == {"chain": 2, "draw": 30, "budget": 2}
    assert posterior["offsets"].dims == ("chain", "draw", "budget")
    assert list(posterior["budget"].values) == ["small", "large"]
    for name in ("scale", "offsets"):
        np.testing.assert_array_equal(posterior[name].values, theirs[name].values)
    their_stats = converted["sample_stats"].to_dataset()
    assert set(stats.data_vars) == {"diverging", "n_steps", "unconstrained_draw"}
    np.testing.assert_array_equal(stats["n_steps"].values, their_stats["n_steps"].values)
    np.testing.assert_array_equal(stats["unconstrained_draw"].values, their_stats["unconstrained_draw"].values)
