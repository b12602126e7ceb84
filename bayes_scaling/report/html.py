"""Rendering the report: Jinja2 templates (``report/templates``, autoescaped, undefined names an error) fed with plain
values, table cells and inlined figures. Python computes what a page shows; the templates hold every tag and every
sentence of markup, so a section's wording changes in its template alone."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from markupsafe import Markup
from matplotlib.figure import Figure

from bayes_scaling.report.templating import render


@dataclass(frozen=True)
class Cell:
    """A value shown with a meaning the template renders: a link (``href``), a style (``css``: ``ok``, ``bad``),
    monospace, or a warning ``flag`` after it."""

    text: object
    href: str | None = None
    title: str | None = None
    css: str | None = None
    mono: bool = False
    flag: str | None = None


def verdict_cell(converged: bool) -> Cell:
    """The diagnostics verdict as a table cell: converged, or NOT CONVERGED in the warning colour."""
    return Cell("converged", css="ok") if converged else Cell("NOT CONVERGED", css="bad")


def table_html(header: Sequence[str], rows: Iterable[Sequence[object]], caption: str = "",
               css_class: str = "") -> Markup:
    """A table; cells are plain values (escaped) or :class:`Cell`. ``css_class="kv"`` gives a left-aligned,
    wrapping key-value table."""
    return render("parts/table.html.j2", header=list(header), rows=[list(row) for row in rows], caption=caption,
                  css_class=css_class)


#: Pixels of margin around a panel cut from its figure.
PAD = 4


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def side_by_side_panels(fig: Figure) -> list:
    """The figure's panels (axes holding data) when at least two stand side by side, with its figure-level legends
    after them; empty for a figure of one column."""
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.has_data()]
    columns = {round(ax.get_position().x0, 3) for ax in panels}
    return [*panels, *fig.legends] if len(columns) > 1 else []


def figure_html(fig: Figure, caption: str, alt: str) -> Markup:
    """A figure inlined as a base64 PNG (self-contained page, no network). A figure with panels side by side also
    carries each panel (and its legend) as its own image, cut from one drawing of the figure, shown one under the
    other on narrow screens instead of the whole, which would shrink below reading size there."""
    import matplotlib.pyplot as plt

    data = _png(fig)
    stacked = []
    parts = side_by_side_panels(fig)
    if parts:
        fig.canvas.draw()
        pixels = np.asarray(fig.canvas.buffer_rgba())
        height, width = pixels.shape[:2]
        renderer = fig.canvas.get_renderer()
        for part in parts:
            box = part.get_tightbbox(renderer) if hasattr(part, "get_tightbbox") else part.get_window_extent()
            x0, x1 = max(0, int(box.x0) - PAD), min(width, int(np.ceil(box.x1)) + PAD)
            y0, y1 = max(0, height - int(np.ceil(box.y1)) - PAD), min(height, height - int(box.y0) + PAD)
            buffer = io.BytesIO()
            plt.imsave(buffer, pixels[y0:y1, x0:x1], format="png")
            stacked.append(base64.b64encode(buffer.getvalue()).decode("ascii"))
    plt.close(fig)
    return render("parts/figure.html.j2", data=data, caption=caption, alt=alt, stacked=stacked)


def page_html(title: str, header: Markup, sections: Sequence[Markup], toc: Sequence[tuple[str, str]] = (),
              footer: Markup | str = "") -> str:
    """A complete, self-contained HTML document."""
    return str(render("page.html.j2", title=title, header=header, sections=list(sections), toc=list(toc),
                      footer=footer)) + "\n"
