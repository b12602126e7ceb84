"""The stacking section of a fit's page: where laws were fitted to the same runs, their stacking weights from
leave-future-out scores and the stacked allocation beside each law's, at the page's budgets
(:func:`~bayes_scaling.analysis.stacking.stacked_allocation`)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from bayes_scaling.analysis.stacking import stacked_allocation
from bayes_scaling.report.comparison import ComparisonPlan
from bayes_scaling.report.html import Cell, render, table_html
from bayes_scaling.result import FitResult
from bayes_scaling.util.defaults import DEFAULT_LEVEL
from bayes_scaling.util.numbers import count, interval_text

LEVEL = DEFAULT_LEVEL


def stacking_group(name: str, fits: dict[str, FitResult], plan: ComparisonPlan | None = None) -> list[FitResult]:
    """The fits of the plan's stacked group holding ``name`` (every one of them in ``fits``), else none."""
    for _, names in (plan or ComparisonPlan()).stacked:
        if name in names and all(member in fits for member in names):
            return [fits[member] for member in names]
    return []


def stacking_section(fit: FitResult, group: Sequence[FitResult], budgets: Sequence[float], *,
                     seed: int = 0) -> tuple[str, str, Markup]:
    """``(anchor, label, html)``: the weights of ``group`` (this fit among them) and, at each budget, each law's and
    the stacked N_opt and loss; a group whose weights cannot be learned says why."""
    rows, how, includes, converged = [], "", "", True
    for compute in budgets:
        try:
            found = stacked_allocation(list(group), compute, level=LEVEL, seed=seed)
        except ValueError as err:
            return "stacking", "Which law to trust", render("sections/stacking.html.j2", table=None, reason=str(err),
                                                            how="", includes="", converged=True, name=fit.name)
        how, includes, converged = found["how"], found["includes"], found["converged"]
        for member in group:
            values = found["laws"][member.name]
            label = Cell(f"{member.name} (this page)") if member is fit else Cell(member.name,
                                                                                  href=f"../{member.name}/index.html")
            rows.append([f"{compute:.3g}", label, f"{found['weights'][member.name]:.2f}",
                         interval_text(values["n_params"], style=count), interval_text(values["loss"])])
        stacked = found["stacked"]
        rows.append([f"{compute:.3g}", Cell("stacked", css="ok" if converged else "bad"), "",
                     interval_text(stacked["n_params"], style=count), interval_text(stacked["loss"])])
    table = table_html(["budget (FLOP)", "fit", "weight", f"N_opt ({LEVEL:.0%})", f"loss ({LEVEL:.0%})"], rows)
    return "stacking", "Which law to trust", render("sections/stacking.html.j2", table=table, reason="", how=how,
                                                    includes=includes, converged=converged, name=fit.name)
