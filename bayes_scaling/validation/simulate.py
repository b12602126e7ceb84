"""Simulated training runs from a law with known parameters: for parameter-recovery tests and calibration studies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bayes_scaling.laws import Law
from bayes_scaling.likelihoods import Likelihood


def isoflop_design(budgets: Sequence[float], sizes_per_budget: int, spread_dex: float = 1.0,
                   tokens_per_param: float = 20.0) -> pd.DataFrame:
    """IsoFLOP design: for each budget C, ``sizes_per_budget`` model sizes log-spaced over ``spread_dex`` decades
    centred on the size with ``tokens_per_param`` tokens per parameter; D = C / (6 N)."""
    rows = []
    for c in budgets:
        centre = np.sqrt(c / (6.0 * tokens_per_param))
        for n in np.logspace(-spread_dex / 2, spread_dex / 2, sizes_per_budget) * centre:
            rows.append({"n_params": n, "n_tokens": c / (6.0 * n), "compute": c})
    return pd.DataFrame(rows)


def simulate_runs(law: Law, params: Mapping[str, float], design: pd.DataFrame, likelihood: Likelihood,
                  noise: Mapping[str, float], seed: int) -> pd.DataFrame:
    """The design with a ``loss`` column drawn from ``likelihood`` around the law's log loss (seeded)."""
    rng = np.random.default_rng(seed)
    inputs = {name: design[name].to_numpy(dtype=float) for name in law.inputs}
    mu = np.log(law.loss(**inputs, **params))
    out = design.copy()
    out["loss"] = np.exp(likelihood.sample(rng, mu, **noise))
    return out
