"""The calibration section of a fit's page and its summary on the comparison page: extrapolation backtests
(coverage against the nominal level, Bayesian with and without the discrepancy term beside the bootstrap) and
simulation-based calibration (rank histograms and uniformity tests), from a spec's ``[calibration]`` results."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from markupsafe import Markup
from matplotlib.figure import Figure

from bayes_scaling.report.html import Cell, figure_html, render, table_html
from bayes_scaling.sampling.diagnostics import MAX_RHAT
from bayes_scaling.validation.holdout import HONEST_MASS, LEVELS, honest_range, is_honest, is_scored, optimum_text
from bayes_scaling.validation.sbc import ECDF_BAND, rank_ecdf

#: How each backtest method is named on the page, and its colour.
METHODS = {"bayes": ("Bayesian: law alone", "#8da9c4"),
           "bayes+gp": ("Bayesian: law + GP (no extrapolation slope)", "#5b84b1"),
           "bayes+discrepancy": ("Bayesian: law + discrepancy (GP and extrapolation slope)", "#1f5fa8"),
           "bootstrap": ("bootstrap (Huber point fits of resampled runs)", "#d1495b")}
#: Level of the uniformity test and of the band drawn on rank histograms.
SBC_ALPHA = 0.01


def honest_range_text(n_runs: int) -> str:
    low, high = honest_range(n_runs)
    return f"{low:.0%} to {high:.0%} on {n_runs} runs"


def _coverage_figure(rows: list[dict[str, Any]]) -> Figure:
    fractions = sorted({row["fraction"] for row in rows})
    fig, axes = plt.subplots(1, len(fractions), figsize=(3.3 * len(fractions), 3.2), sharey=True, squeeze=False)
    for ax, fraction in zip(axes[0], fractions, strict=True):
        ax.plot([0.45, 1.0], [0.45, 1.0], color="0.6", lw=1, ls="--", label="nominal")
        for row in (r for r in rows if r["fraction"] == fraction):
            label, colour = METHODS.get(row["method"], (row["method"], "0.3"))
            ax.plot(LEVELS, [row["coverage"][str(level)] for level in LEVELS], "o-", color=colour, label=label)
        ax.set_title(f"top {fraction:.0%} of compute held out", fontsize=10, loc="left")
        ax.set_xlabel("nominal level of the interval")
        ax.grid(True, alpha=0.3)
        ax.set_xlim(0.45, 1.0)
        ax.set_ylim(0.0, 1.02)
    axes[0][0].set_ylabel("held-out runs covered")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))  # the legend below the panels, off the curves
    return fig


def _ecdf_of(sbc: dict[str, Any], name: str) -> dict[str, Any]:
    """The PIT-ECDF of a parameter's ranks with its band: stored with the result, or computed now for results
    written before it was."""
    stored = sbc.get("ecdf", {}).get(name)
    return stored if stored is not None else rank_ecdf(sbc["ranks"][name], rank_draws=sbc["rank_draws"])


def _rank_figure(sbc: dict[str, Any]) -> Figure:
    """One panel per parameter: the PIT-ECDF of its ranks minus the uniform CDF, inside ArviZ's simultaneous band."""
    names = list(sbc["ranks"])
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.1 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        found = _ecdf_of(sbc, name)
        x = np.asarray(found["x"])
        ax.fill_between(x, np.asarray(found["lower"]) - x, np.asarray(found["upper"]) - x, color="0.88", step="post")
        ax.step(x, np.asarray(found["ecdf"]) - x, where="post", color="#1f5fa8" if found["inside"] else "#b42318")
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.set_title(f"{name}  ({'inside' if found['inside'] else 'OUTSIDE'} the band)", fontsize=9, loc="left")
        ax.set_xticks([0, 0.5, 1])
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def _backtest_rows(rows: list[dict[str, Any]]) -> list[list]:
    out = []
    for row in rows:
        label = METHODS.get(row["method"], (row["method"],))[0]
        runs = f"{row['n_runs']} ({row['n_budgets']} budgets)" if "n_budgets" in row else row["n_runs"]
        if not is_scored(row):
            out.append([f"{row['fraction']:.0%}", label + " (NOT CONVERGED)", runs,
                        *(["not scored"] * len(LEVELS)), "–", "–", "–", "–"])
            continue
        out.append([f"{row['fraction']:.0%}", label, runs,
                    *(f"{row['coverage'][str(level)]:.0%}" for level in LEVELS), f"{row['width']['0.9']:.3f}",
                    f"{row['crps']:.4f}", f"{row['log_score']:.2f}" if "log_score" in row else "–",
                    optimum_text(row)])
    return out


def _optimum_table(rows: list[dict[str, Any]]) -> str:
    """Each held-out IsoFLOP budget's empirical N_opt beside each method's 90% predictive interval of it."""
    budgets: dict[tuple[float, float], dict[str, str]] = {}
    for row in rows:
        for budget in (row.get("n_opt") or {}).get("rows", []):
            cell = f"[{budget['lower']:.3g}, {budget['upper']:.3g}]" + ("" if budget["covered"] else " missed")
            budgets.setdefault((row["fraction"], budget["compute"], budget["n_opt"]), {})[row["method"]] = cell
    if not budgets:
        return ""
    methods = [m for m in METHODS if any(m in cells for cells in budgets.values())]
    body = [[f"{fraction:.0%}", f"{compute:.3g}", f"{n_opt:.3g}", *(cells.get(m, "–") for m in methods)]
            for (fraction, compute, n_opt), cells in sorted(budgets.items())]
    return table_html(["held out", "budget (FLOP)", "empirical N_opt",
                       *(f"{METHODS[m][0]}: 90% interval" for m in methods)], body)


def coverage_sentence(rows: list[dict[str, Any]], fraction: float) -> str:
    """What the 90% intervals covered with ``fraction`` of the compute held out, by method, as prose."""
    found = {row["method"]: row for row in rows if abs(row["fraction"] - fraction) < 1e-9}
    if not found:
        return ""
    parts = [f"{METHODS.get(m, (m,))[0]} {row['coverage']['0.9']:.0%}" if is_scored(row)
             else f"{METHODS.get(m, (m,))[0]} not scored (refit not converged)" for m, row in found.items()]
    return f"with the top {fraction:.0%} of compute held out, the 90% intervals covered: {', '.join(parts)}"


def _sbc_context(sbc: dict[str, Any]) -> dict[str, Any]:
    return {"simulations": sbc["simulations"], "rank_draws": sbc["rank_draws"], "bins": sbc["bins"],
            "band": sbc.get("ecdf_band", ECDF_BAND), "skipped": sbc["skipped"], "unconverged": sbc["unconverged"],
            "fitted": sbc["simulations"] - sbc["skipped"], "extended": sbc.get("extended", 0),
            "failed": sbc.get("failed"), "max_rhat": MAX_RHAT,
            "sampler": (sbc["chains"], sbc["draws"], sbc["tune"]) if "chains" in sbc else None,
            "worst": min(sbc["p_values"].values()) if sbc["p_values"] else float("nan"),
            "rejected": [name for name in sbc["ranks"] if not _ecdf_of(sbc, name)["inside"]],
            "figure": figure_html(_rank_figure(sbc), "PIT-ECDF of the SBC ranks minus the uniform CDF, one panel per "
                                  "parameter, with the simultaneous band a uniform rank distribution stays inside.",
                                  "SBC rank PIT-ECDF differences")}


def calibration_section(result: dict[str, Any]) -> tuple[str, str, Markup]:
    """``(anchor, label, html)`` of a fit page's calibration section from :func:`~bayes_scaling.validation.calibration.
    calibrate_spec`'s result."""
    rows = result["backtest"]["rows"]
    figure = figure_html(_coverage_figure(rows), "Coverage of central predictive intervals of held-out log loss "
                         "against their nominal level.", "coverage against nominal level")
    table = table_html(["held out", "method", "held-out runs", *(f"{level:.0%} coverage" for level in LEVELS),
                        "90% width (log loss)", "CRPS (mean)", "log score (mean)",
                        "held-out N_opt in 90% interval"], _backtest_rows(rows))
    gp = [row for row in rows if row["method"] == "bayes+discrepancy" and is_scored(row)]
    honest = [row for row in gp if is_honest(row["coverage"]["0.9"], row["n_runs"])]
    html = render("sections/calibration.html.j2", replicates=result["backtest"]["replicates"], figure=figure,
                  table=table, optimum_table=_optimum_table(rows), honest=len(honest), cutoffs=len(gp),
                  honest_mass=HONEST_MASS, ranges=[honest_range_text(row["n_runs"]) for row in gp],
                  sbc=_sbc_context(result["sbc"]) if result.get("sbc") else None)
    return "calibration", "Calibration", html


def calibration_summary_section(calibrated: dict[str, tuple[str, dict[str, Any]]]) -> Markup:
    """The comparison page's summary: ``{analysis: (link to its page, result)}``."""
    if not calibrated:
        return Markup("")
    rows = []
    for name, (link, result) in calibrated.items():
        sbc = result.get("sbc")
        worst = min(sbc["p_values"].values()) if sbc else None
        cell = Cell(name, href=f"{link}#calibration")
        for fraction in sorted({row["fraction"] for row in result["backtest"]["rows"]}):
            found = {r["method"]: r for r in result["backtest"]["rows"] if abs(r["fraction"] - fraction) < 1e-9}
            rows.append([cell, f"{fraction:.0%}", *(("not scored" if not is_scored(found[m]) else
                                                      f"{found[m]['coverage']['0.9']:.0%}") if m in found else "–"
                                                     for m in METHODS),
                         optimum_text(found["bayes+discrepancy"]) if "bayes+discrepancy" in found else "–",
                         "–" if worst is None else f"{worst:.3f} ({sbc['simulations']} datasets)"])
    table = table_html(["analysis", "held out", *(f"90% coverage: {label}" for label, _ in METHODS.values()),
                        "held-out N_opt in 90%", "SBC: smallest p"], rows)
    return render("sections/calibration_summary.html.j2", table=table)
