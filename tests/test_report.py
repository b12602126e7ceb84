"""Report pages from small synthetic fits (no sampling): sections, figures, flags for unconverged fits."""

import re
import shutil
import subprocess

import numpy as np
import pytest

from bayes_scaling.data.budgets import budget_groups
from bayes_scaling.report.comparison import ComparisonPlan, probability_text
from bayes_scaling.report.fit_page import render_fit_page
from bayes_scaling.report.index_page import render_index
from bayes_scaling.result import FitResult

from .conftest import REPO, synthetic_tree


@pytest.fixture(scope="module")
def page() -> str:
    return render_fit_page(FitResult(synthetic_tree()))


def test_fit_page_has_every_section_and_inlined_figures(page):
    for anchor in ("summary", "parameters", "allocation", "named-models", "data", "diagnostics", "provenance"):
        assert f'<section id="{anchor}">' in page
        assert f'href="#{anchor}"' in page
    whole = re.sub(r'<div class="fig-panels">.*?</div>', "", page)  # each figure once (not its panels for phones)
    images = re.findall(r'<img (?:class="fig-whole" )?src="data:image/png;base64,([A-Za-z0-9+/=]+)"', whole)
    assert page.count("<figure>") == len(images) == 5  # parameters, exponent, allocation, slices, predictive check
    assert all(len(i) > 5000 for i in images)
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert page.count("<script") == 1 and "data-broken-images" in page  # the only script counts broken images
    assert "Published compute-optimal sizes with intervals" in page and "NOT CONVERGED" not in page
    assert "Hoffmann (approach 3)" in page and "Epoch AI refit" in page  # declared by the analysis
    assert "Allowing for the law&#39;s discrepancy" in page or "Allowing for the law's discrepancy" in page
    assert "interval_text(" not in page and "found[" not in page  # every sentence's values were filled in


def test_unconverged_fit_is_flagged_at_the_top_and_in_every_numeric_section():
    page = render_fit_page(FitResult(synthetic_tree(converged=False)))
    assert page.index('class="banner-bad"') < page.index('id="summary"')
    assert page.count("(NOT CONVERGED)") >= 5
    index = render_index({"synthetic": FitResult(synthetic_tree(converged=False))})
    assert "NOT CONVERGED" in index


def test_budget_groups_find_isoflop_budgets():
    import numpy as np

    rng = np.random.default_rng(0)
    budgets = np.repeat([6e18, 1e20, 3e21], 8) * 10 ** rng.normal(0, 0.01, 24)
    groups = budget_groups(np.concatenate([budgets, [3e22]]))
    assert [round(np.log10(g.compute), 1) for g in groups] == [18.8, 20.0, 21.5]
    assert all(len(g.index) == 8 for g in groups)


@pytest.fixture(scope="module")
def comparison_page() -> str:
    """The comparison page over synthetic fits: a 'Kaplan' and a 'Chinchilla' analysis of different runs, and two
    fits of the same runs."""
    fits = {name: FitResult(synthetic_tree(seed=seed)) for name, seed in
            (("kaplan-like", 1), ("chinchilla-like", 0), ("same-runs-other-law", 0))}
    plan = ComparisonPlan(kaplan="kaplan-like", chinchilla=("chinchilla-like",),
                          same_runs=(("synthetic runs", "chinchilla-like", "same-runs-other-law"),),
                          frontier="none", data_limited="none")
    return render_index(fits, budgets=(3e24,), comparison_plan=plan)


def test_comparison_page_has_its_sections(comparison_page):
    for anchor in ("summary", "allocation", "same-runs", "why", "floors", "analyses", "provenance"):
        assert f'<section id="{anchor}">' in comparison_page and f'href="#{anchor}"' in comparison_page
    assert "Counting parameters as Hoffmann did" in comparison_page
    assert "Porian et al.&#39;s configuration" not in comparison_page  # no ladder without Porian's IsoFLOP fits
    assert "3e+24" in comparison_page and "5.76e+23" in comparison_page
    assert "ELPD difference (Chinchilla - Kaplan)" in comparison_page and "Pareto k &gt; 0.7" in comparison_page
    assert 'href="kaplan-like/index.html"' in comparison_page
    assert comparison_page.count("<figure>") == 1


def test_probabilities_of_zero_or_one_are_bounds():
    assert probability_text(1.0, 4000) == "> 0.9998 (every one of 4000 paired draws)"  # escaped by the template
    assert probability_text(0.0, 4000) == "< 0.0003 (none of 4000 paired draws)"
    assert probability_text(0.25, 4000) == "= 0.2500"


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _render(html: str, tmp_path, shot_name: str, height: int, width: int = 1100) -> str:
    """The DOM of ``html`` after load in headless Chromium at ``width`` px, and a screenshot kept in
    test-artifacts/."""
    path = tmp_path / f"{shot_name}.html"
    path.write_text(html)
    flags = [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width},{height}"]
    dom = subprocess.run(["chromium", *flags, "--dump-dom", path.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    shot = REPO / "test-artifacts" / f"{shot_name}.png"
    shot.parent.mkdir(exist_ok=True)
    subprocess.run(["chromium", *flags, f"--screenshot={shot}", path.as_uri()],
                   capture_output=True, timeout=120, check=True)
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (width, height)
        colours = image.convert("RGB").resize((55, height // 20)).getcolors(maxcolors=100000)
    assert len(colours) > 50  # figures and text rendered, not a blank page
    return dom


def _images(dom: str) -> tuple[int, int]:
    body = re.search(r"<body[^>]*>", dom).group(0)
    return int(re.search(r'data-images="(\d+)"', body).group(1)), int(re.search(r'data-broken-images="(\d+)"',
                                                                                 body).group(1))


@pytest.mark.slow  # a browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed (.ci/run installs it)")
def test_comparison_page_renders_in_headless_chromium(tmp_path, comparison_page):
    dom = _render(comparison_page, tmp_path, "comparison_page", 4000)
    for title in ("Summary", "How each analysis splits a budget", "Same runs, both laws", "Why they differ",
                  "Loss floors", "All analyses", "Provenance and diagnostics"):
        assert f">{title}</h2>" in dom
    assert _images(dom) == (comparison_page.count("<img"), 0)  # one figure, also cut into its panels for phones


@pytest.mark.slow  # a browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed (.ci/run installs it)")
def test_page_renders_in_headless_chromium(tmp_path, page):
    dom = _render(page, tmp_path, "fit_page", 5000)
    for title in ("Summary", "Parameters", "Compute-optimal allocation", "Sampler diagnostics", "Provenance"):
        assert f">{title}" in dom
    assert _images(dom) == (page.count("<img"), 0)  # five figures, those of several panels also cut into them


def _widths(dom: str) -> tuple[int, int]:
    """Tables that need scrolling inside their box, and whether the page itself is wider than the window."""
    body = re.search(r"<body[^>]*>", dom).group(0)
    return (int(re.search(r'data-wide-tables="(\d+)"', body).group(1)),
            int(re.search(r'data-page-overflow="(\d+)"', body).group(1)))


@pytest.mark.slow  # a browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed (.ci/run installs it)")
@pytest.mark.parametrize("width", [1280, 420])
def test_no_table_is_wider_than_the_page_on_a_desktop_or_a_phone(tmp_path, page, comparison_page, width):
    for name, html in (("fit_page", page), ("comparison_page", comparison_page)):
        dom = _render(html, tmp_path, f"{name}_{width}", 3000, width)
        assert _widths(dom) == (0, 0), f"{name} at {width} px"


def _calibration_result(coverage_gp: float = 0.85) -> dict:
    """A [calibration] result as calibrate_spec writes it (JSON form), without any fit."""
    rng = np.random.default_rng(0)

    def row(method, fraction, cov90):
        coverage = {"0.5": cov90 - 0.4, "0.8": cov90 - 0.1, "0.9": cov90, "0.95": min(1.0, cov90 + 0.05)}
        return {"fraction": fraction, "method": method, "n_runs": 48, "n_train": 192, "converged": True,
                "seconds": 10.0, "coverage": coverage, "width": {k: 0.02 for k in coverage}, "crps": 0.006,
                **({"log_score": 3.1} if method != "bootstrap" else {})}

    rows = [row(m, f, c) for f in (0.1, 0.2) for m, c in (("bayes", 0.54), ("bayes+discrepancy", coverage_gp),
                                                           ("bootstrap", 0.44))]
    for r in rows[3:]:  # the 20% split held out one IsoFLOP budget with a minimum inside its runs
        wide = r["method"] == "bayes+discrepancy"
        budget = {"compute": 2.95e21, "n_opt": 4.13e9, "lower": 3.2e9 if wide else 5.2e9, "upper": 1.3e10,
                  "covered": wide, "no_minimum": 0.01}
        r["n_opt"] = {"level": 0.9, "budgets": 1, "covered": int(wide), "rows": [budget]}
        r["n_opt_law"] = {"level": 0.9, "budgets": 1, "covered": 0, "rows": [budget | {"covered": False}]}
    ranks = {name: rng.integers(0, 200, 100).tolist() for name in ("E", "A", "alpha")}
    sbc = {"ranks": ranks, "p_values": {"E": 0.4, "A": 0.2, "alpha": 0.05}, "simulations": 100, "skipped": 0,
           "unconverged": 3, "rank_draws": 199, "bins": 20}
    return {"key": "k", "backtest": {"rows": rows, "seconds": 60.0, "replicates": 100}, "sbc": sbc}


def test_calibration_section_shows_coverage_bootstrap_and_rank_histograms():
    from bayes_scaling.report.calibration_section import calibration_section, calibration_summary_section

    anchor, _, html = calibration_section(_calibration_result())
    assert anchor == "calibration" and html.count("<figure>") == 2  # coverage figure and rank histograms
    assert "Bayesian: law + discrepancy" in html and "bootstrap (Huber point fits of resampled runs)" in html
    assert "honest at 2 of 2 cutoffs" in html and "77% to 100% on 48 runs" in html
    assert "No parameter's rank uniformity is rejected" in html and "3 of 100 fits failed" in html
    assert "with R-hat above" not in html  # a result saved before the reasons were counted
    result = _calibration_result()
    assert "each fitted by NUTS;" in html  # a result saved before the sampler settings were recorded
    result["sbc"]["failed"] = {"rhat": 2, "divergences": 1, "ess": 3}
    result["sbc"].update(chains=2, draws=250, tune=250)
    _, _, why = calibration_section(result)
    assert "2 with R-hat above 1.01, 1 with divergences, 3 short of effective draws" in why
    assert "each fitted by NUTS (2 chains of 250 draws after 250 tuning steps)" in why
    _, _, bad = calibration_section(_calibration_result(coverage_gp=0.6))
    assert 'class="bad">With the discrepancy term' in bad and "at 0 of 2 cutoffs" in bad
    summary = calibration_summary_section({"chinchilla": ("chinchilla/index.html", _calibration_result())})
    assert 'href="chinchilla/index.html#calibration"' in summary and "85%" in summary and "0.050" in summary
    assert "1/1 (law 0/1)" in summary and "1/1 (law 0/1)" in html  # held-out N_opt: predictive, then the law's
    assert "[3.2e+09, 1.3e+10]" in html and "[5.2e+09, 1.3e+10] missed" in html  # per-budget table
    assert calibration_summary_section({}) == ""


def test_honesty_allows_what_a_true_90_percent_interval_does_on_that_many_runs():
    """On few held-out runs every run inside a 90% interval is no sign of a too-wide one; on many it is."""
    from bayes_scaling.report.calibration_section import honest_range, is_honest

    assert is_honest(1.0, 26) and is_honest(0.75, 28) and not is_honest(0.6, 28)
    assert not is_honest(1.0, 200) and is_honest(0.9, 200)
    low, high = honest_range(72)
    assert 0.80 < low < 0.82 and 0.96 < high < 0.98


def test_a_page_states_the_coverage_its_calibration_backtests_measured():
    """A spec with [calibration] backtests but no hold-out sensitivity check gets their coverage in its page's header
    note, not "not measured"."""
    from bayes_scaling.report.sensitivity import extrapolation_note

    fit = FitResult(synthetic_tree())
    assert "not measured" in extrapolation_note(fit, [])
    note = extrapolation_note(fit, [], _calibration_result())
    assert "not measured" not in note and "top 20% of compute held out: <strong>85%</strong> of 48 runs" in note
    assert "(law alone: 54%)" in note and 'href="#calibration"' in note


def test_an_unconverged_backtest_split_is_not_scored_anywhere():
    """A refit that failed its diagnostics shows "not scored", never a coverage, and is left out of the verdict."""
    from bayes_scaling.commands.calibrate import format_backtest
    from bayes_scaling.report.calibration_section import calibration_section, calibration_summary_section

    result = _calibration_result()
    for row in result["backtest"]["rows"][3:5]:  # the 20% split's Bayesian rows: the refit did not converge
        row.update(converged=False, scored=False)
    _, _, html = calibration_section(result)
    assert "not scored" in html and "honest at 1 of 1 cutoffs" in html
    summary = calibration_summary_section({"chinchilla": ("chinchilla/index.html", result)})
    assert "not scored" in summary
    text = format_backtest("sim", [{**row, "coverage": {float(k): v for k, v in row["coverage"].items()},
                                    "width": {float(k): v for k, v in row["width"].items()}}
                                   for row in result["backtest"]["rows"]])
    unscored = [line for line in text.splitlines() if "not scored" in line]
    assert len(unscored) == 2 and all(line.count("%") == 1 for line in unscored)  # the held-out fraction only


def test_a_fit_that_declares_no_references_is_compared_with_none():
    """References appear only where the analysis declares them: a user's own fit shows no published values."""
    tree = synthetic_tree()
    tree.attrs["spec"] = '{"sampler": {"draws": 200}}'
    page = render_fit_page(FitResult(tree))
    body = page[page.index("</header>"):]  # the header cites the law's own paper
    for name in ("Hoffmann", "Epoch", "Kaplan"):
        assert name not in body
    assert "a lies in" not in page and "Published compute-optimal sizes" not in page


def test_a_page_that_fails_to_render_leaves_no_files_beside_it(tmp_path, monkeypatch):
    import bayes_scaling.report.fit_page as fit_page
    from bayes_scaling.report.output import write_page
    from bayes_scaling.result import FitResult

    from .conftest import synthetic_tree

    def broken(*args, **kwargs):
        raise RuntimeError("rendering failed")

    monkeypatch.setattr(fit_page, "render_fit_page", broken)
    with pytest.raises(RuntimeError):
        write_page(FitResult(synthetic_tree(draws=100)), tmp_path)
    assert list(tmp_path.iterdir()) == []
