"""The discrepancy GP inside the model: its spectral density is PyMC's Matérn-3/2 and its basis PyMC's HSGP
eigenfunctions, its integrated-out likelihood is the Gaussian with the GP's covariance, its coefficients drawn back
are the exact conditional, and specs pair it with the normal likelihood."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from bayes_scaling.sampling.gp_term import (
    COEFFICIENTS,
    ETA,
    GPTerm,
    coefficient_draws,
    delta_at,
    length_name,
    observe,
    sqrt_spectral_density,
)
from bayes_scaling.spec import SpecError, spec_from_dict

COLUMNS = {"n_params": 10 ** np.linspace(7.5, 9.5, 12).repeat(2), "n_tokens": 10 ** np.tile([9.5, 10.5], 12)}
TERM = GPTerm.for_data(("n_params", "n_tokens"), COLUMNS)
ETA_VALUE, LENGTHS, SIGMA = 0.02, (0.6, 0.9), 0.005


def test_spectral_density_is_pymcs_matern32_with_one_length_scale_per_input():
    import pymc as pm

    omega = TERM.frequencies()
    ours = sqrt_spectral_density(omega, ETA_VALUE, list(LENGTHS)) ** 2
    theirs = ETA_VALUE**2 * pm.gp.cov.Matern32(2, ls=list(LENGTHS)).power_spectral_density(omega).eval()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_basis_is_pymcs_hsgp_eigenfunctions_on_the_box():
    from pymc.gp.hsgp_approx import calc_eigenvalues, calc_eigenvectors

    centred = np.column_stack([np.log10(COLUMNS[name]) - c for name, c in zip(TERM.inputs, TERM.centre, strict=True)])
    eigenvalues = np.asarray(calc_eigenvalues(TERM.box, TERM.shape), dtype=float)
    theirs = calc_eigenvectors(centred, TERM.box, eigenvalues, TERM.shape).eval()
    np.testing.assert_allclose(TERM.basis(COLUMNS), theirs, rtol=0, atol=1e-12)


def _covariance() -> np.ndarray:
    basis = TERM.basis(COLUMNS)
    scale = sqrt_spectral_density(TERM.frequencies(), ETA_VALUE, list(LENGTHS))
    return (basis * scale**2) @ basis.T


def test_integrated_likelihood_is_the_gaussian_with_the_gp_covariance():
    import pymc as pm

    rng = np.random.default_rng(1)
    n = len(COLUMNS["n_params"])
    mu, y = rng.normal(1.0, 0.01, n), rng.normal(1.0, 0.03, n)
    size = int(np.prod(TERM.shape))
    with pm.Model(coords={"run": np.arange(n), "gp_basis_function": np.arange(size),
                          "gp_basis_function_": np.arange(size)}) as model:
        potential = observe(TERM, COLUMNS, mu, y, SIGMA, "run")
    fixed = pm.do(model, {ETA: ETA_VALUE, length_name("n_params"): LENGTHS[0], length_name("n_tokens"): LENGTHS[1]})
    ours = float(fixed[potential.name].eval())
    exact = multivariate_normal(mu, _covariance() + SIGMA**2 * np.eye(n)).logpdf(y)
    assert ours == pytest.approx(exact, rel=1e-9)


def test_coefficients_drawn_back_give_the_exact_conditional_of_the_gp_at_the_runs():
    rng = np.random.default_rng(2)
    n, draws = len(COLUMNS["n_params"]), 4000
    residual = 0.02 * np.sin(np.log10(COLUMNS["n_params"])) + 0.005 * rng.standard_normal(n)
    hyper = {ETA: np.full(draws, ETA_VALUE), length_name("n_params"): np.full(draws, LENGTHS[0]),
             length_name("n_tokens"): np.full(draws, LENGTHS[1])}
    hyper[COEFFICIENTS] = coefficient_draws(TERM, hyper, COLUMNS, np.tile(residual, (draws, 1)),
                                            np.full(draws, SIGMA), rng)
    delta = delta_at(TERM, hyper, COLUMNS)
    k = _covariance()
    gain = k @ np.linalg.inv(k + SIGMA**2 * np.eye(n))
    mean, cov = gain @ residual, k - gain @ k
    np.testing.assert_allclose(delta.mean(axis=0), mean, atol=4 * np.sqrt(cov.diagonal().max() / draws))
    np.testing.assert_allclose(delta.std(axis=0), np.sqrt(cov.diagonal()), rtol=0.08)


def _raw(**extra):
    return {"analysis": {"name": "x", "law": "chinchilla"}, "data": {"dataset": "epoch-chinchilla"}, **extra}


def test_a_gp_inside_the_model_takes_the_normal_likelihood_and_refuses_another():
    assert spec_from_dict(_raw(discrepancy={"gp": "after"})).likelihood == "student_t"
    assert spec_from_dict(_raw()).likelihood == "normal"  # Chinchilla's law samples its GP inside by default
    assert spec_from_dict(_raw(discrepancy={"gp": "after"})).discrepancy == "after"
    inside = spec_from_dict(_raw(discrepancy={"gp": "in_model"}))
    assert (inside.discrepancy, inside.likelihood) == ("in_model", "normal")
    with pytest.raises(SpecError, match="needs the 'normal' likelihood"):
        spec_from_dict(_raw(discrepancy={"gp": "in_model"}, likelihood={"family": "student_t"}))
    with pytest.raises(SpecError, match="gp must be one of"):
        spec_from_dict(_raw(discrepancy={"gp": "inside"}))
    checked = spec_from_dict(_raw(sensitivity=[{"label": "GP inside", "discrepancy": "in_model"}]))
    variant = checked.sensitivity[0].apply(checked)
    assert (variant.discrepancy, variant.likelihood) == ("in_model", "normal")


def test_a_gp_inside_the_model_samples_with_smaller_steps(simulated_frame):
    from bayes_scaling.sampling.run import IN_MODEL_TARGET_ACCEPT, prepare

    raw = {"analysis": {"name": "x", "law": "chinchilla"}, "data": {}, "discrepancy": {"gp": "in_model"}}
    assert prepare(spec_from_dict(raw, in_memory=True), simulated_frame).spec.sampler.target_accept \
        == IN_MODEL_TARGET_ACCEPT
    raw["sampler"] = {"target_accept": 0.995}  # a stricter setting is kept
    assert prepare(spec_from_dict(raw, in_memory=True), simulated_frame).spec.sampler.target_accept == 0.995
    raw["discrepancy"] = {"gp": "after"}
    del raw["sampler"]
    assert prepare(spec_from_dict(raw, in_memory=True), simulated_frame).spec.sampler.target_accept == 0.95


def test_a_laws_default_discrepancy_is_what_a_spec_the_command_line_and_python_get_unless_told(monkeypatch):
    from bayes_scaling.cli import build_parser
    from bayes_scaling.commands.arguments import spec_from_args
    from bayes_scaling.laws import get_law

    law = type(get_law("chinchilla"))
    for default in ("after", "in_model"):
        monkeypatch.setattr(law, "default_discrepancy", default)
        likelihood = "normal" if default == "in_model" else "student_t"
        assert (spec_from_dict(_raw()).discrepancy, spec_from_dict(_raw()).likelihood) == (default, likelihood)
        args = build_parser().parse_args(["fit", "--law", "chinchilla", "--data", "runs.csv", "--out", "o"])
        assert (spec_from_args(args).discrepancy, spec_from_args(args).likelihood) == (default, likelihood)
        for flag, expected in (("after", ("after", "student_t")), ("in-model", ("in_model", "normal"))):
            args = build_parser().parse_args(["fit", "--law", "chinchilla", "--data", "runs.csv", "--out", "o",
                                              "--discrepancy", flag])
            assert (spec_from_args(args).discrepancy, spec_from_args(args).likelihood) == expected
        stated = spec_from_dict(_raw(discrepancy={"gp": "after"}))  # a spec that says keeps what it says
        assert (stated.discrepancy, stated.likelihood) == ("after", "student_t")
