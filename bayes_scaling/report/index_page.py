"""The report's front page: the comparison of Kaplan's and Chinchilla's analyses (where their fits are in the
report), then every analysis with its verdict and headline numbers, linking to its own page. A report none of whose
analyses declares published references (a user's own runs) is titled and introduced by its own analyses."""

from __future__ import annotations

from markupsafe import Markup

from bayes_scaling.analysis.planning import plan
from bayes_scaling.laws import LawNotApplicable
from bayes_scaling.report import comparison
from bayes_scaling.report.calibration_section import calibration_summary_section
from bayes_scaling.report.comparison import ComparisonPlan, quiet
from bayes_scaling.report.figures import references_of
from bayes_scaling.report.html import Cell, page_html, render, table_html, verdict_cell
from bayes_scaling.result import FitResult
from bayes_scaling.study import published
from bayes_scaling.util.defaults import DEFAULT_LEVEL
from bayes_scaling.util.numbers import count, interval_text

LEVEL = DEFAULT_LEVEL


#: Without published references, the analyses table answers at this multiple of each analysis's largest run.
MULTIPLE = 10.0


def _row(folder: str, fit: FitResult, papers: bool) -> list[object]:
    verdict = verdict_cell(fit.converged)
    title = fit.tree.attrs.get("title") or (fit.law.title if papers else fit.law.plain_title)
    link = Cell(folder, href=f"{folder}/index.html", title=title)
    source = fit.attr_json("data_source")
    data = source.get("dataset") or source.get("file") or source.get("dataframe", "")
    budget = published.GOPHER_BUDGET if papers else MULTIPLE * float(fit.runs["compute"].max())
    try:
        result = plan(fit, compute=[budget], level=LEVEL, discrepancy=False)
        row = result["compute"][0]
        a = interval_text(result["exponents"]["a"])
        n_opt, tpp = interval_text(row["n_params"], style=count), interval_text(row["tokens_per_param"])
    except LawNotApplicable:
        a = n_opt = tpp = "–"
    law = fit.law.name if papers else Cell(fit.law.equation, mono=True)
    return [link, law, data, fit.tree.attrs["n_runs"], a, *([] if papers else [f"{budget:.3g}"]), n_opt, tpp,
            verdict]


def analyses_section(fits: dict[str, FitResult], papers: bool = True) -> Markup:
    """Every analysis with its verdict and headline numbers: at Gopher's budget where the report is about the
    published runs, else at :data:`MULTIPLE` times each analysis's largest run (the law alone)."""
    rows = [quiet(_row, folder, fit, papers) for folder, fit in fits.items()]
    budget = ([f"N_opt at {published.GOPHER_BUDGET:.3g} FLOP (law alone)"] if papers
              else [f"budget ({MULTIPLE:.0f}x its largest run, FLOP)", "N_opt there (law alone)"])
    table = table_html(["analysis", "law", "data", "runs", "a (N_opt ∝ C^a)", *budget, "tokens / parameter",
                        "diagnostics"], rows)
    return render("comparison/analyses.html.j2", table=table)


def render_index(fits: dict[str, FitResult], budgets: tuple[float, ...] = (),
                 comparison_plan: ComparisonPlan | None = None,
                 checks: dict[str, list[tuple[str, FitResult]]] | None = None,
                 calibrated: dict[str, tuple[str, dict]] | None = None) -> str:
    """Front page for ``{folder name: fit}``; ``budgets`` (FLOP) are added to the plan's in the allocation table;
    ``checks`` are each analysis's sensitivity fits ``[(label, fit)]`` (held-out scores come from them);
    ``calibrated`` maps analyses with a ``[calibration]`` to (link to their page, results)."""
    cplan = comparison_plan or ComparisonPlan()
    papers = any(references_of(fit) for fit in fits.values())  # a report about the published runs
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
        ("learning-curves", "Kaplan's L(N, S) on other runs",
         quiet(comparison.learning_curves_section, fits, cplan, checks)),
        ("analyses", "All analyses", analyses_section(fits, papers)),
        ("provenance", "Provenance and diagnostics", quiet(comparison.provenance_section, fits)),
    ]
    unconverged = [name for name, fit in fits.items() if not fit.converged]
    sources = sorted({str(fit.attr_json("data_source").get("dataset") or fit.attr_json("data_source").get("file")
                          or "a DataFrame") for fit in fits.values()})
    header = render("comparison/header.html.j2", level=LEVEL, unconverged=unconverged, papers=papers,
                    n_fits=len(fits), sources=sources)
    toc = [(anchor, label) for anchor, label, html in sections if html]
    title = "bayes_scaling: Kaplan and Chinchilla compared" if papers else "bayes_scaling: scaling-law fits"
    return page_html(title, header, [h for _, _, h in sections], toc)
