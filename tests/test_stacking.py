"""Stacking laws by their leave-future-out scores: the weights, which refit scores a held-out run, refusals, and a
simulated sweep where one law is the truth."""

import numpy as np
import pytest

from bayes_scaling.analysis.stacking import first_held_out, pointwise_log_scores, stacking_weights
from bayes_scaling.result import FitResult
from bayes_scaling.uncertainty.extrapolation import OwnErrors

from .conftest import TRUE_PARAMS, synthetic_tree


def test_weights_go_to_the_law_that_predicts_the_held_out_runs_and_split_between_equals():
    rng = np.random.default_rng(0)
    good = -0.5 * rng.standard_normal(40) ** 2
    bad = good - 3.0 - rng.random(40)
    weights = stacking_weights(np.vstack([bad, good]))
    assert weights[1] > 0.99 and weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(stacking_weights(np.vstack([good, good])), [0.5, 0.5], atol=1e-3)
    # two laws each right on half the runs: the mixture beats either, both keep weight
    mixed = stacking_weights(np.vstack([np.r_[good[:20], bad[20:]], np.r_[bad[:20], good[20:]]]))
    assert 0.3 < mixed[0] < 0.7


def test_a_held_out_run_is_scored_by_the_first_refit_that_held_it_out():
    own = OwnErrors(errors=np.array([0.3, 0.1, 0.2]), variances=np.array([1.0, 2.0, 3.0]),
                    distances=np.zeros(3), refits=np.array([2.0, 0.0, 1.0]), budgets=np.array([7.0, 7.0, 8.0]),
                    rows=np.array([11.0, 11.0, 12.0]))
    assert first_held_out(own) == {11.0: (0.1, 2.0, 7.0), 12.0: (0.2, 3.0, 8.0)}
    assert OwnErrors.from_dict({k: v for k, v in own.to_dict().items() if k != "rows"}).rows.size == 0


def test_fits_without_stored_held_out_scores_are_refused():
    fit = FitResult(synthetic_tree())
    with pytest.raises(ValueError, match="stores no leave-future-out scores"):
        pointwise_log_scores([fit, fit])


@pytest.mark.slow
def test_on_a_sweep_simulated_from_chinchillas_law_stacking_puts_its_weight_on_it(tmp_path, capsys):
    from bayes_scaling import api
    from bayes_scaling.analysis.stacking import stack
    from bayes_scaling.laws import get_law
    from bayes_scaling.validation.simulate import isoflop_design

    law = get_law("chinchilla")
    design = isoflop_design(np.logspace(18, 21, 7), sizes_per_budget=9, spread_dex=1.2)
    inputs = {k: design[k].to_numpy() for k in law.inputs}
    rng = np.random.default_rng(5)
    frame = design.assign(loss=np.exp(np.log(law.loss(**inputs, **TRUE_PARAMS)) + 0.003 * rng.standard_normal(
        len(design))))
    fits = [api.fit(frame, law=name, sampler={"seed": 1}, name=name) for name in ("chinchilla", "kaplan_joint")]
    found = stack(fits)
    assert found.names == ("chinchilla", "kaplan_joint") and found.points >= 10
    assert found.weights[0] >= 0.8, found.describe()
    import json

    from bayes_scaling.cli import main

    paths = [str(fit.save(tmp_path / fit.name)) for fit in fits]
    capsys.readouterr()
    assert main(["stack", *paths, "--compute", "1e23", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["schema_version"] == 1 and set(result["weights"]) == {"chinchilla", "kaplan_joint"}
    stacked = result["stacked"]["n_params"]
    assert stacked["lower"] < stacked["median"] < stacked["upper"] and stacked["level"] == 0.9
    assert main(["plan", paths[0], "--compute", "1e23", "--stack-with", paths[1], "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned["stacked"][0]["weights"] == result["weights"]
    assert main(["plan", paths[0], "--params", "1e9", "--stack-with", paths[1]]) == 2  # needs --compute
    from bayes_scaling.report.stacking_section import stacking_section

    anchor, _, html = stacking_section(fits[0], fits, [1e23, 1e24])
    assert anchor == "stacking" and html.count(">stacked<") == 2  # one stacked row per budget
    assert f"{result['weights']['chinchilla']:.2f}" in html and "chinchilla (this page)" in html


def _old_epoch_fits() -> dict[str, FitResult]:
    """Synthetic fits under the names of the comparison plan's stacked group, without stored held-out scores."""
    fits = {}
    for k, name in enumerate(("chinchilla", "epoch-isoflop", "epoch-kaplan-joint")):
        tree = synthetic_tree(seed=k)
        tree.attrs["analysis"] = name
        fits[name] = FitResult(tree)
    return fits


def test_a_fit_page_stacks_only_a_whole_group_and_says_why_it_cannot():
    from bayes_scaling.report.stacking_section import stacking_group, stacking_section

    fits = _old_epoch_fits()
    group = stacking_group("epoch-isoflop", fits)
    assert [fit.name for fit in group] == ["chinchilla", "epoch-isoflop", "epoch-kaplan-joint"]
    assert stacking_group("epoch-isoflop", {k: v for k, v in fits.items() if k != "chinchilla"}) == []
    assert stacking_group("porian-rw-tuned-isoflop", fits) == []
    _, _, html = stacking_section(fits["chinchilla"], group, [1e23])
    assert "stores no leave-future-out scores" in html


def test_the_comparison_page_says_why_it_cannot_stack_old_fits():
    from bayes_scaling.report.comparison import ComparisonPlan, stacking_table

    fits = _old_epoch_fits()
    html = str(stacking_table(fits, ComparisonPlan()))
    assert "stores no leave-future-out scores" in html and "refit it with this version" in html
    assert stacking_table({}, ComparisonPlan()) is None
