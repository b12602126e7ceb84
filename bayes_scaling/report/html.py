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
from matplotlib.colors import to_rgba
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


def _encoded(pixels: np.ndarray) -> str:
    """RGBA pixels as a base64 PNG."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    plt.imsave(buffer, pixels, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _cut(pixels: np.ndarray, box, pad: float, fill=None) -> np.ndarray:
    """The pixels inside ``box`` (display units: pixels from the lower left) plus ``pad`` pixels each side; where the
    pad reaches beyond the canvas, it is filled with the RGBA ``fill`` (as savefig pads a tight box) or left out."""
    height, width = pixels.shape[:2]
    left, right = int(box.x0 - pad), int(np.ceil(box.x1 + pad))
    top, bottom = height - int(np.ceil(box.y1 + pad)), height - int(box.y0 - pad)
    cut = pixels[max(0, top):min(height, bottom), max(0, left):min(width, right)]
    if fill is None:
        return cut
    margins = ((max(0, -top), max(0, bottom - height)), (max(0, -left), max(0, right - width)))
    return np.stack([np.pad(cut[..., k], margins, constant_values=fill[k]) for k in range(4)], axis=-1)


def side_by_side_panels(fig: Figure) -> list:
    """The figure's panels (axes holding data) when at least two stand side by side, with its figure-level legends
    after them; empty for a figure of one column."""
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.has_data()]
    columns = {round(ax.get_position().x0, 3) for ax in panels}
    return [*panels, *fig.legends] if len(columns) > 1 else []


def figure_html(fig: Figure, caption: str, alt: str) -> Markup:
    """A figure inlined as a base64 PNG (self-contained page, no network). A figure with panels side by side also
    carries each panel (and its legend) as its own image, shown one under the other on narrow screens instead of the
    whole, which would shrink below reading size there: the whole (cut to its tight box, as ``savefig`` would) and
    the panels are cut from one drawing of the figure, which is most of a figure's cost."""
    import matplotlib.pyplot as plt

    parts = side_by_side_panels(fig)
    if not parts:
        data, stacked = _png(fig), []
    else:
        fig.canvas.draw()
        pixels = np.array(fig.canvas.buffer_rgba())
        renderer = fig.canvas.get_renderer()
        whole = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)  # inches -> pixels
        inside = whole.x0 >= 0 and whole.y0 >= 0 and whole.x1 <= pixels.shape[1] and whole.y1 <= pixels.shape[0]
        stacked = [_encoded(_cut(pixels, part.get_tightbbox(renderer) if hasattr(part, "get_tightbbox")
                                 else part.get_window_extent(), PAD)) for part in parts]
        # something drawn beyond the canvas (a legend outside the axes) is not in its pixels: savefig draws it
        fill = np.round(np.array(to_rgba(fig.get_facecolor())) * 255).astype(np.uint8)
        data = _encoded(_cut(pixels, whole, plt.rcParams["savefig.pad_inches"] * fig.dpi, fill)) if inside \
            else _png(fig)
    plt.close(fig)
    return render("parts/figure.html.j2", data=data, caption=caption, alt=alt, stacked=stacked)


def page_html(title: str, header: Markup, sections: Sequence[Markup], toc: Sequence[tuple[str, str]] = (),
              footer: Markup | str = "") -> str:
    """A complete, self-contained HTML document."""
    return str(render("page.html.j2", title=title, header=header, sections=list(sections), toc=list(toc),
                      footer=footer)) + "\n"
