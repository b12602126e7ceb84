import numpy as np
import pytest

from bayes_scaling.result import FitResult
from bayes_scaling.validation.holdout import _crps, heldout_runs, predictive_score

from .conftest import synthetic_tree


def test_crps_matches_its_definition():
    rng = np.random.default_rng(0)
    samples, observed = rng.normal(size=(400, 3)), np.array([0.0, 1.0, -2.0])
    pairwise = np.mean(np.abs(samples[:, None, :] - samples[None, :, :]), axis=(0, 1))
    direct = np.mean(np.abs(samples - observed), axis=0) - 0.5 * pairwise
    assert _crps(samples, observed) == pytest.approx(direct, rel=1e-10)


def test_a_fit_scores_runs_from_its_own_law_well_and_shifted_runs_badly():
    fit = FitResult(synthetic_tree(draws=300))
    runs = fit.runs
    honest = predictive_score(fit, runs, seed=1)
    assert honest["n_runs"] == runs.sizes["run"]
    assert 0.75 <= honest["coverage"][0.9] <= 1.0
    assert honest["width"][0.5] < honest["width"][0.9] < honest["width"][0.95]
    shifted = runs.assign(loss=runs["loss"] * 1.2)
    bad = predictive_score(fit, shifted, seed=1)
    assert bad["coverage"][0.9] < 0.2 and bad["log_score"] < honest["log_score"] - 3 and bad["crps"] > honest["crps"]
    assert predictive_score(fit, runs, seed=1) == honest  # seeded


def test_heldout_runs_are_the_complement():
    full = FitResult(synthetic_tree())
    tree = synthetic_tree()
    partial = FitResult(tree)
    partial.tree["constant_data"] = tree["constant_data"].to_dataset().isel(run=slice(0, 10))
    held = heldout_runs(full, partial)
    assert held["run"].values.tolist() == full.runs["run"].values[10:].tolist()


BUDGETS, OPTIMA = [1e20, 1e21], [2e9, 6e9]


def _parabola_runs():
    """9 runs per IsoFLOP budget whose log loss is an exact parabola in log N with its vertex at the budget's N_opt."""
    import xarray as xr

    rows = []
    for compute, n_opt in zip(BUDGETS, OPTIMA, strict=True):
        for n in n_opt * np.geomspace(0.2, 5.0, 9):
            rows.append((n, compute / (6 * n), compute, 2.0 * np.exp(0.05 * np.log(n / n_opt) ** 2)))
    n, d, c, loss = map(np.array, zip(*rows, strict=True))
    return xr.Dataset({"n_params": ("run", n), "n_tokens": ("run", d), "compute": ("run", c), "loss": ("run", loss)})


def test_held_out_budgets_optimum_is_the_profile_vertex_and_is_checked_against_the_interval():
    from bayes_scaling.validation.holdout import empirical_optima, optimum_coverage

    runs = _parabola_runs()
    optima = empirical_optima(runs)
    assert [c for c, _ in optima] == pytest.approx(BUDGETS) and [o for _, o in optima] == pytest.approx(OPTIMA)
    draws = np.random.default_rng(0)
    checked = optimum_coverage(lambda c: (2e9 if c < 5e20 else 2e10) * np.exp(0.1 * draws.standard_normal(400)),
                               optima)
    assert (checked["budgets"], checked["covered"]) == (2, 1)  # the second interval misses 6e9
    assert [row["covered"] for row in checked["rows"]] == [True, False]


def test_predictive_optimum_check_scores_the_noisy_vertex_against_draws_of_the_same_estimate():
    """Runs on exact parabolas in log N: draws of the profile with noise give intervals around the true vertex;
    draws centred on a shifted profile miss it; draws with no minimum are counted, not used."""
    from bayes_scaling.validation.holdout import predictive_optimum_coverage

    runs = _parabola_runs()
    rng = np.random.default_rng(0)

    def profile(budget, shift=1.0):
        log_n = np.log(budget["n_params"].values)
        centre = np.log(shift * (2e9 if budget["compute"].values[0] < 5e20 else 6e9))
        return np.log(2.0) + 0.05 * (log_n - centre)[None, :] ** 2 + 0.002 * rng.standard_normal((500, log_n.size))

    honest = predictive_optimum_coverage(profile, runs)
    assert (honest["budgets"], honest["covered"]) == (2, 2)
    assert all(row["lower"] < row["n_opt"] < row["upper"] < 3 * row["n_opt"] for row in honest["rows"])
    shifted = predictive_optimum_coverage(lambda budget: profile(budget, shift=3.0), runs)
    assert shifted["covered"] == 0
    flat = predictive_optimum_coverage(lambda budget: -profile(budget), runs)  # every draw opens downward
    assert flat is None
    assert predictive_optimum_coverage(profile, runs.isel(run=slice(0, 3))) is None  # no budget of 5 runs


def test_coverage_per_budget_weighs_each_budget_once():
    """Two budgets: one of 9 runs all inside, one of 1 run outside: per run 90%, per budget 50%."""
    from bayes_scaling.validation.holdout import sample_scores

    rng = np.random.default_rng(0)
    samples = rng.normal(0.0, 1.0, size=(4000, 10))
    observed = np.array([0.0] * 9 + [5.0])
    scores = sample_scores(samples, observed, budgets=np.array([0] * 9 + [1]))
    assert scores["coverage"][0.9] == pytest.approx(0.9)
    assert scores["budget_coverage"][0.9] == pytest.approx(0.5) and scores["n_budgets"] == 2


def test_binomial_quantile_is_scipy_stats_binom_ppf():
    from scipy.stats import binom

    from bayes_scaling.validation.holdout import binomial_quantile

    for n in (*range(1, 120), 500, 2500):
        for p in (0.5, 0.8, 0.9, 0.95):
            for q in (0.005, 0.995):  # the honest band's (at a q the CDF hits exactly, rounding may differ)
                assert binomial_quantile(q, n, p) == binom.ppf(q, n, p), (q, n, p)
