"""Muennighoff et al. 2023's data-constrained law, added as one law file and one input: it fits runs simulated from
it through the ordinary path (CSV with a unique_tokens column, validation, NUTS, discrepancy) and recovers how fast
repeated tokens lose their worth."""

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.laws import get_law
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.result import FitResult
from bayes_scaling.sampling.run import prepare
from bayes_scaling.spec import AnalysisSpec, DataSpec, SamplerSpec
from bayes_scaling.uncertainty import fit_with_uncertainty
from bayes_scaling.validation.simulate import simulate_runs

TRUTH = {"E": 1.8, "A": 450.0, "B": 1800.0, "alpha": 0.34, "beta": 0.36, "R_star": 15.0}


def test_repeated_tokens_are_worth_less_and_saturate():
    law = get_law("muennighoff")
    fresh = law.loss(n_params=1e9, n_tokens=2e10, unique_tokens=2e10, **TRUTH)
    chinchilla = get_law("chinchilla").loss(n_params=1e9, n_tokens=2e10, **{k: TRUTH[k] for k in
                                                                             ("E", "A", "B", "alpha", "beta")})
    assert fresh == pytest.approx(chinchilla)  # one epoch: Chinchilla's law
    four_epochs = law.loss(n_params=1e9, n_tokens=2e10, unique_tokens=5e9, **TRUTH)
    assert fresh < four_epochs < law.loss(n_params=1e9, n_tokens=5e9, unique_tokens=5e9, **TRUTH)
    endless = law.loss(n_params=1e9, n_tokens=5e9 * 1e4, unique_tokens=5e9, **TRUTH)
    saturated = law.loss(n_params=1e9, n_tokens=5e9 * (1 + TRUTH["R_star"]), unique_tokens=5e9,
                         **{**TRUTH, "R_star": 1e9})  # fresh data worth U_D (1 + R*)
    assert endless == pytest.approx(saturated, rel=1e-6)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """Runs at six sizes, two unique-data budgets and six epoch counts (1 to 40), fitted by NUTS."""
    law = get_law("muennighoff")
    rows = [{"n_params": n, "unique_tokens": ratio * n, "n_tokens": ratio * n * epochs}
            for n in np.logspace(7, 9, 6) for ratio in (2.0, 8.0) for epochs in (1, 2, 4, 8, 16, 40)]
    runs = simulate_runs(law, TRUTH, pd.DataFrame(rows), get_likelihood("normal"), {"sigma": 0.005}, seed=3)
    csv = tmp_path_factory.mktemp("muennighoff") / "runs.csv"
    runs.to_csv(csv, index=False)
    spec = AnalysisSpec(name="muennighoff-sim", law="muennighoff", data=DataSpec(csv=str(csv)), likelihood="normal",
                        sampler=SamplerSpec(draws=500, tune=700, chains=2, seed=11))
    return FitResult(fit_with_uncertainty(prepare(spec)))


def test_the_law_fits_its_simulated_runs_and_recovers_them(fitted):
    assert fitted.converged, fitted.diagnostics.verdict()
    assert "unique_tokens" in fitted.runs and fitted.law.inputs == ("n_params", "n_tokens", "unique_tokens")
    for name, truth in TRUTH.items():
        low, high = (float(v) for v in fitted.posterior[name].quantile([0.02, 0.98]))
        assert low < truth < high, (name, low, high)
    r_star = fitted.posterior["R_star"]
    assert 5 < float(r_star.median()) < 45  # the prior alone spans 2 to 107: the runs narrowed it
    assert float(r_star.quantile(0.95) / r_star.quantile(0.05)) < 20


def test_the_command_line_has_a_flag_for_the_new_input():
    from bayes_scaling.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices["fit"]
    assert "--unique-tokens-col" in sub.format_help()
