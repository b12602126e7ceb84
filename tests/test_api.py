"""The Python API: a fit from a DataFrame with the user's column names and units, its summary, predictive draws,
plan, score, notebook view, and save/load with the same numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayes_scaling as bs
from bayes_scaling.analysis.planning import LAW_ONLY_IN_MODEL
from bayes_scaling.data.errors import DataError
from bayes_scaling.spec import SpecError

SMALL = {"draws": 500, "tune": 500, "chains": 2, "seed": 5}


@pytest.fixture(scope="module")
def user_frame(simulated_frame) -> pd.DataFrame:
    """The simulated runs as a user might keep them: their own column names, loss in bits, no compute column."""
    return pd.DataFrame({"params": simulated_frame["n_params"], "tokens": simulated_frame["n_tokens"],
                         "val_loss_bits": simulated_frame["loss"] / np.log(2.0)})


@pytest.fixture(scope="module")
def fitted(user_frame) -> bs.ScalingFit:
    return bs.fit(user_frame, law="chinchilla", name="user-runs", sampler=SMALL,
                  columns={"n_params": "params", "n_tokens": "tokens", "loss": "val_loss_bits"},
                  units={"loss": "bits"})


def test_a_dataframe_in_the_users_columns_and_bits_fits_to_the_true_floor(fitted):
    summary = fitted.summary()
    assert list(summary.columns) == ["median", "lower", "upper", "r_hat", "ess_bulk", "ess_tail", "prior_sd_ratio"]
    assert {"E", "A", "B", "alpha", "beta"} <= set(summary.index)
    assert summary.loc["E", "lower"] < 1.8 < summary.loc["E", "upper"]  # converted from bits to nats
    assert summary.attrs["verdict"] == fitted.diagnostics.verdict()
    assert fitted.units["loss"] == "nats per token"
    assert fitted.name == "user-runs"
    assert "in memory" in fitted.tree.attrs["data_source"]


def test_predictive_draws_have_chain_draw_point_dims_and_widen_with_noise_and_discrepancy(fitted):
    law_only = fitted.predictive(n_params=[1e8, 1e10], compute=[1e20, 1e23], discrepancy=False, noise=False)
    whole = fitted.predictive(n_params=[1e8, 1e10], compute=[1e20, 1e23])
    assert whole.dims == ("chain", "draw", "point") and whole.sizes["point"] == 2
    assert np.allclose(whole["n_tokens"].values, [1e20 / 6e8, 1e23 / 6e10])
    assert np.all(_width(whole) > _width(law_only))
    assert whole.attrs["decades_beyond_data"] > 1  # 1e23 is past the largest budget, 3e21
    assert np.array_equal(whole.values, fitted.predictive(n_params=[1e8, 1e10], compute=[1e20, 1e23]).values)


def test_plan_is_a_tidy_table_with_one_whole_answer_per_budget_and_the_law_beside_it(fitted):
    frame = fitted.plan(compute=1e22, params=1e9, target_loss=2.2)
    assert set(frame["question"]) == {"budget", "model size", "target loss"}
    budget = frame[frame["question"] == "budget"]
    assert set(budget["answer"]) == {"whole", "law only"}
    n_opt = budget[(budget["quantity"] == "n_params") & (budget["answer"] == "whole")].iloc[0]
    law = budget[(budget["quantity"] == "n_params") & (budget["answer"] == "law only")].iloc[0]
    assert n_opt["lower"] < n_opt["median"] < n_opt["upper"] and n_opt["unit"] == "parameters"
    assert law["lower"] < law["median"] < law["upper"]
    # the default fit samples the GP with the law, so the law alone's parameters carry the misfit (and it says so)
    assert frame.attrs["plan"]["compute"][0]["law_only"]["includes"] == LAW_ONLY_IN_MODEL
    assert n_opt["decades_beyond"] == pytest.approx(np.log10(1e22 / 3e21), abs=0.01)
    assert set(frame.loc[frame["question"] != "budget", "answer"]) == {"law only"}
    assert frame.attrs["plan"]["compute"][0]["compute"] == 1e22


def test_score_reads_new_runs_like_a_fit_and_returns_one_row_per_run(fitted, simulated_frame):
    new = simulated_frame[simulated_frame["compute"] >= 1e21]
    frame = fitted.score(new)
    assert len(frame) == len(new)
    assert {"median", "lower_90", "upper_90", "covered_90", "decades_beyond"} <= set(frame.columns)
    assert "verdict" in frame.attrs and frame.attrs["summary"]["n_runs"] == len(new)
    assert frame.attrs["summary"]["window"] is None and not frame["outside_window"].any()  # no window: none beyond
    with pytest.raises(DataError, match="loss"):
        fitted.score(new.drop(columns=["loss"]))


def test_save_and_load_give_the_same_numbers(fitted, tmp_path):
    path = fitted.save(tmp_path / "mine")
    assert path.name == "posterior.nc"
    again = bs.load(tmp_path / "mine")
    assert isinstance(again, bs.ScalingFit)
    pd.testing.assert_frame_equal(again.summary(), fitted.summary())


def test_the_notebook_view_shows_the_verdict_and_the_parameters(fitted):
    html = fitted._repr_html_()
    assert "user-runs" in html and "alpha" in html and "R-hat" in html
    assert "<script" not in html


def test_bad_input_is_refused_before_sampling_with_the_column_and_row(user_frame):
    broken = user_frame.copy()
    broken.loc[3, "params"] = -5.0
    with pytest.raises(DataError, match=r"params.*row 4|row 4.*params"):
        bs.fit(broken, law="chinchilla", columns={"n_params": "params", "n_tokens": "tokens",
                                                  "loss": "val_loss_bits"}, units={"loss": "bits"})
    with pytest.raises(SpecError, match="law"):
        bs.fit(user_frame, law="no-such-law")
    with pytest.raises(SpecError, match="draws"):
        bs.fit(user_frame, law="chinchilla", sampler={"draws": "many"})
    with pytest.raises(DataError, match="list"):
        bs.fit([1, 2, 3], law="chinchilla")


def _width(draws):
    """Width of the central 90% interval of each point's draws."""
    return (draws.quantile(0.95, dim=["chain", "draw"]) - draws.quantile(0.05, dim=["chain", "draw"])).values


def test_many_runs_keep_every_posterior_draw_and_evenly_spaced_draws_in_the_per_run_groups(user_frame, monkeypatch):
    """Per-run groups are thinned to a size (a 100,000-run fit keeps 62 draws a chain there), the posterior is not;
    PSIS-LOO and the pages work from the thinned draws."""
    import bayes_scaling.sampling.tree as tree_module
    from bayes_scaling.sampling.diagnostics import loo_summary

    monkeypatch.setattr(tree_module, "MOST_STORED", 2 * 60 * 50)  # 2 chains x 60 runs x 50 draws
    thinned = bs.fit(user_frame, law="chinchilla", sampler=SMALL,
                     columns={"n_params": "params", "n_tokens": "tokens", "loss": "val_loss_bits"},
                     units={"loss": "bits"}, discrepancy="after")  # storage, with the faster fit
    assert thinned.posterior.sizes["draw"] >= 500  # every draw (more if the fit was sampled again, longer)
    assert thinned.tree["log_likelihood"].sizes["draw"] == 50 == thinned.tree["posterior_predictive"].sizes["draw"]
    assert np.isfinite(loo_summary(thinned.tree).elpd)
    monkeypatch.undo()
    np.testing.assert_array_equal(tree_module.stored_draws(4, 1000, 240), np.arange(1000))  # Epoch's size keeps all
    assert tree_module.stored_draws(4, 1000, 100_000).size == 62
