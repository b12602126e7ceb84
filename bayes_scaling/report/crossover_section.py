"""The L* crossover section of a frontier fit's page: Kaplan's Figure 15 with posterior bands, and the table of C*,
N*, D*, L* beside Kaplan's values."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from markupsafe import Markup
from matplotlib.figure import Figure

from bayes_scaling.data.runs import PF_DAY
from bayes_scaling.report.figures import BAND
from bayes_scaling.report.html import Cell, figure_html, render, table_html
from bayes_scaling.result import FitResult
from bayes_scaling.study.crossover import (
    KAPLAN_PUBLISHED,
    KAPLAN_STATED,
    data_limited_loss,
    fits_crossover,
    frontier_loss,
    published_crossover,
    summarise,
)
from bayes_scaling.util.numbers import fmt

MAX_POINTS = 400
COLOURS = {"frontier": "#1f5fa8", "data": "#c0392b", "kaplan": "0.35", "star": "#6c3483"}


def _line_band(ax, x_pf, values, colour, label):
    low, mid, high = np.nanquantile(values, [BAND[0], 0.5, BAND[1]], axis=0)
    ax.fill_between(x_pf, low, high, color=colour, alpha=0.25, lw=0)
    ax.plot(x_pf, mid, color=colour, lw=2, label=label)


def crossover_figure(crossover: xr.Dataset, budgets_flop: np.ndarray, seed: int = 0) -> Figure:
    """Kaplan's Figure 15 with bands: the frontier L(C_min) and the data-limited loss L(D(C_min)) against compute
    (PF-days), each with its 90% band from the paired draws; the intersection's draws; Kaplan's published lines."""
    crosses = crossover["kaplan_direction"].values
    stars = crossover["compute_pf_days"].values[crosses]
    # the axis ends a decade and a half past the median crossover (or Kaplan's), not at the draws' far tail: a
    # weakly identified crossover's 95th percentile can sit 20 decades out and squash everything else
    top = max(np.median(stars) if stars.size else 1.0, KAPLAN_STATED["compute_pf_days"]) * 30
    x_pf = np.geomspace(budgets_flop.min() / PF_DAY / 10, min(top, 1e40), 200)
    beyond_plot = float(np.mean(stars > x_pf[-1])) if stars.size else 0.0
    params = {k: crossover[k].values[:, None] for k in ("alpha_C", "C_c", "E", "alpha_D", "D_c", "D_e", "p_D")}
    x_flop = x_pf[None, :] * PF_DAY
    fig, ax = plt.subplots(figsize=(8.5, 4.6), dpi=110)
    _line_band(ax, x_pf, frontier_loss(x_flop, **params), COLOURS["frontier"], "frontier L(C_min), this fit")
    _line_band(ax, x_pf, data_limited_loss(x_flop, **params), COLOURS["data"],
               "data-limited L(D(C_min)), this fit")
    ax.plot(x_pf, frontier_loss(x_pf, **KAPLAN_PUBLISHED), color=COLOURS["frontier"], ls="--", lw=1.2,
            label="Kaplan et al. 2020 (Tables 5, 6), both lines")
    ax.plot(x_pf, data_limited_loss(x_pf, **KAPLAN_PUBLISHED), color=COLOURS["data"], ls="--", lw=1.2)
    if stars.size:
        rng = np.random.default_rng(seed)
        keep = rng.permutation(stars.size)[:MAX_POINTS]
        shown = keep[stars[keep] <= x_pf[-1]]
        ax.scatter(stars[shown], crossover["loss"].values[crosses][shown], s=6, color=COLOURS["star"], alpha=0.35,
                   lw=0, label="(C*, L*) per posterior draw"
                   + (f" ({beyond_plot:.0%} of them beyond the plotted range)" if beyond_plot >= 0.005 else ""))
    published = published_crossover()
    ax.scatter([published["compute_pf_days"]], [published["loss"]], marker="*", s=140, color="k", zorder=4,
               label="Kaplan's values -> (C*, L*)")
    ax.axvspan(budgets_flop.min() / PF_DAY, budgets_flop.max() / PF_DAY, color="0.85", alpha=0.6, lw=0,
               label="budgets in the data")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_pf[0], x_pf[-1])
    ax.set_xlabel("compute C_min (PF-days)")
    ax.set_ylabel("loss (nats / token)")
    ax.set_title("Kaplan's crossover (cf. their Figure 15): where the frontier meets the data-limited loss")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7.5, loc="lower left")
    fig.tight_layout()
    return fig


def crossover_section(frontier: FitResult, data_fit: FitResult) -> tuple[str, str, Markup]:
    """``(anchor, label, html)`` of the crossover section for a frontier fit and its data-limited companion."""
    crossover = fits_crossover(frontier, data_fit)
    result = summarise(crossover)
    published = published_crossover()
    rows = []
    for key, label, unit in (("compute_pf_days", "C*", "PF-days"), ("compute", "C*", "FLOP"),
                             ("n_params", "N*", "parameters"), ("n_tokens", "D*", "tokens"),
                             ("loss", "L*", "nats / token")):
        q = result[key]
        stated = KAPLAN_STATED.get(key)
        rows.append([f"{label} ({unit})", fmt(q["q50"], 3), f"[{fmt(q['q05'], 3)}, {fmt(q['q95'], 3)}]",
                     fmt(published[key], 3), "–" if stated is None else fmt(stated, 2)])
    table = table_html(["quantity", "median", "90% interval", "formula on Kaplan's values", "Kaplan's statement"],
                       rows)
    companion = Cell(data_fit.name, href=f"../{data_fit.path.name}/index.html") if data_fit.path is not None \
        else data_fit.name
    budgets = frontier.runs["compute"].values
    figure = figure_html(crossover_figure(crossover, budgets, seed=int(frontier.tree.attrs['seed'])),
                         "The frontier L(C_min) (blue) and the data-limited loss along the compute-efficient path "
                         "L(D(C_min)) (red), medians with 90% bands from paired posterior draws; dots are the "
                         "intersection (C*, L*) of individual draws; dashed lines and the star are Kaplan et al.'s "
                         "published laws and their intersection. Porian's runs use another dataset and tokenizer "
                         "than Kaplan's, so the scales differ.",
                         "frontier and data-limited loss against compute with their intersection")
    html = render("sections/crossover.html.j2", converged=frontier.converged and data_fit.converged,
                  companion=companion, p_direction=result["probability_kaplan_direction"],
                  p_beyond=result.get("probability_beyond_data", float("nan")), table=table, figure=figure)
    return "crossover", "L* crossover", html
