r"""Runs of one budget err together: a random offset per IsoFLOP budget in the model of log loss.

.. math:: \log L_i = \log L_{law}(x_i; \theta) + u_{b(i)} + \varepsilon_i, \quad u = \tau z, \quad
          z \sim \mathrm{ZeroSumNormal}(1) \text{ over the budgets}, \quad \tau \sim \mathrm{HalfNormal}(0.01)

Runs of one budget share a learning-rate choice, a data order and a schedule; they sit above or below the law
together, and the runs of a sweep are as many independent pieces of evidence about the law's trend in compute as it
has budgets, not as it has runs. The offsets sum to zero (their mean is the law's floor's to explain); a new budget
(every prediction away from the runs) gets its own :math:`u \sim N(0, \tau^2)`. Runs in no budget (a grid, or
stragglers a budget search leaves alone) get no offset. Non-centred (:math:`\tau z`): when the data say the offsets
are small, the centred form is a funnel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayes_scaling.data.budgets import budget_index
from bayes_scaling.priors import Prior
from bayes_scaling.spec import BUDGET_EFFECTS

#: Scale of the HalfNormal prior on the budgets' spread tau in log loss (median 0.007, 95% below 0.02): fixed before
#: any leave-one-suite-out score, at the size of the within-budget noise of the published sweeps (0.004 to 0.018).
#: The term is an option (``--budget-effect auto``), not the default: scored leave one suite out it did not beat the
#: model without it (docs/calibration.md).
SD_SCALE = 0.01
SD = "budget_sd"
STANDARD = "budget_z"
OFFSET = "budget_offset"
LABELS = "budget_of_run"
DIM = "budget"
#: The data have budgets when a ``budget`` column gives them, or when budgets found from compute hold at least this
#: share of the runs and there are at least MIN_BUDGETS of them.
MIN_SHARE = 0.8
MIN_BUDGETS = 3


@dataclass(frozen=True)
class BudgetTerm:
    """The budgets of the runs a model is built on: per run the index of its budget (-1 for none), per budget its
    median compute (FLOP)."""

    labels: np.ndarray
    compute: np.ndarray

    @property
    def count(self) -> int:
        return int(self.compute.size)

    def label_data(self) -> np.ndarray:
        """Per run, the position in the offsets extended by one zero (runs in no budget point at the zero); float
        so the model's data stays one-dimensional float64 (:mod:`~bayes_scaling.sampling.lean_numba`)."""
        return np.where(self.labels < 0, self.count, self.labels).astype(float)


def budget_term_for(frame, mode: str = "auto") -> BudgetTerm | None:
    """The budget term of a canonical run frame, or None when ``mode`` is "none" or the data have no budgets."""
    if mode not in BUDGET_EFFECTS:
        raise ValueError(f"budget effect must be one of {', '.join(BUDGET_EFFECTS)}, got {mode!r}")
    if mode == "none" or "compute" not in frame:
        return None
    groups = budget_index(frame)
    covered = sum(group.index.size for group in groups)
    if "budget" not in frame and (len(groups) < MIN_BUDGETS or covered < MIN_SHARE * len(frame)):
        return None
    if len(groups) < 2:
        return None
    labels = np.full(len(frame), -1, dtype=int)
    for label, group in enumerate(groups):
        labels[group.index] = label
    return BudgetTerm(labels, np.array([group.compute for group in groups]))


def prior() -> Prior:
    return Prior("HalfNormal", {"sigma": SD_SCALE})


def add_offsets(term: BudgetTerm, mu, run_dim: str):
    """``mu`` plus each run's budget offset (inside a model whose coords have :data:`DIM`)."""
    import pymc as pm
    import pytensor.tensor as pt

    position = pm.Data(LABELS, term.label_data(), dims=run_dim)
    tau = prior().create(SD)
    z = pm.ZeroSumNormal(STANDARD, sigma=1.0, dims=DIM)
    offsets = pt.concatenate([tau * z, pt.zeros(1)])
    return mu + offsets[pt.cast(position, "int64")]


def natural_offsets(draws):
    """The offsets u = tau z from sampler draws (xarray: dims chain, draw, budget)."""
    return draws[SD] * draws[STANDARD]


def at_runs(offsets: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each run's offset per draw: ``offsets`` (..., budgets), ``labels`` per run (-1: none); (..., runs)."""
    offsets = np.asarray(offsets, dtype=float)
    extended = np.concatenate([offsets, np.zeros((*offsets.shape[:-1], 1))], axis=-1)
    labels = np.asarray(labels, dtype=int)
    return extended[..., np.where(labels < 0, offsets.shape[-1], labels)]


def draws_at_runs(offsets: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each run's offset per posterior draw, chains stacked: ``offsets`` (chain, draw, budgets) -> (draws, runs)."""
    offsets = np.asarray(offsets, dtype=float)
    return at_runs(offsets.reshape(-1, offsets.shape[-1]), labels)


def prior_draws(term: BudgetTerm, rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """``size`` forward draws of tau and of the offsets (size, budgets): z ~ N(0, I) projected to sum zero, as
    PyMC's ZeroSumNormal."""
    tau = np.abs(rng.normal(0.0, SD_SCALE, size))
    z = rng.standard_normal((size, term.count))
    z -= z.mean(axis=1, keepdims=True)
    return {SD: tau, OFFSET: tau[:, None] * z}
