"""Rendering the report: Jinja2 templates (``report/templates``, autoescaped, undefined names an error) fed with plain
values, table cells and inlined figures. Python computes what a page shows; the templates hold every tag and every
sentence of markup, so a section's wording changes in its template alone."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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


def figure_html(fig: Figure, caption: str, alt: str) -> Markup:
    """A figure inlined as a base64 PNG (self-contained page, no network)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return render("parts/figure.html.j2", data=data, caption=caption, alt=alt)


def page_html(title: str, header: Markup, sections: Sequence[Markup], toc: Sequence[tuple[str, str]] = (),
              footer: Markup | str = "") -> str:
    """A complete, self-contained HTML document."""
    return str(render("page.html.j2", title=title, header=header, sections=list(sections), toc=list(toc),
                      footer=footer)) + "\n"
