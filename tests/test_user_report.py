"""A report on a user's own runs: pages about their data (no paper named unless the analysis declares it), an answer
box at the top of the fit page, and plan.json and quantiles.csv beside it."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from bayes_scaling.report.build import build_report

PAPERS = re.compile(r"kaplan|chinchilla|gopher|hoffmann|epoch|porian", re.IGNORECASE)


@pytest.fixture(scope="module")
def user_report(tmp_path_factory, simulated_frame):
    root = tmp_path_factory.mktemp("user")
    models = root / "models"
    models.mkdir()
    runs = simulated_frame.rename(columns={"n_params": "params", "n_tokens": "tokens", "loss": "val_loss"})
    runs.drop(columns=["compute"]).to_csv(models / "sweep.csv", index=False)
    (models / "mine.toml").write_text(
        '[analysis]\nname = "mine"\ntitle = "My sweep"\nlaw = "chinchilla"\n\n'
        '[data]\ncsv = "sweep.csv"\ncolumns = { n_params = "params", n_tokens = "tokens", loss = "val_loss" }\n\n'
        '[sampler]\ndraws = 500\ntune = 500\nchains = 2\n\n[plan]\nbudgets = [3e21, 3e23]\n')
    build_report([str(models)], root / "report")
    return root / "report"


def _visible(path) -> str:
    """A page's text and attributes without its inlined images."""
    return re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", path.read_text())


def test_pages_about_a_users_runs_name_no_paper(user_report):
    for page in (user_report / "index.html", user_report / "mine" / "index.html"):
        found = PAPERS.findall(_visible(page))
        assert not found, f"{page}: {sorted(set(found))}"
    assert "Scaling-law fits" in (user_report / "index.html").read_text()


def test_the_fit_page_opens_with_the_answer_at_its_budgets(user_report):
    page = (user_report / "mine" / "index.html").read_text()
    assert page.index('id="answer"') < page.index('id="summary"')
    answer = page[page.index('id="answer"'):page.index('id="summary"')]
    assert "At 3e+21 FLOP (within the compute range of the runs)" in answer
    assert "At 3e+23 FLOP (2.0 decades of compute beyond the largest run)" in answer
    assert "Warning" in answer  # past the 1.5 decades the extrapolation error was checked at
    assert "keeps the loss within 0.50% of the best size" in answer and answer.count("<figure>") == 1


def test_plan_json_and_quantiles_csv_sit_beside_the_page(user_report):
    plan = json.loads((user_report / "mine" / "plan.json").read_text())
    assert plan["schema_version"] == 2 and [row["compute"] for row in plan["compute"]] == [3e21, 3e23]
    quantiles = pd.read_csv(user_report / "mine" / "quantiles.csv")
    assert {"parameter", "budget"} == set(quantiles["section"])
    n_opt = quantiles[(quantiles["section"] == "budget") & (quantiles["name"] == "n_params")
                      & (quantiles["answer"] == "whole")]
    assert list(n_opt["value"]) == [3e21, 3e23] and (n_opt["lower"] < n_opt["upper"]).all()


def test_a_warm_report_reads_no_posterior(user_report, monkeypatch):
    """Nothing changed: every fit is known by its attributes and every page is unchanged, so no posterior.nc is read
    (a cold report's pages read them; a warm one takes seconds)."""
    import bayes_scaling.result as result

    def refuse(path):
        raise AssertionError(f"read {path}")

    monkeypatch.setattr(result, "load_tree", refuse)
    summary = build_report([str(user_report.parent / "models")], user_report)
    assert (summary.sampled, summary.reused, summary.rendered) == (0, 1, 0)
    assert summary.fits["mine"]._tree is None  # still known by its attributes alone
