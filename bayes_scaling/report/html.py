"""Small HTML helpers: escaping, tables, inlined figures, and the page shell with its stylesheet."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence

from matplotlib.figure import Figure

STYLE = """
:root { --ink:#1d2733; --muted:#5b6877; --line:#d9dee5; --accent:#1f5fa8; --bad:#b42318; --bad-bg:#fde8e7;
        --good:#1a7f37; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 1040px; padding: 1.2rem 1rem 3rem; line-height: 1.5; }
h1 { font-size: 1.6rem; margin: .2rem 0 .3rem; } h2 { font-size: 1.25rem; margin-top: 2rem;
     border-bottom: 1px solid var(--line); padding-bottom: .2rem; } h3 { font-size: 1.05rem; }
p.lede { color: var(--muted); margin-top: 0; }
p.calibration { border-left: 4px solid var(--muted); padding-left: .6em; }
nav.toc { background: #f5f7fa; border: 1px solid var(--line); border-radius: 6px; padding: .5rem 1rem; }
nav.toc ol { margin: .2rem 0; padding-left: 1.2rem; columns: 2; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; min-width: 50%; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .6rem; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; white-space: normal; min-width: 8rem; }
th { background: #f5f7fa; }
table.kv td { text-align: left; white-space: normal; overflow-wrap: anywhere; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: .88rem; }
.banner-bad { background: var(--bad-bg); color: var(--bad); border: 2px solid var(--bad); border-radius: 6px;
              padding: .6rem 1rem; font-weight: 600; }
.ok { color: var(--good); font-weight: 600; } .bad { color: var(--bad); font-weight: 600; }
.summary { background: #f0f5fb; border-left: 4px solid var(--accent); padding: .6rem 1rem; }
code, .mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85rem; }
footer { margin-top: 2.5rem; color: var(--muted); font-size: .8rem; }
@media (max-width: 640px) { body { padding: .6rem; } nav.toc ol { columns: 1; } table { font-size: .8rem; } }
"""


#: After load, the body records how many images the page has and how many failed to decode (``data-images``,
#: ``data-broken-images``), so a headless browser's DOM dump shows whether every figure rendered.
IMAGE_CHECK = ("<script>window.addEventListener('load',function(){var im=document.images,b=0;"
               "for(var i=0;i<im.length;i++){if(!im[i].complete||im[i].naturalWidth===0){b++;}}"
               "document.body.setAttribute('data-images',im.length);"
               "document.body.setAttribute('data-broken-images',b);});</script>")


def esc(value: object) -> str:
    """HTML-escaped text."""
    return html.escape(str(value))


def figure_html(fig: Figure, caption: str, alt: str) -> str:
    """A figure inlined as a base64 PNG (self-contained page, no network)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt)}">'
            f"<figcaption>{caption}</figcaption></figure>")


def table_html(
    header: Sequence[str], rows: Iterable[Sequence[object]], caption: str = "", css_class: str = ""
) -> str:
    """A table; cells are escaped unless they are already marked-up ``Markup`` strings. ``css_class="kv"`` gives
    a left-aligned, wrapping key-value table."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    cls = f' class="{esc(css_class)}"' if css_class else ""
    return f'<div class="table-wrap"><table{cls}>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


class Markup(str):
    """A string that is already HTML and must not be escaped."""


def verdict_html(converged: bool) -> Markup:
    """The diagnostics verdict as a table cell: converged, or NOT CONVERGED in the warning colour."""
    return Markup('<span class="ok">converged</span>' if converged else '<span class="bad">NOT CONVERGED</span>')


def _cell(value: object) -> str:
    return value if isinstance(value, Markup) else esc(value)


def page_html(title: str, body: str, toc: Sequence[tuple[str, str]] = ()) -> str:
    """A complete, self-contained HTML document."""
    nav = ""
    if toc:
        items = "".join(f'<li><a href="#{esc(anchor)}">{esc(label)}</a></li>' for anchor, label in toc)
        nav = f'<nav class="toc" aria-label="Contents"><strong>Contents</strong><ol>{items}</ol></nav>'
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"{body.replace('<!--TOC-->', nav)}{IMAGE_CHECK}</body></html>\n"
    )


def fmt(value: float | None, digits: int = 4) -> str:
    """A number with ``digits`` significant figures (``–`` for missing)."""
    if value is None:
        return "–"
    return f"{value:.{digits}g}"


SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def count(value: float | None, digits: int = 3) -> str:
    """A parameter or token count with a suffix: ``70.6B``, ``1.41T`` (``–`` for missing)."""
    if value is None:
        return "–"
    for scale, suffix in SUFFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"


def interval_text(s: dict, digits: int = 3, style=fmt) -> str:
    """``median [lower, upper]`` from a planning summary dict; ``style`` formats each number."""
    if s["median"] is None:
        return "unreachable"
    return f"{style(s['median'], digits)} [{style(s['lower'], digits)}, {style(s['upper'], digits)}]"
