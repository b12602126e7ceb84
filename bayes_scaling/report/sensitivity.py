"""The sensitivity section of a fit's page: the spec's ``[[sensitivity]]`` checks (the same analysis with another
data filter or likelihood) beside the fit itself, so a reader sees how far the headline numbers move."""

from __future__ import annotations

import numpy as np
from markupsafe import Markup

from bayes_scaling.analysis.planning import summary
from bayes_scaling.laws import LawNotApplicable
from bayes_scaling.report.html import Cell, render, table_html, verdict_cell
from bayes_scaling.result import FitResult
from bayes_scaling.util.defaults import DEFAULT_LEVEL
from bayes_scaling.util.numbers import fmt, interval_text
from bayes_scaling.validation.holdout import LEVELS, extrapolation_score, is_scored

#: Where a fit's checks are saved, inside its report folder.
SENSITIVITY_DIR = "sensitivity"
LEVEL = DEFAULT_LEVEL


def _headline(fit: FitResult) -> tuple[str, object]:
    """The quantity a check is judged by: the allocation exponent a where the law has one, else its first
    parameter."""
    try:
        return "a", fit.exponents()["a"]
    except LawNotApplicable:
        name = fit.law.parameters[0]
        return name, fit.posterior[name]


def _row(label: str, fit: FitResult, reference: float | None, link: str | None) -> list[object]:
    _, values = _headline(fit)
    s = summary(values, LEVEL)
    shift = "–" if reference is None or s["median"] is None else f"{s['median'] - reference:+.3f}"
    verdict = verdict_cell(fit.converged)
    name = Cell(label, href=f"{link}/index.html") if link else label
    filters = "; ".join(fit.attr_json("filters")) or "none"
    gp = "inside the model" if fit.discrepancy.fitted == "in_model" else "after sampling"
    if fit.budget_sd_draws is not None:
        gp += "; offset per budget"
    return [name, fit.tree.attrs["n_runs"], fit.tree.attrs["likelihood"], gp, filters, interval_text(s), shift,
            verdict]


def sensitivity_section(fit: FitResult, checks: list[tuple[str, FitResult]]) -> tuple[str, str, Markup]:
    """``(anchor, label, html)`` of the section for ``fit`` and its ``(label, fit)`` checks (whose pages live in
    ``sensitivity/SLUG/`` beside this one)."""
    name, values = _headline(fit)
    reference = float(np.median(values))
    rows = [_row("this analysis", fit, None, None)]
    for label, check in checks:
        link = f"{SENSITIVITY_DIR}/{check.path.name}" if check.path is not None else None
        rows.append(_row(label, check, reference, link))
    table = table_html(["check", "runs", "likelihood", "discrepancy", "filters", f"{name}: median [{LEVEL:.0%}]",
                        "shift of median", "diagnostics"], rows)
    spread = [summary(_headline(check)[1], LEVEL)["median"] for _, check in checks if check.converged]
    widest = width = None
    if spread:
        widest = fmt(max(abs(m - reference) for m in spread if m is not None), 2)
        interval = summary(values, LEVEL)
        width = fmt(interval["upper"] - interval["lower"], 2)
    unconverged = [label for label, check in checks if not check.converged]
    html = render("sections/sensitivity.html.j2", table=table, widest=widest, width=width, level=LEVEL,
                  unconverged=unconverged, extrapolation=extrapolation_html(fit, checks))
    return "sensitivity", "Sensitivity checks", html


PREDICTIVES = (("law alone", False), ("with discrepancy", True))
#: Scores already computed in this process, by the fingerprints of the fit and its check (report fits have them): a
#: check is shown on its fit's page twice and on the comparison page, and scoring it is the slow part.
_SCORED: dict[tuple[str, str], dict] = {}


def extrapolation_scores(fit: FitResult, checks: list[tuple[str, FitResult]]) -> list[tuple[str, FitResult, dict]]:
    """``(label, check, {predictive name: score})`` for each check that held out the highest-compute runs, scored
    with the law and its noise alone and with the law's discrepancy term."""
    found = []
    for label, check in checks:
        key = (fit.tree.attrs.get("fingerprint"), check.tree.attrs.get("fingerprint"))
        scores = _SCORED.get(key) if None not in key else None
        if scores is None:
            seed = int(fit.tree.attrs.get("seed", 0))
            scores = {name: extrapolation_score(fit, check, seed=seed, discrepancy=with_gp)
                      for name, with_gp in PREDICTIVES}
            if None not in key:
                _SCORED[key] = scores
        if all(score is not None for score in scores.values()):
            found.append((label, check, scores))
    return found


def extrapolation_rows(fit: FitResult, checks: list[tuple[str, FitResult]], first_cell=None) -> list[list]:
    """Two table rows per check that held out the highest-compute runs: how its predictive scored them without and
    with the discrepancy term."""
    rows = []
    for label, check, scores in extrapolation_scores(fit, checks):
        flag = "" if check.converged else " (NOT CONVERGED)"
        for predictive, score in scores.items():
            rows.append([first_cell if first_cell is not None else label + flag, predictive, score["n_runs"],
                         f"{score['max_compute_seen']:.3g}", f"{score['min_compute_held_out']:.3g}",
                         *(f"{score['coverage'][level]:.0%}" for level in LEVELS),
                         f"{score['width'][0.9]:.3f}", f"{score['log_score']:.2f}", f"{score['crps']:.4f}"])
    return rows


EXTRAPOLATION_HEADER = ["check", "predictive", "held-out runs", "largest compute fitted (FLOP)", "smallest held out",
                        *(f"{level:.0%} coverage" for level in LEVELS), "90% width (log loss)",
                        "log score (mean)", "CRPS (mean)"]

def extrapolation_html(fit: FitResult, checks: list[tuple[str, FitResult]]) -> Markup:
    rows = extrapolation_rows(fit, checks)
    if not rows:
        return Markup("")
    return render("sections/extrapolation.html.j2", table=table_html(EXTRAPOLATION_HEADER, rows))


def _backtest_parts(calibration: dict | None) -> list[dict]:
    """The [calibration] backtests' 90% coverage with the discrepancy (and of the law alone), one part per cutoff."""
    rows = (calibration or {}).get("backtest", {}).get("rows", [])
    parts = []
    for fraction in sorted({row["fraction"] for row in rows}):
        found = {row["method"]: row for row in rows if row["fraction"] == fraction}
        if "bayes+discrepancy" not in found:
            continue
        gp = found["bayes+discrepancy"]
        parts.append({"fraction": fraction, "scored": is_scored(gp), "coverage": gp["coverage"]["0.9"],
                      "n_runs": gp["n_runs"], "n_budgets": gp.get("n_budgets"),
                      "alone": found["bayes"]["coverage"]["0.9"] if "bayes" in found else None})
    return parts


def extrapolation_note(fit: FitResult, checks: list[tuple[str, FitResult]],
                       calibration: dict | None = None) -> Markup:
    """One paragraph for the top of a fit's page: the measured extrapolation coverage of this law on these data (from
    its ``hold_out_top_compute`` checks and its ``[calibration]`` backtests), or that it has not been measured."""
    scored = [{"label": label, "coverage": score["with discrepancy"]["coverage"][0.9],
               "n_runs": score["with discrepancy"]["n_runs"], "alone": score["law alone"]["coverage"][0.9],
               "converged": check.converged} for label, check, score in extrapolation_scores(fit, checks)]
    return render("sections/extrapolation_note.html.j2", checks=scored, backtests=_backtest_parts(calibration))
