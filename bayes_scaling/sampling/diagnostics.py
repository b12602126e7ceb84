"""Convergence diagnostics and one verdict per fit: R-hat, bulk and tail ESS, divergences; PSIS-LOO.

Thresholds follow Vehtari et al. 2021 ("Rank-normalization, folding, and localization"): R-hat <= 1.01 and bulk and
tail ESS >= 400 (100 per chain for 4 chains), and no divergent transitions.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import xarray as xr

from bayes_scaling.sampling.convergence import bulk_ess, rank_rhat, tail_ess
from bayes_scaling.util.defaults import PARETO_K_BAD

MAX_RHAT = 1.01
MIN_ESS = 400.0


@dataclass(frozen=True)
class Diagnostics:
    """Per-parameter R-hat and ESS, the divergence count, and the verdict with its reasons."""

    rhat: dict[str, float]
    ess_bulk: dict[str, float]
    ess_tail: dict[str, float]
    divergences: int
    draws: int
    max_rhat_allowed: float = MAX_RHAT
    min_ess_allowed: float = MIN_ESS
    problems: tuple[str, ...] = field(default=())

    @property
    def converged(self) -> bool:
        return not self.problems

    @property
    def max_rhat(self) -> float:
        return max(self.rhat.values())

    @property
    def min_ess_bulk(self) -> float:
        return min(self.ess_bulk.values())

    @property
    def min_ess_tail(self) -> float:
        return min(self.ess_tail.values())

    def verdict(self) -> str:
        """One line: ``converged`` or ``NOT CONVERGED: <reasons>``."""
        if self.converged:
            return (f"converged (max R-hat {self.max_rhat:.3f}, min bulk ESS {self.min_ess_bulk:.0f}, "
                    f"min tail ESS {self.min_ess_tail:.0f}, {self.divergences} divergences)")
        return "NOT CONVERGED: " + "; ".join(self.problems)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Diagnostics:
        raw = json.loads(text)
        raw["problems"] = tuple(raw.get("problems", ()))
        return cls(**raw)


def diagnose(posterior: xr.Dataset, sample_stats: xr.Dataset, var_names: list[str]) -> Diagnostics:
    """Diagnostics of the scalars ``var_names`` in a posterior with ``chain, draw`` dims (ArviZ's rank R-hat and
    bulk and tail ESS, :mod:`~bayes_scaling.sampling.convergence`)."""
    table = {}
    for name in var_names:
        draws = posterior[name].transpose("chain", "draw").to_numpy()
        table[name] = (rank_rhat(draws), bulk_ess(draws), tail_ess(draws))
    divergences = int(sample_stats["diverging"].sum()) if "diverging" in sample_stats else 0
    problems = []
    for name, (r, b, t) in table.items():
        if not math.isfinite(r) or r > MAX_RHAT:
            problems.append(f"R-hat of {name} is {r:.3f} (> {MAX_RHAT})")
        if not math.isfinite(b) or b < MIN_ESS:
            problems.append(f"bulk ESS of {name} is {b:.0f} (< {MIN_ESS:.0f})")
        if not math.isfinite(t) or t < MIN_ESS:
            problems.append(f"tail ESS of {name} is {t:.0f} (< {MIN_ESS:.0f})")
    if divergences:
        problems.append(f"{divergences} divergent transitions")
    return Diagnostics(
        rhat={k: v[0] for k, v in table.items()},
        ess_bulk={k: v[1] for k, v in table.items()},
        ess_tail={k: v[2] for k, v in table.items()},
        divergences=divergences,
        draws=int(posterior.sizes["chain"] * posterior.sizes["draw"]),
        problems=tuple(problems),
    )


@dataclass(frozen=True)
class LooSummary:
    """PSIS-LOO expected log predictive density and Pareto-k counts (k > 0.7 means the estimate is unreliable)."""

    elpd: float
    se: float
    p_loo: float
    n_points: int
    k_over_0_7: int
    k_max: float

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def psis_loo(tree):
    """ArviZ's pointwise PSIS-LOO of the tree's ``log_likelihood`` group. Runs with Pareto k > 0.7 are counted by
    the callers (and shown on the pages), so ArviZ's warning about them is not printed as well."""
    import warnings

    import arviz_stats as azs

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto", category=UserWarning)
        return azs.loo(tree, pointwise=True)


def loo_summary(tree) -> LooSummary:
    """PSIS-LOO from the tree's ``log_likelihood`` group (:func:`psis_loo`), with its Pareto k counted."""
    result = psis_loo(tree)
    k = np.asarray(result.pareto_k).ravel()
    return LooSummary(
        elpd=float(result.elpd), se=float(result.se), p_loo=float(result.p),
        n_points=int(k.size), k_over_0_7=int(np.sum(k > PARETO_K_BAD)), k_max=float(np.nanmax(k)),
    )
