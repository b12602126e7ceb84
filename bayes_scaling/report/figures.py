"""Figures of a fit, each a function returning a matplotlib Figure (Agg backend, no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from bayes_scaling.analysis.choice_cost import excess_loss
from bayes_scaling.analysis.discrepancy_allocation import allocation_with_discrepancy
from bayes_scaling.data.budgets import budget_groups, budget_index
from bayes_scaling.laws import LawNotApplicable
from bayes_scaling.laws.inputs import COMPUTE_INPUTS, INPUTS
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.result import FitResult
from bayes_scaling.sampling.model import OBSERVED
from bayes_scaling.study.references import Reference, declared
from bayes_scaling.util.defaults import DEFAULT_TOLERANCE

BAND = (0.05, 0.95)
COLOURS = {"posterior": "#1f5fa8", "hoffmann": "#d1495b", "epoch": "#2a9d8f", "approach1": "#e09f3e",
           "kaplan": "#6c3483"}
#: Colour of each published reference's marks (others grey).
REFERENCE_COLOURS = {"hoffmann-2022": COLOURS["hoffmann"], "epoch-2024": COLOURS["epoch"],
                     "kaplan-2020": COLOURS["kaplan"], "hoffmann-2022-isoflop": "#7b2cbf"}
MAX_CURVE_DRAWS = 1000


def references_of(fit: FitResult) -> list[Reference]:
    """The published references the fit's analysis declared (``[analysis] references``), none by default."""
    spec = fit.attr_json("spec") if "spec" in fit.tree.attrs else {}
    return declared(spec.get("references") or ())


def law_label(fit: FitResult) -> str:
    """The law's registry name where the analysis declares published references, else its equation (a page about a
    user's runs names no paper)."""
    return fit.law.name if references_of(fit) else fit.law.equation


def _style(ax, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11, loc="left")
    ax.grid(True, which="major", alpha=0.3)


def _thin(params: dict[str, xr.DataArray], most: int = MAX_CURVE_DRAWS) -> dict[str, xr.DataArray]:
    """Every k-th draw so curves use at most ``most`` draws (deterministic, no randomness)."""
    stacked = {k: v.stack(sample=("chain", "draw")) for k, v in params.items()}
    n = next(iter(stacked.values())).sizes["sample"]
    step = max(1, n // most)
    return {k: v.isel(sample=slice(None, None, step)) for k, v in stacked.items()}


def _band(values: xr.DataArray, dim: str = "sample") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q = values.quantile([BAND[0], 0.5, BAND[1]], dim=dim)
    return q.isel(quantile=0).values, q.isel(quantile=1).values, q.isel(quantile=2).values


def _noise_params(fit: FitResult) -> dict[str, np.ndarray]:
    """Noise parameters of the thinned draws, shaped (sample, 1) to broadcast over a grid."""
    likelihood = get_likelihood(fit.tree.attrs["likelihood"])
    post = _thin({name: fit.posterior[name] for name in likelihood.parameters})
    return {name: value.values[:, None] for name, value in post.items()}


def isoflop_slices(fit: FitResult, seed: int = 0) -> Figure | None:
    """Loss against N for each group of runs sharing a budget, with the law's 90% credible band (dark) and
    90% posterior predictive band (light) along the IsoFLOP curve D = C / (6N)."""
    runs = fit.runs
    if "n_params" not in fit.law.inputs or not set(fit.law.inputs) <= set(COMPUTE_INPUTS):
        return None  # a law with an input C = 6 N D does not set (steps, unique tokens) has no IsoFLOP line
    groups = budget_index(runs.to_dataframe()) if "budget" in runs else budget_groups(runs["compute"].values)
    if not groups:
        return None
    params = _thin(fit.params)
    likelihood = get_likelihood(fit.tree.attrs["likelihood"])
    noise = _noise_params(fit)
    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    cmap = plt.get_cmap("viridis")
    n_all = runs["n_params"].values
    for i, group in enumerate(groups):
        colour = cmap(i / max(1, len(groups) - 1))
        members = runs.isel(run=group.index)
        lo, hi = members["n_params"].min().item() / 1.6, members["n_params"].max().item() * 1.6
        grid = xr.DataArray(np.geomspace(max(lo, n_all.min() / 3), hi, 60), dims="n")
        loss = fit.law.loss_at(n_params=grid, n_tokens=group.compute / (6.0 * grid), **params)
        loss = loss.transpose("sample", "n")
        low, mid, high = _band(loss)
        with np.errstate(over="ignore"):  # heavy-tailed (small nu) predictive draws may overflow; quantiles are fine
            sampled = np.exp(likelihood.sample(rng, np.log(loss.values), **noise))
        p_low, p_high = np.quantile(sampled, BAND, axis=0)
        ax.fill_between(grid.values, p_low, p_high, color=colour, alpha=0.12, lw=0)
        ax.fill_between(grid.values, low, high, color=colour, alpha=0.35, lw=0)
        ax.plot(grid.values, mid, color=colour, lw=1.5, label=f"C ≈ {group.compute:.1e}")
        ax.scatter(members["n_params"], members["loss"], color=colour, s=16, edgecolor="k", linewidth=0.3, zorder=3)
    ax.set_xscale("log")
    _style(ax, "parameters N", "final loss (nats/token)",
           "IsoFLOP slices: runs at one budget, law median with 90% credible (dark) and predictive (light) bands")
    ax.legend(fontsize=8, ncol=2, title="FLOP budget", title_fontsize=8)
    fig.tight_layout()
    return fig


def other_input(fit: FitResult) -> str | None:
    """The input besides ``n_params`` of a two-input law whose other input C = 6 N D does not set (steps), else
    None: such a law's runs are drawn against that input, one curve per model size (:func:`size_curves`)."""
    others = [name for name in fit.law.inputs if name != "n_params"]
    if "n_params" not in fit.law.inputs or len(others) != 1 or others[0] in COMPUTE_INPUTS:
        return None
    return others[0]


def size_curves(fit: FitResult, seed: int = 0) -> Figure | None:
    """Loss against the law's other input (:func:`other_input`, e.g. steps S) for each model size, with the law's
    90% credible band (dark) and 90% posterior predictive band (light) at that size."""
    other = other_input(fit)
    if other is None:
        return None
    runs = fit.runs
    sizes = np.unique(runs["n_params"].values)
    params = _thin(fit.params)
    likelihood = get_likelihood(fit.tree.attrs["likelihood"])
    noise = _noise_params(fit)
    rng = np.random.default_rng(seed)
    values = runs[other].values
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    cmap = plt.get_cmap("viridis")
    for i, size in enumerate(sizes):
        colour = cmap(i / max(1, len(sizes) - 1))
        members = runs["n_params"].values == size
        grid = xr.DataArray(np.geomspace(values[members].min() / 1.6, values[members].max() * 1.6, 40), dims="x")
        loss = fit.law.loss_at(n_params=size, **{other: grid}, **params).transpose("sample", "x")
        low, mid, high = _band(loss)
        with np.errstate(over="ignore"):
            sampled = np.exp(likelihood.sample(rng, np.log(loss.values), **noise))
        p_low, p_high = np.quantile(sampled, BAND, axis=0)
        ax.fill_between(grid.values, p_low, p_high, color=colour, alpha=0.10, lw=0)
        ax.fill_between(grid.values, low, high, color=colour, alpha=0.35, lw=0)
        ax.plot(grid.values, mid, color=colour, lw=1.3, label=f"N = {size:.3g}")
        ax.scatter(values[members], runs["loss"].values[members], color=colour, s=16, edgecolor="k",
                   linewidth=0.3, zorder=3)
    item = INPUTS[other]
    ax.set_xscale("log")
    ax.set_yscale("log")
    _style(ax, f"{item.description} {item.symbol} ({item.unit})", "final loss (nats/token)",
           f"Loss against {item.symbol} per model size, with 90% bands")
    ax.legend(fontsize=7, ncol=2, title="model size", title_fontsize=8)
    fig.tight_layout()
    return fig


def predictive_check(fit: FitResult) -> tuple[Figure, float]:
    """Observed loss of each run against its posterior predictive median with the 90% interval; returns the
    figure and the fraction of runs inside their 90% interval."""
    log_pp = fit.tree["posterior_predictive"][OBSERVED]  # quantiles of log loss, then exp: heavy tails cannot overflow
    low, mid, high = (np.exp(log_pp.quantile(q, dim=["chain", "draw"]).values) for q in (BAND[0], 0.5, BAND[1]))
    observed = fit.runs["loss"].values
    inside = float(np.mean((observed >= low) & (observed <= high)))
    fig, ax = plt.subplots(figsize=(6.5, 5), dpi=110)
    colour = np.log10(fit.runs["compute"].values)
    ax.vlines(mid, low, high, color="0.6", lw=0.8, zorder=1)
    points = ax.scatter(mid, observed, c=colour, cmap="viridis", s=14, edgecolor="k", linewidth=0.2, zorder=2)
    edges = [min(low.min(), observed.min()), max(high.max(), observed.max())]
    ax.plot(edges, edges, color="k", lw=0.8, ls="--")
    fig.colorbar(points, ax=ax, label="log10 compute (FLOP)")
    _style(ax, "posterior predictive median loss", "observed loss",
           f"Posterior predictive check: {inside:.0%} of runs inside their 90% interval")
    fig.tight_layout()
    return fig, inside


def allocation(fit: FitResult, compute_range: tuple[float, float] = (1e18, 1e26)) -> Figure | None:
    """N_opt(C) and D_opt(C) with 90% bands (and, for a law of N and D, the band allowing for its discrepancy),
    against Hoffmann's approach 3, approach 1 (Table 3) and Epoch's fit (Chinchilla's law) or Kaplan's Table 6 line
    (other laws); the range reaches down to the smallest run."""
    compute_range = (min(compute_range[0], float(fit.runs["compute"].min())), compute_range[1])
    try:
        alloc = fit.optimal_allocation(np.geomspace(*compute_range, 41))
    except NotImplementedError:
        return None
    budgets = alloc["compute"].values
    try:  # every other budget: the discrepancy's profiles cost more than the law's closed form
        with_gp = allocation_with_discrepancy(fit, budgets[::2])
    except NotImplementedError:
        with_gp = None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.3), dpi=110)
    declared_refs = references_of(fit)
    lines = {f"{ref.short} (published fit)": (ref.parameters_for(fit.law), REFERENCE_COLOURS.get(ref.key, "0.4"))
             for ref in declared_refs if ref.parameters_for(fit.law)}
    for ax, key, label in zip(axes, ("n_params", "n_tokens"), ("N_opt (parameters)", "D_opt (tokens)"), strict=True):
        low, mid, high = (alloc[key].quantile(q, dim=["chain", "draw"]).values for q in (BAND[0], 0.5, BAND[1]))
        ax.fill_between(budgets, low, high, color=COLOURS["posterior"], alpha=0.3, lw=0, label="this fit, 90% band")
        ax.plot(budgets, mid, color=COLOURS["posterior"], lw=2, label="this fit, median")
        if with_gp is not None:
            gp_low, gp_high = (with_gp[key].quantile(q, dim=["chain", "draw"], skipna=True).values for q in BAND)
            ax.plot(with_gp["compute"].values, gp_low, color=COLOURS["posterior"], lw=1, ls=":")
            ax.plot(with_gp["compute"].values, gp_high, color=COLOURS["posterior"], lw=1, ls=":",
                    label="90% band allowing for the discrepancy")
        for name, (values, colour) in lines.items():
            point = fit.law.optimal_allocation(budgets, **values)[key]
            ax.plot(budgets, point, color=colour, lw=1.3, ls="--", label=name)
        for ref in declared_refs:
            if ref.allocation_line is not None:
                ax.plot(budgets, ref.allocation_line(budgets)[key], color=REFERENCE_COLOURS.get(ref.key, "0.4"),
                        lw=1.3, ls="--", label=f"{ref.short} (published allocation)")
            keep = [(c, n if key == "n_params" else d) for c, n, d in ref.allocation_points
                    if compute_range[0] <= c <= compute_range[1]]
            if keep:
                ax.scatter(*zip(*keep, strict=True), color=COLOURS["approach1"], marker="s", s=22, zorder=3,
                           label=f"{ref.short}: compute-optimal points")
        observed_c = fit.runs["compute"].values
        ax.axvspan(observed_c.min(), observed_c.max(), color="0.85", alpha=0.5, lw=0, label="compute range of runs")
        ax.set_xscale("log")
        ax.set_yscale("log")
        _style(ax, "compute C (FLOP)", label, f"Compute-optimal {label.split()[0]}")
    axes[0].legend(fontsize=7.5, loc="upper left")
    fig.tight_layout()
    return fig


def parameter_posteriors(fit: FitResult) -> Figure:
    """Histogram of each law parameter's posterior, with Hoffmann's and Epoch's values where they apply."""
    names = list(fit.law.parameters)
    fig, axes = plt.subplots(1, len(names), figsize=(2.4 * len(names), 2.8), dpi=110)
    for ax, name in zip(np.atleast_1d(axes), names, strict=True):
        values = fit.posterior[name].values.ravel()
        shown = False
        ax.hist(values, bins=50, color=COLOURS["posterior"], alpha=0.7, density=True, histtype="stepfilled")
        low, high = np.quantile(values, [0.001, 0.999])
        for ref in references_of(fit):
            colour = REFERENCE_COLOURS.get(ref.key, "0.4")
            if name in ref.intervals_for(fit.law):
                ax.axvspan(*ref.intervals_for(fit.law)[name], color=colour, alpha=0.15, lw=0,
                           label=f"{ref.short} 95% interval")
            value = ref.parameters_for(fit.law).get(name)
            if value is not None and low - (high - low) <= value <= high + (high - low):
                ax.axvline(value, color=colour, lw=1.5, ls="--", label=ref.short)
                shown = shown or ax is np.atleast_1d(axes)[0]
        if shown:  # one legend, on the first panel: the marks are the same in every panel
            ax.legend(fontsize=6.5, loc="upper left")
        ax.set_title(name, fontsize=11)
        ax.set_yticks([])
        ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return fig


def exponent_posterior(fit: FitResult) -> Figure | None:
    """Forest plot of the allocation exponent a = beta/(alpha+beta): this fit's 50% and 90% intervals against
    Hoffmann's Table 2 intervals, Epoch AI's estimate (±1.96 SE) and Kaplan's 0.73."""
    try:
        a = fit.exponents()["a"].values.ravel()
    except NotImplementedError:
        return None
    rows = [("this fit (posterior)", float(np.median(a)), *np.quantile(a, [0.05, 0.95]), COLOURS["posterior"])]
    for ref in references_of(fit):
        for label, (centre, low, high), _ in ref.exponents:
            rows.append((label, centre, low, high, REFERENCE_COLOURS.get(ref.key, "0.4")))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2), dpi=110)
    for y, (_, centre, low, high, colour) in enumerate(reversed(rows)):
        if low is not None:
            ax.plot([low, high], [y, y], color=colour, lw=2.5, solid_capstyle="butt")
        ax.plot([centre], [y], "o", color=colour, ms=6)
    q25, q75 = np.quantile(a, [0.25, 0.75])
    ax.plot([q25, q75], [len(rows) - 1] * 2, color=COLOURS["posterior"], lw=6, solid_capstyle="butt")
    ax.set_yticks(range(len(rows)), [r[0] for r in reversed(rows)], fontsize=8)
    _style(ax, "a in N_opt ∝ C^a", "", "Allocation exponent a = β / (α + β): medians with intervals")
    ax.grid(True, axis="y", alpha=0.0)
    fig.tight_layout()
    return fig


def excess_loss_curves(fit: FitResult, budgets: list[float], tolerance: float = DEFAULT_TOLERANCE) -> Figure | None:
    """The excess loss of each model size over the best one at each budget (percent of the best loss; median and
    90% band over draws of the whole predictive, :mod:`~bayes_scaling.analysis.choice_cost`), with the tolerance
    of the near-optimal range; None for a law without an IsoFLOP line."""
    try:
        curves = [excess_loss(fit, budget) for budget in budgets]
    except (LawNotApplicable, NotImplementedError):
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    colours = plt.get_cmap("viridis")(np.linspace(0.1, 0.8, len(curves)))
    for found, colour in zip(curves, colours, strict=True):
        n = found["n_params"].values
        low, mid, high = (100 * found["relative"].quantile(q, dim=["chain", "draw"]).values
                          for q in (BAND[0], 0.5, BAND[1]))
        ax.fill_between(n, low, high, color=colour, alpha=0.2, lw=0)
        ax.plot(n, mid, color=colour, lw=2, label=f"C = {found.attrs['compute']:.3g} FLOP")
    ax.axhline(100 * tolerance, color="0.3", lw=1, ls="--", label=f"tolerance {100 * tolerance:g}%")
    ax.set_xscale("log")
    ax.set_ylim(0, max(5 * 100 * tolerance, 1.0))
    _style(ax, "model size N (parameters)", "excess loss over the best size (%)",
           "What a choice of model size costs at each budget")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
