"""kappa, the factor on the drift's spread (session 20): its CRPS curve, drawn once for every scale, scores the same
predictive as a fit whose prior carries the scale."""

import dataclasses

import numpy as np
import pytest
import xarray as xr

from bayes_scaling.result import FitResult
from bayes_scaling.uncertainty.distance import largest_scale
from bayes_scaling.uncertainty.extrapolation import ExtrapolationPrior, OwnErrors, drift_model
from bayes_scaling.validation.drift_scale import SCALES, crps_by_scale
from bayes_scaling.validation.holdout import predictive_samples_and_score

from .conftest import synthetic_tree


def _fit_and_held():
    tree = synthetic_tree(draws=1000)
    runs = tree["constant_data"].to_dataset()
    seen = runs["compute"].values < 5e20
    prior = ExtrapolationPrior("chinchilla", "test", ("a",), {"mu": np.full(40, -0.05), "tau": np.full(40, 0.05),
                                                             "psi": np.full(40, 0.01), "rho": np.full(40, 0.01)})
    model = drift_model(prior, OwnErrors.empty())
    fit = FitResult(tree)
    reach = largest_scale({name: runs[name].values[seen] for name in ("n_params", "n_tokens")})
    found = dataclasses.replace(fit.discrepancy, drift_from=reach, drift_model=model.to_dict())
    tree.attrs["discrepancy"] = found.to_json()
    held = xr.Dataset({name: ("run", runs[name].values[~seen]) for name in ("n_params", "n_tokens", "compute",
                                                                          "loss")})
    return FitResult(tree), held, model


def test_the_crps_curve_scores_what_a_scaled_drift_predicts():
    fit, held, model = _fit_and_held()
    curve = np.mean([crps_by_scale(fit, held, seed=seed) for seed in (1, 5)], axis=0)  # one slope a draw: noisy
    assert curve.shape == SCALES.shape
    assert np.ptp(curve) > 0.2 * curve.min()  # the drift's spread matters at these distances
    for kappa in (0.0, 0.5, 1.5):
        scaled = FitResult(fit.tree)
        scaled.__dict__["discrepancy"] = dataclasses.replace(fit.discrepancy,
                                                             drift_model=model.scaled(kappa).to_dict())
        crps = np.mean([predictive_samples_and_score(scaled, held, seed=seed, discrepancy=True)[1]["crps"]
                        for seed in (2, 3)])
        index = int(np.flatnonzero(SCALES == kappa)[0])
        assert curve[index] == pytest.approx(crps, rel=0.08)
