"""Kaplan's L(N, S) on Li et al. 2025's runs (the shipped spec): a full report, converged, beside Kaplan's Table 3."""

import re

import pytest

from bayes_scaling.cli import main
from bayes_scaling.result import load

from .conftest import REPO

pytestmark = pytest.mark.slow  # two full-size fits and their pages (about 40 CPU s)

NAME = "li2025-kaplan-steps"


@pytest.fixture(scope="module")
def report(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("learning-curves")
    code = main(["-q", "report", str(REPO / "models" / f"{NAME}.toml"), "--out", str(out), "--scheduler", "serial"])
    return code, out


def test_steps_law_converges_with_exponents_near_kaplans(report):
    code, out = report
    assert code == 0
    fit = load(out / NAME)
    assert fit.converged and fit.law.name == "kaplan_steps" and len(fit.runs["run"]) == 81
    summary = fit.summary(0.9)
    alpha_n, alpha_s = summary.loc["alpha_N"], summary.loc["alpha_S"]
    # Loose bounds on what these 81 runs say, not the values themselves: a power law in N as shallow as Kaplan's,
    # steps well below one power (Kaplan: 0.077 and 0.76)
    assert 0.02 < alpha_n["lower"] < alpha_n["upper"] < 0.12
    assert 0.4 < alpha_s["lower"] < alpha_s["upper"] < 1.1
    assert alpha_s["upper"] - alpha_s["lower"] < 0.2  # identified by the data, not by the prior (sd 0.5)


def test_pages_show_the_curves_the_checkpoints_and_kaplans_values(report):
    _, out = report
    page = (out / NAME / "index.html").read_text()
    assert "Which checkpoints, and why: the final checkpoint" in page
    assert "loss against S per model size" in page  # the figure's alt text
    assert "Sensitivity checks" in page and "N counts embeddings" in page
    comparison = (out / "index.html").read_text()
    section = comparison[comparison.index('id="learning-curves"'):]
    section = section[:section.index("</section>")]
    assert "Kaplan et al. 2020 (eq. 1.6, Table 3)" in section
    assert re.search(r">0\.077<.*>0\.76<", section, re.S)
    assert section.count("converged") == 2  # the fit and its check, each with its verdict
