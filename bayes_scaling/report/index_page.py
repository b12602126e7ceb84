"""The report's front page: the comparison of Kaplan's and Chinchilla's analyses (where their fits are in the
report), then every analysis with its verdict and headline numbers, linking to its own page."""

from __future__ import annotations

from markupsafe import Markup

from bayes_scaling.analysis.planning import plan
from bayes_scaling.laws import LawNotApplicable
from bayes_scaling.report import comparison
from bayes_scaling.report.calibration_section import calibration_summary_section
from bayes_scaling.report.comparison import ComparisonPlan, quiet
from bayes_scaling.report.html import Cell, page_html, render, table_html, verdict_cell
from bayes_scaling.result import FitResult
from bayes_scaling.study import published
from bayes_scaling.util.defaults import DEFAULT_LEVEL
from bayes_scaling.util.numbers import count, interval_text

LEVEL = DEFAULT_LEVEL


def _row(folder: str, fit: FitResult) -> list[object]:
    verdict = verdict_cell(fit.converged)
    title = fit.tree.attrs.get("title") or fit.law.title
    link = Cell(folder, href=f"{folder}/index.html", title=title)
    source = fit.attr_json("data_source")
    data = source.get("dataset") or source.get("file", "")
    try:
        result = plan(fit, compute=[published.GOPHER_BUDGET], level=LEVEL, discrepancy=False)
        row = result["compute"][0]
        a = interval_text(result["exponents"]["a"])
        n_opt, tpp = interval_text(row["n_params"], style=count), interval_text(row["tokens_per_param"])
    except LawNotApplicable:
        a = n_opt = tpp = "–"
    return [link, fit.law.name, data, fit.tree.attrs["n_runs"], a, n_opt, tpp, verdict]


def analyses_section(fits: dict[str, FitResult]) -> Markup:
    rows = [quiet(_row, folder, fit) for folder, fit in fits.items()]
    table = table_html(
        ["analysis", "law", "data", "runs", "a (N_opt ∝ C^a)", f"N_opt at {published.GOPHER_BUDGET:.3g} FLOP",
         "tokens / parameter", "diagnostics"],
        rows,
    )
    return render("comparison/analyses.html.j2", table=table)


def render_index(fits: dict[str, FitResult], budgets: tuple[float, ...] = (),
                 comparison_plan: ComparisonPlan | None = None,
                 checks: dict[str, list[tuple[str, FitResult]]] | None = None,
                 calibrated: dict[str, tuple[str, dict]] | None = None) -> str:
    """Front page for ``{folder name: fit}``; ``budgets`` (FLOP) are added to the plan's in the allocation table;
    ``checks`` are each analysis's sensitivity fits ``[(label, fit)]`` (held-out scores come from them);
    ``calibrated`` maps analyses with a ``[calibration]`` to (link to their page, results)."""
    cplan = comparison_plan or ComparisonPlan()
    all_budgets = tuple(sorted(set(cplan.budgets) | {float(b) for b in budgets}))
    head = quiet(comparison.headline, fits, cplan)
    sections = [
        ("summary", "Summary", quiet(comparison.summary_section, fits, cplan, head)),
        ("allocation", "How each analysis splits a budget", quiet(comparison.allocation_section, fits, cplan,
                                                                  all_budgets)),
        ("same-runs", "Same runs, both laws", quiet(comparison.same_runs_section, fits, cplan, checks)),
        ("calibration", "Are the intervals honest?", calibration_summary_section(calibrated or {})),
        ("why", "Why they differ", quiet(comparison.why_section, fits, cplan)),
        ("floors", "Loss floors", quiet(comparison.floors_section, fits, cplan)),
        ("analyses", "All analyses", analyses_section(fits)),
        ("provenance", "Provenance and diagnostics", quiet(comparison.provenance_section, fits)),
    ]
    unconverged = [name for name, fit in fits.items() if not fit.converged]
    header = render("comparison/header.html.j2", level=LEVEL, unconverged=unconverged)
    toc = [(anchor, label) for anchor, label, html in sections if html]
    return page_html("bayes_scaling: Kaplan and Chinchilla compared", header, [h for _, _, h in sections], toc)
