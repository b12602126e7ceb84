"""Report pages from small synthetic fits (no sampling): sections, figures, flags for unconverged fits."""

import re
import shutil
import subprocess

import pytest

from bayes_scaling.data.budgets import budget_groups
from bayes_scaling.report.fit_page import render_fit_page
from bayes_scaling.report.index_page import render_index
from bayes_scaling.result import ScalingFit

from .conftest import REPO, synthetic_tree


@pytest.fixture(scope="module")
def page() -> str:
    return render_fit_page(ScalingFit(synthetic_tree()))


def test_fit_page_has_every_section_and_inlined_figures(page):
    for anchor in ("summary", "parameters", "allocation", "named-models", "data", "diagnostics", "provenance"):
        assert f'<section id="{anchor}">' in page
        assert f'href="#{anchor}"' in page
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 5  # parameters, exponent, allocation, IsoFLOP slices, predictive check
    assert all(len(i) > 5000 for i in images)
    assert "http://" not in page.replace("http://www.w3.org", "") and "<script" not in page
    assert "Hoffmann's Table 3 with intervals" in page and "NOT CONVERGED" not in page


def test_unconverged_fit_is_flagged_at_the_top_and_in_every_numeric_section():
    page = render_fit_page(ScalingFit(synthetic_tree(converged=False)))
    assert page.index('class="banner-bad"') < page.index('id="summary"')
    assert page.count("(NOT CONVERGED)") >= 5
    index = render_index({"synthetic": ScalingFit(synthetic_tree(converged=False))})
    assert "NOT CONVERGED" in index


def test_budget_groups_find_isoflop_budgets():
    import numpy as np

    rng = np.random.default_rng(0)
    budgets = np.repeat([6e18, 1e20, 3e21], 8) * 10 ** rng.normal(0, 0.01, 24)
    groups = budget_groups(np.concatenate([budgets, [3e22]]))
    assert [round(np.log10(g.compute), 1) for g in groups] == [18.8, 20.0, 21.5]
    assert all(len(g.index) == 8 for g in groups)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed (.ci/run installs it)")
def test_page_renders_in_headless_chromium(tmp_path, page):
    html = tmp_path / "page.html"
    html.write_text(page)
    shot = REPO / "test-artifacts" / "fit_page.png"
    shot.parent.mkdir(exist_ok=True)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(["chromium", *flags, "--dump-dom", html.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    for title in ("Summary", "Parameters", "Compute-optimal allocation", "Sampler diagnostics", "Provenance"):
        assert f">{title}" in dom
    subprocess.run(["chromium", *flags, "--window-size=1100,5000", f"--screenshot={shot}", html.as_uri()],
                   capture_output=True, timeout=120, check=True)
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (1100, 5000)
        colours = image.convert("RGB").resize((55, 250)).getcolors(maxcolors=100000)
    assert len(colours) > 50  # figures and text rendered, not a blank page
