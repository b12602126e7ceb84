"""The report is Jinja2 templates fed with plain values: no Python file of the report writes markup, values are
escaped, and a name a template uses but nobody passed is an error, not an empty string on the page (a dropped
f-prefix once put source code on a page)."""

import re
from pathlib import Path

import jinja2
import pytest

from bayes_scaling.report.html import Cell, render, table_html

REPORT = Path(__file__).resolve().parents[1] / "bayes_scaling" / "report"
TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>")


def test_no_python_file_of_the_report_contains_an_html_tag():
    offenders = {path.name: TAG.findall(path.read_text()) for path in REPORT.glob("*.py")}
    assert not {name: tags for name, tags in offenders.items() if tags}


def test_templates_live_in_one_folder():
    templates = sorted(path.relative_to(REPORT) for path in REPORT.rglob("*.j2"))
    assert templates and all(path.parts[0] == "templates" for path in templates)


def test_values_are_escaped_and_cells_carry_their_meaning():
    html = table_html(["a <b>"], [["<script>x</script>", Cell("fit", href="fit/index.html", flag="(NOT CONVERGED)"),
                                   Cell("ok", css="ok"), Cell("abc", mono=True)]])
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html and "a &lt;b&gt;" in html
    assert '<a href="fit/index.html">fit</a> <span class="bad">(NOT CONVERGED)</span>' in html
    assert '<span class="ok">ok</span>' in html and '<span class="mono">abc</span>' in html


def test_a_name_no_one_passed_is_an_error_not_an_empty_string():
    with pytest.raises(jinja2.UndefinedError):
        render("fit/footer.html.j2", version="1.0")  # seed missing


def test_the_report_never_branches_on_a_laws_name():
    branches = re.compile(r"law\.name\s*(==|!=|in\b|not in\b)")
    offenders = [f"{path.name}:{i}" for path in REPORT.glob("*.py")
                 for i, line in enumerate(path.read_text().splitlines(), 1) if branches.search(line)]
    assert not offenders


def test_a_figure_with_panels_side_by_side_also_carries_each_panel_for_narrow_screens():
    import base64
    import io
    import re

    import matplotlib.pyplot as plt

    from bayes_scaling.report.html import figure_html

    fig, axes = plt.subplots(1, 3, figsize=(9, 3))
    for ax in axes:
        ax.plot([1, 2], [1, 2], label="line")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center")
    html = str(figure_html(fig, "caption", "three panels"))
    panels = re.findall(r'<div class="fig-panels">(.*?)</div>', html)[0]
    assert 'class="fig-whole"' in html and panels.count("<img") == 4  # three panels and the figure's legend
    assert 'alt="three panels (panel 2 of 4)"' in panels
    first = plt.imread(io.BytesIO(base64.b64decode(re.findall(r'base64,([^"]+)"', panels)[0])))
    assert 150 < first.shape[1] < 400  # about a third of the 900-pixel figure, not the whole
    fig, ax = plt.subplots(2, 1)
    for a in ax:
        a.plot([1, 2])
    assert str(figure_html(fig, "c", "a")).count("<img") == 1  # one column: nothing to stack


def _whole_image(html: str):
    import base64
    import io
    import re

    import matplotlib.pyplot as plt

    return plt.imread(io.BytesIO(base64.b64decode(re.findall(r'class="fig-whole"[^>]*src="data:image/png;base64,'
                                                             r'([^"]+)"', html)[0])))


def test_the_whole_figure_cut_from_one_drawing_is_what_savefig_crops(monkeypatch):
    """The whole figure beside its panels is cut from the same drawing as the panels, to savefig's tight box: the
    same size within a pixel or two; a legend drawn beyond the canvas falls back to savefig, which keeps it."""
    import io

    import matplotlib.pyplot as plt

    from bayes_scaling.report import html
    from bayes_scaling.report.html import figure_html

    saved = []
    monkeypatch.setattr(html, "_png", lambda fig, png=html._png: saved.append(fig) or png(fig))

    def figure(outside: bool):
        fig, axes = plt.subplots(1, 2, figsize=(8, 3), dpi=110)
        for ax in axes:
            ax.plot([1, 10], [1, 2], label="line")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="lower left",  # outside: across the top edge
                   bbox_to_anchor=(0.4, 0.97) if outside else (0.4, 0.7))
        return fig

    for outside in (False, True):
        buffer = io.BytesIO()
        figure(outside).savefig(buffer, format="png", bbox_inches="tight")
        expected = plt.imread(io.BytesIO(buffer.getvalue())).shape
        got = _whole_image(str(figure_html(figure(outside), "c", "a"))).shape
        assert abs(got[0] - expected[0]) <= 2 and abs(got[1] - expected[1]) <= 2, (outside, got, expected)
        assert len(saved) == outside  # drawn by savefig only where the cut would lose the legend
