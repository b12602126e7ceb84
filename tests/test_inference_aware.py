"""Inference-aware sizing: the N and D that reach a target loss with the least training plus inference compute."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_scaling.analysis.inference_aware import inference_aware, tokens_to_reach
from bayes_scaling.result import FitResult

from .conftest import synthetic_tree


@pytest.fixture(scope="module")
def fit():
    return FitResult(synthetic_tree(draws=200))


def test_the_tokens_found_reach_the_target(fit):
    n = np.array([1e9, 1e10])
    d = tokens_to_reach(fit, n, 2.2)
    params = {name: values[:, None] for name, values in fit.draws(fit.law.parameters).items()}
    reached = fit.law.loss(n_params=n[None, :], n_tokens=d, **params)
    assert np.nanmax(np.abs(reached - 2.2)) < 1e-6


def test_without_inference_it_is_the_compute_optimal_model_and_more_inference_means_smaller_and_longer(fit):
    none = inference_aware(fit, 2.2, 0.0)
    optimal = fit.compute_for_loss(2.2)
    assert float(none["n_params"].median()) == pytest.approx(float(optimal["n_params"].median()), rel=0.1)
    assert float(none["saving"].max()) == pytest.approx(0.0, abs=1e-9)
    heavy = inference_aware(fit, 2.2, 1e13)
    assert float(heavy["n_params"].median()) < float(none["n_params"].median())
    assert float(heavy["tokens_per_param"].median()) > float(none["tokens_per_param"].median())
    assert 0 < float(heavy["saving"].median()) < 1
    assert np.all((heavy["total_compute"] <= heavy["compute_optimal_total"] * (1 + 1e-9)).values)


def test_plan_carries_it_labelled_law_only(fit):
    from bayes_scaling.analysis.planning import plan

    row = plan(fit, target_loss=[2.2], inference_tokens=1e12)["target_loss"][0]
    found = row["inference_aware"]
    assert found["inference_tokens"] == 1e12 and found["includes"].startswith("the law alone")
    assert found["n_params"]["lower"] < found["n_params"]["median"] < found["n_params"]["upper"]
    assert "inference_aware" not in plan(fit, target_loss=[2.2])["target_loss"][0]
