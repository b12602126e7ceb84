"""Figures of the comparison page: allocation under each analysis against the papers' lines, and Porian's ladder."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from bayes_scaling.analysis.planning import summary
from bayes_scaling.laws import get_law
from bayes_scaling.report.figures import BAND
from bayes_scaling.result import FitResult
from bayes_scaling.study import published

PALETTE = ("#6c3483", "#1f5fa8", "#b5651d", "#2a9d8f", "#c0392b")
PUBLISHED_STYLE = {"Kaplan et al. 2020 (Table 6)": ("#6c3483", ":"),
                   "Hoffmann approach 3": ("#d1495b", "--"),
                   "Epoch AI refit": ("#2a9d8f", "--")}


def _published_lines(compute: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    chinchilla = get_law("chinchilla")
    return {
        "Kaplan et al. 2020 (Table 6)": published.kaplan_allocation(compute),
        "Hoffmann approach 3": chinchilla.optimal_allocation(compute, **published.HOFFMANN_APPROACH3),
        "Epoch AI refit": chinchilla.optimal_allocation(compute, **published.EPOCH_ESTIMATE),
    }


def allocation_comparison_figure(analyses: dict[str, FitResult],
                                 compute_range: tuple[float, float] = (1e18, 1e26)) -> Figure:
    """N_opt(C), D_opt(C) and tokens per parameter with 90% bands for each ``{label: fit}``, against Kaplan's
    line, Hoffmann's approach 3 and approach 1 (Table 3), and Epoch AI's refit."""
    compute = np.geomspace(*compute_range, 41)
    fig, axes = plt.subplots(1, 3, figsize=(13, 5.2), dpi=100)
    keys = (("n_params", "N_opt (parameters)"), ("n_tokens", "D_opt (tokens)"), ("ratio", "tokens per parameter"))
    for (label, fit), colour in zip(analyses.items(), PALETTE, strict=False):
        alloc = fit.optimal_allocation(compute)
        values = {"n_params": alloc["n_params"], "n_tokens": alloc["n_tokens"],
                  "ratio": alloc["n_tokens"] / alloc["n_params"]}
        for ax, (key, _) in zip(axes, keys, strict=True):
            low, mid, high = (values[key].quantile(q, dim=["chain", "draw"]).values for q in (BAND[0], 0.5, BAND[1]))
            ax.fill_between(compute, low, high, color=colour, alpha=0.25, lw=0)
            ax.plot(compute, mid, color=colour, lw=2, label=label + ("" if fit.converged else " (NOT CONVERGED)"))
    for name, lines in _published_lines(compute).items():
        colour, style = PUBLISHED_STYLE[name]
        lines = {**lines, "ratio": lines["n_tokens"] / lines["n_params"]}
        for ax, (key, _) in zip(axes, keys, strict=True):
            ax.plot(compute, lines[key], color=colour, ls=style, lw=1.2, label=name)
    table3 = [(c, n, d) for n, (c, d) in published.HOFFMANN_TABLE3.items() if compute_range[0] <= c <= compute_range[1]]
    c3, n3, d3 = (np.array(v) for v in zip(*table3, strict=True))
    for ax, y in zip(axes, (n3, d3, d3 / n3), strict=True):
        ax.scatter(c3, y, marker="s", s=18, color="#e09f3e", zorder=3, label="Hoffmann approach 1 (Table 3)")
    for ax, (_, ylabel) in zip(axes, keys, strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("compute C (FLOP)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)
        ax.axvline(published.GOPHER_BUDGET, color="0.5", lw=0.8, ls="-.")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=3, frameon=False)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    return fig


def ladder_figure(ladder: dict[str, list[tuple[str, FitResult | None, float | None]]], level: float = 0.9) -> Figure:
    """a for each rung of Porian's ladder with its ``level`` interval, per dataset ``{dataset: [(step, fit or None,
    Porian's a or None)]}``, with Porian's own a (crosses), Kaplan's 0.73 and Hoffmann's approach-2 interval."""
    fig, ax = plt.subplots(figsize=(8.5, 4.2), dpi=100)
    offsets = np.linspace(-0.12, 0.12, max(len(ladder), 1))
    steps: list[str] = []
    for (dataset, rungs), offset, colour in zip(ladder.items(), offsets, ("#1f5fa8", "#2a9d8f"), strict=False):
        for i, (step, fit, porian_a) in enumerate(rungs):
            if step not in steps:
                steps.append(step)
            x = steps.index(step) + offset
            if fit is not None:
                s = summary(fit.exponents()["a"], level)
                ax.errorbar([x], [s["median"]], yerr=[[s["median"] - s["lower"]], [s["upper"] - s["median"]]],
                            fmt="o", color=colour, capsize=3, label=f"{dataset}: this package ({level:.0%})"
                            if i == 0 else None, mfc="white" if not fit.converged else colour)
            if porian_a is not None:
                ax.scatter([x + 0.05], [porian_a], marker="x", color=colour, s=30,
                           label=f"{dataset}: Porian et al.'s fit" if i == 0 else None)
    ax.axhline(0.73, color="#6c3483", ls=":", lw=1.2, label="Kaplan et al. 2020: 0.73")
    low, high = published.HOFFMANN_TABLE2["Approach 2 (IsoFLOP profiles)"]["a"][1:]
    ax.axhspan(low, high, color="#d1495b", alpha=0.12, lw=0, label="Hoffmann approach 2 interval")
    ax.set_xticks(range(len(steps)), steps)
    ax.set_xlabel("Porian et al.'s configuration, from Kaplan-like (left) to Chinchilla-like (right)")
    ax.set_ylabel("a (N_opt ∝ C^a)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper right")
    fig.tight_layout()
    return fig
