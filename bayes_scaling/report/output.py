"""Write a fit's outputs into its folder: ``posterior.nc`` and ``index.html``, each written atomically."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from bayes_scaling.report.answer import answer_plan, quantiles_frame
from bayes_scaling.result import FitResult
from bayes_scaling.sampling.io import POSTERIOR_FILE, save_tree
from bayes_scaling.util.files import atomic_write_text

log = logging.getLogger(__name__)
PAGE_FILE = "index.html"
#: Beside the page: the answer box's plan and every number of it and of the parameter table.
PLAN_FILE = "plan.json"
QUANTILES_FILE = "quantiles.csv"
#: What a new posterior makes stale.
BESIDE_PAGE = (PAGE_FILE, PLAN_FILE, QUANTILES_FILE)


def write_fit(result: FitResult, out: Path, *, page: bool = True, budgets: Sequence[float] = ()) -> list[Path]:
    """Save the posterior and (optionally) the fit's HTML page with its ``plan.json`` and ``quantiles.csv`` at
    ``budgets`` (:mod:`~bayes_scaling.report.answer`); returns the paths written. A page of an earlier posterior is
    removed first, so a folder never holds a page that disagrees with its posterior (a run killed between the two
    leaves no page rather than a stale one)."""
    for name in BESIDE_PAGE:
        (out / name).unlink(missing_ok=True)
    written = [save_tree(result.tree, out / POSTERIOR_FILE)]
    if page:
        written.extend(write_page(result, out, budgets=budgets))
    return written


def write_page(result: FitResult, out: Path, extra_sections=(), header_notes=(),
               budgets: Sequence[float] = ()) -> list[Path]:
    """Render and write the fit's self-contained HTML page (``extra_sections``, ``header_notes``: see
    :func:`~bayes_scaling.report.fit_page.render_fit_page`), and beside it the answer box's numbers as
    ``plan.json`` (the plan at its budgets) and ``quantiles.csv`` (with the parameters)."""
    from bayes_scaling.report.fit_page import render_fit_page  # here, not above: `fit` without --page skips matplotlib

    answer = answer_plan(result, budgets)
    contents = {PLAN_FILE: json.dumps(answer, indent=1) + "\n",  # all rendered before any is written
                QUANTILES_FILE: quantiles_frame(result, answer).to_csv(index=False),
                PAGE_FILE: render_fit_page(result, extra_sections, header_notes, answer)}
    written = [atomic_write_text(out / name, text) for name, text in contents.items()]
    log.info("wrote %s", ", ".join(map(str, written)))
    return written
