"""The report's front page: every analysis with its verdict and headline numbers, linking to its own page."""

from __future__ import annotations

from bayes_scaling import published
from bayes_scaling.laws import LawNotApplicable
from bayes_scaling.planning import plan
from bayes_scaling.report.html import Markup, count, esc, interval_text, page_html, table_html
from bayes_scaling.result import ScalingFit

LEVEL = 0.9


def _row(folder: str, fit: ScalingFit) -> list[object]:
    verdict = (Markup('<span class="ok">converged</span>') if fit.converged
               else Markup('<span class="bad">NOT CONVERGED</span>'))
    link = Markup(f'<a href="{esc(folder)}/index.html">{esc(fit.tree.attrs.get("title") or fit.name)}</a>')
    source = fit.attr_json("data_source")
    data = source.get("dataset") or source.get("file", "")
    try:
        result = plan(fit, compute=[published.GOPHER_BUDGET], level=LEVEL)
        row = result["compute"][0]
        a = interval_text(result["exponents"]["a"])
        n_opt, tpp = interval_text(row["n_params"], style=count), interval_text(row["tokens_per_param"])
    except LawNotApplicable:
        a = n_opt = tpp = "–"
    return [link, fit.law.name, data, fit.tree.attrs["n_runs"], a, n_opt, tpp, verdict]


def render_index(fits: dict[str, ScalingFit]) -> str:
    """Front page for ``{folder name: fit}``."""
    rows = [_row(folder, fit) for folder, fit in fits.items()]
    table = table_html(
        ["analysis", "law", "data", "runs", "a (N_opt ∝ C^a)", f"N_opt at {published.GOPHER_BUDGET:.3g} FLOP",
         "tokens / parameter", "diagnostics"],
        rows,
    )
    unconverged = [name for name, fit in fits.items() if not fit.converged]
    banner = ""
    if unconverged:
        banner = (f'<div class="banner-bad" role="alert">NOT CONVERGED: {esc(", ".join(unconverged))}. Their '
                  "numbers are shown for inspection only.</div>")
    body = (
        "<header><h1>bayes_scaling report</h1><p class=\"lede\">Scaling laws fitted by NUTS to published training "
        f"runs. Medians with {LEVEL:.0%} credible intervals; every number comes from posterior draws.</p></header>"
        f"{banner}<section id=\"analyses\"><h2>Analyses</h2>{table}</section>"
    )
    return page_html("bayes_scaling report", body)
