"""Write a fit's outputs into its folder: ``posterior.nc`` and ``index.html``, each written atomically."""

from __future__ import annotations

import logging
from pathlib import Path

from bayes_scaling.result import FitResult
from bayes_scaling.sampling.io import POSTERIOR_FILE, save_tree
from bayes_scaling.util.files import atomic_write_text

log = logging.getLogger(__name__)
PAGE_FILE = "index.html"


def write_fit(result: FitResult, out: Path, *, page: bool = True) -> list[Path]:
    """Save the posterior and (optionally) the fit's HTML page; returns the paths written. A page of an earlier
    posterior is removed first, so a folder never holds a page that disagrees with its posterior (a run killed
    between the two leaves no page rather than a stale one)."""
    (out / PAGE_FILE).unlink(missing_ok=True)
    written = [save_tree(result.tree, out / POSTERIOR_FILE)]
    if page:
        written.append(write_page(result, out))
    return written


def write_page(result: FitResult, out: Path, extra_sections=(), header_notes=()) -> Path:
    """Render and write the fit's self-contained HTML page (``extra_sections``, ``header_notes``: see
    :func:`~bayes_scaling.report.fit_page.render_fit_page`)."""
    from bayes_scaling.report.fit_page import render_fit_page  # here, not above: `fit` without --page skips matplotlib

    path = atomic_write_text(out / PAGE_FILE, render_fit_page(result, extra_sections, header_notes))
    log.info("wrote %s", path)
    return path
