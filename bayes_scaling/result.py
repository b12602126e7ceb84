"""The notebook API: a loaded fit and the quantities derived from its posterior draws.

>>> fit = bayes_scaling.load("reports/chinchilla/posterior.nc")
>>> fit.optimal_allocation(compute=[1e23, 1e24])["n_params"].quantile([0.05, 0.5, 0.95], dim=["chain", "draw"])

Every method returns xarray objects with ``chain, draw`` dims.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling import derived
from bayes_scaling.data.named_models import NAMED_MODELS
from bayes_scaling.laws import Law, get_law
from bayes_scaling.laws.inputs import INPUTS
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.sampling import budget_term
from bayes_scaling.sampling.diagnostics import Diagnostics
from bayes_scaling.sampling.identification import weakly_identified
from bayes_scaling.sampling.io import POSTERIOR_FILE, load_tree, save_tree
from bayes_scaling.uncertainty.discrepancy import (
    Discrepancy,
    KrigingBasis,
    discrepancy_draws,
    fit_discrepancy,
    kriging_basis,
)
from bayes_scaling.uncertainty.distance import beyond
from bayes_scaling.uncertainty.extrapolation import ExtrapolationPrior, OwnErrors, drift_model, independent_variance
from bayes_scaling.util.defaults import DEFAULT_LEVEL

log = logging.getLogger(__name__)

#: Loss as every fit stores it: natural-log cross-entropy per token (a table in bits is converted on loading).
LOSS_UNIT = "nats per token"


class FitResult:
    """A fitted law: its DataTree plus methods for allocations, losses and budgets, each per posterior draw."""

    def __init__(self, tree: xr.DataTree, path: str | Path | None = None):
        self._tree: xr.DataTree | None = tree
        self._stored_attrs: dict | None = None
        self.path = None if path is None else Path(path)
        self.law: Law = get_law(tree.attrs["law"])
        self._warn_if_unconverged()

    def _warn_if_unconverged(self) -> None:
        if not self.converged:
            log.warning("fit %s did NOT converge: %s", self.name, self.diagnostics.verdict())

    @classmethod
    def stored(cls, folder: str | Path, attrs: dict) -> FitResult:
        """The fit saved in ``folder``, known by its root ``attrs`` (:func:`~bayes_scaling.sampling.io.read_attrs`)
        until something needs its draws: then its file is read and checked (:func:`load_tree`). A report whose
        pages are all unchanged reads no posterior."""
        fit = cls.__new__(cls)
        fit._tree, fit._stored_attrs, fit.path = None, dict(attrs), Path(folder)
        fit.law = get_law(attrs["law"])
        fit._warn_if_unconverged()
        return fit

    @property
    def tree(self) -> xr.DataTree:
        """The fit's DataTree (read from its file on first use for a :meth:`stored` fit)."""
        if self._tree is None:
            self._tree = load_tree(self.path)
        return self._tree

    @property
    def attrs(self) -> dict:
        """The fit's root attributes (law, diagnostics, fingerprint...), without reading its draws."""
        return self._tree.attrs if self._tree is not None else self._stored_attrs

    @property
    def name(self) -> str:
        return str(self.attrs.get("analysis", self.law.name))

    @cached_property
    def diagnostics(self) -> Diagnostics:
        return Diagnostics.from_json(self.attrs["diagnostics"])

    @property
    def converged(self) -> bool:
        return self.diagnostics.converged

    @property
    def posterior(self) -> xr.Dataset:
        return self.tree["posterior"].to_dataset()

    @cached_property
    def params(self) -> dict[str, xr.DataArray]:
        """The law's parameters on the natural scale, each with ``chain, draw`` dims."""
        post = self.posterior
        return {name: post[name] for name in self.law.parameters}

    @property
    def runs(self) -> xr.Dataset:
        """The runs the law was fitted to (n_params, n_tokens, compute, loss over ``run``)."""
        return self.tree["constant_data"].to_dataset()

    def draws(self, names: Iterable[str]) -> dict[str, Any]:
        """1-d numpy arrays of posterior draws (chains stacked) of the named variables."""
        post = self.posterior
        return {name: post[name].to_numpy().reshape(-1) for name in names}

    @property
    def budget_sd_draws(self) -> np.ndarray | None:
        """Draws of the spread of the budgets' random offsets (:mod:`~bayes_scaling.sampling.budget_term`), or None
        for a fit without them."""
        return self.draws([budget_term.SD])[budget_term.SD] if budget_term.SD in self.posterior else None

    @property
    def run_budget_offsets(self) -> np.ndarray | None:
        """Each run's budget offset per posterior draw (draws x runs), or None for a fit without them."""
        if budget_term.OFFSET not in self.posterior:
            return None
        return budget_term.draws_at_runs(self.posterior[budget_term.OFFSET].to_numpy(),
                                         self.runs[budget_term.LABELS].to_numpy())

    @cached_property
    def discrepancy(self) -> Discrepancy:
        """The law's discrepancy GP (:mod:`bayes_scaling.uncertainty.discrepancy`): stored with the fit, or fitted now
        for files written before it existed."""
        if "discrepancy" in self.attrs:
            return Discrepancy.from_json(self.attrs["discrepancy"])
        return fit_discrepancy(self.law, self.draws(self.law.parameters), self.runs, self.run_budget_offsets)

    def without_drift(self) -> FitResult:
        """The same fit with the discrepancy's extrapolation drift set to 0 (the GP alone), for before-and-after
        scores of the drift."""
        other = copy.copy(self)
        other.__dict__["discrepancy"] = self.discrepancy.without_drift()
        return other

    @property
    def identification(self) -> dict[str, float]:
        """Posterior-to-prior sd ratio of each law parameter on the log scale
        (:mod:`bayes_scaling.sampling.identification`); empty for fits made before it was measured."""
        return json.loads(self.attrs.get("identification", "{}"))

    @property
    def weakly_identified(self) -> list[str]:
        """The law's parameters the data barely narrowed (their posterior keeps over 0.3 of the prior's spread)."""
        return weakly_identified(self.identification)

    def with_extrapolation(self, prior: ExtrapolationPrior) -> FitResult:
        """The same fit with its extrapolation slope recombined from another cross-suite ``prior`` and the fit's own
        leave-future-out errors (a leave-one-suite-out score, or an updated prior); the stored file is untouched."""
        found = self.discrepancy
        if found.drift_own is None:
            raise ValueError(f"{self.name}: the fit stores no own leave-future-out errors (made before the "
                             "cross-suite prior); refit it")
        own = OwnErrors.from_dict(found.drift_own)
        if prior.shared_errors:  # fits made before session 19 store no shared part: derive it from the fit
            likelihood = get_likelihood(self.attrs["likelihood"])
            own = own.with_shared(independent_variance(likelihood, self.draws(likelihood.parameters),
                                                       found.eta, self.budget_sd_draws))
        other = copy.copy(self)
        model = drift_model(prior, own)
        other.__dict__["discrepancy"] = dataclasses.replace(found, drift_model=model.to_dict())
        return other

    @cached_property
    def kriging_basis(self) -> KrigingBasis:
        """The discrepancy GP's runs, Cholesky factor and each draw's residuals there, computed once per fit for all
        of its predictions (:func:`~bayes_scaling.uncertainty.discrepancy.kriging_basis`)."""
        return kriging_basis(self.discrepancy, self.law, self.draws(self.law.parameters), self.runs,
                             self.run_budget_offsets)

    def discrepancy_draws(self, rng, *, joint: bool = False, **inputs: Any):
        """Draws of the discrepancy delta (posterior draws x points) at the given inputs, for predictions; ``joint``
        draws the points of each draw together (:func:`~bayes_scaling.uncertainty.discrepancy.discrepancy_draws`)."""
        return discrepancy_draws(self.discrepancy, self.law, self.draws(self.law.parameters), self.runs, inputs, rng,
                                 joint=joint, run_offsets=self.run_budget_offsets, budget_sd=self.budget_sd_draws,
                                 basis=self.kriging_basis)

    def attr_json(self, key: str) -> Any:
        """A JSON-encoded attribute (spec, priors, data_source, filters, versions, diagnostics)."""
        return json.loads(self.attrs[key])

    def predict_loss(self, **inputs: Any) -> xr.DataArray:
        """Loss at given inputs, e.g. ``predict_loss(n_params=70e9, n_tokens=1.4e12)``."""
        return derived.predict_loss(self.law, self.params, **inputs)

    def exponents(self) -> xr.Dataset:
        """Allocation exponents ``a`` and ``b``."""
        return derived.allocation_exponents(self.law, self.params)

    def optimal_allocation(self, compute: float | Iterable[float]) -> xr.Dataset:
        """Compute-optimal N, D, tokens per parameter and loss for FLOP budgets (dim ``compute``)."""
        return derived.optimal_allocation(self.law, self.params, compute)

    def optimal_for_params(self, n_params: float | Iterable[float]) -> xr.Dataset:
        """Budget, tokens and loss that make a model size compute-optimal (dim ``n_params``)."""
        return derived.optimal_for_params(self.law, self.params, n_params)

    def compute_for_loss(self, target_loss: float | Iterable[float]) -> xr.Dataset:
        """Compute (and N, D) needed to reach a target loss on the optimal path (dim ``target_loss``)."""
        return derived.compute_for_loss(self.law, self.params, target_loss)

    def named_model_losses(self, models: Mapping[str, tuple[float, float]] | None = None) -> xr.DataArray:
        """Predicted loss of named models (default: Chinchilla, Gopher, GPT-3)."""
        return derived.named_model_losses(self.law, self.params, models or NAMED_MODELS)

    @property
    def units(self) -> dict[str, str]:
        """The unit of each quantity the fit reads and returns (the runs were converted to these when loaded)."""
        return {"loss": LOSS_UNIT, **{name: INPUTS[name].unit for name in self.law.inputs}}

    def summary(self, level: float = DEFAULT_LEVEL) -> pd.DataFrame:
        """One row per parameter (the law's, then the noise's): median and central ``level`` credible interval,
        R-hat, bulk and tail ESS, and how much the runs narrowed the prior (posterior/prior sd, log scale; over 0.3
        is weakly identified). ``attrs`` hold the verdict, divergences and level."""
        diagnostics = self.diagnostics
        rows = []
        for name in diagnostics.rhat:
            stats = derived.interval(self.posterior[name], level)
            rows.append({"parameter": name, "median": float(stats["median"]), "lower": float(stats["lower"]),
                         "upper": float(stats["upper"]), "r_hat": diagnostics.rhat[name],
                         "ess_bulk": diagnostics.ess_bulk[name], "ess_tail": diagnostics.ess_tail[name],
                         "prior_sd_ratio": self.identification.get(name, np.nan)})
        frame = pd.DataFrame(rows).set_index("parameter")
        frame.attrs.update(level=level, verdict=diagnostics.verdict(), divergences=diagnostics.divergences,
                           converged=self.converged, equation=self.law.equation)
        return frame

    def predictive(self, *, discrepancy: bool = True, noise: bool = True, seed: int = 0,
                   **inputs: Any) -> xr.DataArray:
        r"""Posterior predictive draws of loss at points given by two of ``n_params``, ``n_tokens``, ``compute``
        (equal-length sequences, paired along ``point``), dims ``chain, draw, point``:

        .. math:: \log L = \log L_{law}(x; \theta) + \delta(x) + \varepsilon

        per posterior draw θ, with ``discrepancy`` the discrepancy GP and the extrapolation slope beyond the data
        (:mod:`bayes_scaling.uncertainty`) drawn jointly over the points, with ``noise`` a run's noise ε from the
        fitted likelihood. All three give the interval a new run should fall in; without noise, the expected loss.
        Seeded: the same ``seed`` gives the same draws."""
        given = {name: np.atleast_1d(np.asarray(value, dtype=float)) for name, value in inputs.items()
                 if value is not None}
        try:
            given = dict(zip(given, np.broadcast_arrays(*given.values()), strict=True))
        except ValueError:
            raise ValueError(f"inputs must have equal lengths, got { {k: v.size for k, v in given.items()} }") from None
        points = self.law.complete_inputs(**given)
        rng = np.random.default_rng(seed)
        log_loss = self.law.log_loss(self.draws(self.law.parameters), points)
        if discrepancy:
            log_loss = log_loss + self.discrepancy_draws(rng, joint=True, **points)
        if noise:
            likelihood = get_likelihood(str(self.tree.attrs["likelihood"]))
            parameters = {name: values[:, None] for name, values in self.draws(likelihood.parameters).items()}
            log_loss = likelihood.sample(rng, log_loss, **parameters)
        sizes = self.posterior.sizes
        shaped = np.exp(log_loss).reshape(sizes["chain"], sizes["draw"], -1)
        includes = ["law"] + (["discrepancy and extrapolation"] if discrepancy else []) + (["noise"] if noise else [])
        return xr.DataArray(
            shaped, dims=("chain", "draw", "point"), name="loss",
            coords={"chain": self.posterior["chain"].values, "draw": self.posterior["draw"].values,
                    **{name: ("point", values) for name, values in points.items()}},
            attrs={"units": LOSS_UNIT, "includes": ", ".join(includes),
                   "decades_beyond_data": float(np.max(beyond(points, self.discrepancy.drift_from)))
                   if np.isfinite(self.discrepancy.drift_from) else 0.0})

    def save(self, path: str | Path) -> Path:
        """Write the fit to ``path`` (a ``.nc`` file, or a folder that gets ``posterior.nc``), atomically, with its
        checksum; :func:`load` reads it back with the same numbers."""
        path = Path(path)
        if path.suffix != ".nc":
            path.mkdir(parents=True, exist_ok=True)
            path = path / POSTERIOR_FILE
        written = save_tree(self.tree, path)
        self.path = written
        return written

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}: {self.law.equation}; {self.diagnostics.verdict()}>"


def load(path: str | Path) -> FitResult:
    """Load a fit from ``posterior.nc`` or the folder holding it."""
    return FitResult(load_tree(path), path)
