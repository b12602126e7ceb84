"""The sensitivity section of a fit's page: the spec's ``[[sensitivity]]`` checks (the same analysis with another
data filter or likelihood) beside the fit itself, so a reader sees how far the headline numbers move."""

from __future__ import annotations

import numpy as np

from bayes_scaling.analysis.planning import summary
from bayes_scaling.laws import LawNotApplicable
from bayes_scaling.report.html import Markup, esc, fmt, interval_text, table_html, verdict_html
from bayes_scaling.result import ScalingFit
from bayes_scaling.util.defaults import DEFAULT_LEVEL
from bayes_scaling.validation.holdout import LEVELS, extrapolation_score, is_scored

#: Where a fit's checks are saved, inside its report folder.
SENSITIVITY_DIR = "sensitivity"
LEVEL = DEFAULT_LEVEL


def _headline(fit: ScalingFit) -> tuple[str, object]:
    """The quantity a check is judged by: the allocation exponent a where the law has one, else its first
    parameter."""
    try:
        return "a", fit.exponents()["a"]
    except LawNotApplicable:
        name = fit.law.parameters[0]
        return name, fit.posterior[name]


def _row(label: str, fit: ScalingFit, reference: float | None, link: str | None) -> list[object]:
    _, values = _headline(fit)
    s = summary(values, LEVEL)
    shift = "–" if reference is None or s["median"] is None else f"{s['median'] - reference:+.3f}"
    verdict = verdict_html(fit.converged)
    name = Markup(f'<a href="{esc(link)}/index.html">{esc(label)}</a>') if link else label
    filters = "; ".join(fit.attr_json("filters")) or "none"
    return [name, fit.tree.attrs["n_runs"], fit.tree.attrs["likelihood"], filters, interval_text(s), shift, verdict]


def sensitivity_section(fit: ScalingFit, checks: list[tuple[str, ScalingFit]]) -> tuple[str, str, str]:
    """``(anchor, label, html)`` of the section for ``fit`` and its ``(label, fit)`` checks (whose pages live in
    ``sensitivity/<slug>/`` beside this one)."""
    name, values = _headline(fit)
    reference = float(np.median(values))
    rows = [_row("this analysis", fit, None, None)]
    for label, check in checks:
        link = f"{SENSITIVITY_DIR}/{check.path.name}" if check.path is not None else None
        rows.append(_row(label, check, reference, link))
    table = table_html(["check", "runs", "likelihood", "filters", f"{name}: median [{LEVEL:.0%}]",
                        "shift of median", "diagnostics"], rows)
    spread = [summary(_headline(check)[1], LEVEL)["median"] for _, check in checks if check.converged]
    note = ""
    if spread:
        widest = max(abs(m - reference) for m in spread if m is not None)
        width = summary(values, LEVEL)
        note = (f"<p>The largest shift of the median among converged checks is {fmt(widest, 2)}; this analysis's "
                f"{LEVEL:.0%} interval is {fmt(width['upper'] - width['lower'], 2)} wide. A shift comparable to the "
                "width means the choice matters as much as the data's uncertainty: quote the interval with that "
                "caveat.</p>")
    unconverged = [label for label, check in checks if not check.converged]
    if unconverged:
        note += (f'<p class="bad">Not converged, shown for inspection only: {esc(", ".join(unconverged))}.</p>')
    body = ("<p>The same analysis with one choice changed at a time (the spec's <code>[[sensitivity]]</code> "
            f"checks), each a full fit.</p>{table}{note}{extrapolation_html(fit, checks)}")
    return "sensitivity", "Sensitivity checks", f'<section id="sensitivity"><h2>Sensitivity checks</h2>{body}</section>'


PREDICTIVES = (("law alone", False), ("with discrepancy", True))
#: Scores already computed in this process, by the fingerprints of the fit and its check (report fits have them): a
#: check is shown on its fit's page twice and on the comparison page, and scoring it is the slow part.
_SCORED: dict[tuple[str, str], dict] = {}


def extrapolation_scores(fit: ScalingFit, checks: list[tuple[str, ScalingFit]]) -> list[tuple[str, ScalingFit, dict]]:
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


def extrapolation_rows(fit: ScalingFit, checks: list[tuple[str, ScalingFit]], first_cell=None) -> list[list]:
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

DISCREPANCY_NOTE = ("The discrepancy term is a Gaussian process on log loss over the law's inputs in decades, fitted "
                    "to the residuals (<code>bayes_scaling.uncertainty.discrepancy</code>): near the runs it borrows "
                    "their misfit, away from them it adds spread. \"Law alone\" is the model before it was added.")


def extrapolation_html(fit: ScalingFit, checks: list[tuple[str, ScalingFit]]) -> str:
    rows = extrapolation_rows(fit, checks)
    if not rows:
        return ""
    return ("<h3>Extrapolation to held-out runs</h3><p>Checks that held out the runs with the most compute, scored "
            f"by their posterior predictive on those runs: an honest X% interval covers about X% of them. "
            f"{DISCREPANCY_NOTE}</p>" + table_html(EXTRAPOLATION_HEADER, rows))


def _backtest_parts(calibration: dict | None) -> list[str]:
    """The [calibration] backtests' 90% coverage with the discrepancy (and of the law alone), one part per cutoff."""
    rows = (calibration or {}).get("backtest", {}).get("rows", [])
    parts = []
    for fraction in sorted({row["fraction"] for row in rows}):
        found = {row["method"]: row for row in rows if row["fraction"] == fraction}
        if "bayes+discrepancy" not in found:
            continue
        gp = found["bayes+discrepancy"]
        if not is_scored(gp):
            parts.append(f"top {fraction:.0%} of compute held out: not scored (the refit did not converge)")
            continue
        alone = f" (law alone: {found['bayes']['coverage']['0.9']:.0%})" if "bayes" in found else ""
        budgets = f" in {gp['n_budgets']} budgets" if "n_budgets" in gp else ""
        parts.append(f"top {fraction:.0%} of compute held out: <strong>{gp['coverage']['0.9']:.0%}</strong> of "
                     f"{gp['n_runs']} runs{budgets}{alone}")
    return parts


def extrapolation_note(fit: ScalingFit, checks: list[tuple[str, ScalingFit]], calibration: dict | None = None) -> str:
    """One paragraph for the top of a fit's page: the measured extrapolation coverage of this law on these data (from
    its ``hold_out_top_compute`` checks and its ``[calibration]`` backtests), or that it has not been measured."""
    scores = extrapolation_scores(fit, checks)
    backtests = _backtest_parts(calibration)
    if backtests and not scores:
        return ('<p class="calibration">Measured extrapolation coverage of this law on these data (90% predictive '
                f"intervals with the discrepancy term, refitted without the runs with the most compute): "
                f'{"; ".join(backtests)}. Details under <a href="#calibration">Calibration</a>.</p>')
    if not scores:
        return ('<p class="calibration">Extrapolation coverage: <strong>not measured</strong> for this analysis (its '
                "spec has no <code>hold_out_top_compute</code> check); treat intervals beyond the largest budget "
                "fitted as unchecked, or run <code>bayes-scaling calibrate</code> on its spec.</p>")
    parts = []
    for label, check, score in scores:
        gp, alone = score["with discrepancy"], score["law alone"]
        flag = "" if check.converged else " (check NOT CONVERGED)"
        parts.append(f"{esc(label)}: the 90% predictive intervals covered <strong>{gp['coverage'][0.9]:.0%}</strong> "
                     f"of {gp['n_runs']} held-out runs (law alone, without the discrepancy term: "
                     f"{alone['coverage'][0.9]:.0%}){flag}")
    more = (f' Backtests: {"; ".join(backtests)} (<a href="#calibration">Calibration</a>).' if backtests else "")
    return (f'<p class="calibration">Measured extrapolation coverage of this law on these data: {"; ".join(parts)}. '
            f'Details under <a href="#sensitivity">Sensitivity checks</a>.{more}</p>')
