"""Law functions against hand-written numpy, and every registered law through the model builder."""

import numpy as np
import pytest
import xarray as xr

from bayes_scaling.data.runs import RunTable
from bayes_scaling.laws import LAWS, get_law
from bayes_scaling.likelihoods import LIKELIHOODS, get_likelihood
from bayes_scaling.priors import PriorError
from bayes_scaling.sampling.model import all_priors, build_model, natural_parameters

from .conftest import TRUE_PARAMS

#: PyTensor mode for checking densities: the Python linker, seconds faster to compile than the sampler's numba one
FAST = "FAST_COMPILE"


def test_chinchilla_loss_matches_hand_written_numpy():
    law = get_law("chinchilla")
    n, d = np.array([1e8, 7e10]), np.array([2e9, 1.4e12])
    expected = 1.69 + 406.4 / n**0.34 + 410.7 / d**0.28
    got = law.loss(n_params=n, n_tokens=d, E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_chinchilla_loss_broadcasts_over_xarray_draws():
    law = get_law("chinchilla")
    params = {k: xr.DataArray(np.full((2, 3), v), dims=("chain", "draw")) for k, v in TRUE_PARAMS.items()}
    n = xr.DataArray([1e9, 1e10], dims="point")
    out = law.loss(n_params=n, n_tokens=20 * n, **params)
    assert out.dims == ("chain", "draw", "point")


def test_chinchilla_allocation_is_the_constrained_minimum():
    law = get_law("chinchilla")
    compute = 5.76e23
    alloc = law.optimal_allocation(compute, **TRUE_PARAMS)
    assert 6 * alloc["n_params"] * alloc["n_tokens"] == pytest.approx(compute, rel=1e-10)
    grid = alloc["n_params"] * np.geomspace(0.5, 2.0, 201)
    losses = law.loss(n_params=grid, n_tokens=compute / (6 * grid), **TRUE_PARAMS)
    assert np.argmin(losses) == 100  # the middle of the grid is the closed-form optimum
    exps = law.allocation_exponents(**TRUE_PARAMS)
    assert exps["a"] + exps["b"] == pytest.approx(1.0)
    assert exps["a"] == pytest.approx(0.36 / 0.70)


def test_hoffmann_published_allocation_reproduces_their_exponent():
    law = get_law("chinchilla")
    hoffmann = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
    n1 = law.optimal_allocation(1e22, **hoffmann)["n_params"]
    n2 = law.optimal_allocation(1e24, **hoffmann)["n_params"]
    assert np.log(n2 / n1) / np.log(100) == pytest.approx(0.28 / 0.62)


def test_unknown_law_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown law 'kaplann'; valid: chinchilla"):
        get_law("kaplann")


def _with_every_input(runs: RunTable, law) -> RunTable:
    """The runs, with any input of ``law`` they lack (one beyond N, D and C) spread log-uniformly over 1e6 to 1e10
    (seeded): enough to build the model and take its gradient."""
    missing = [name for name in law.inputs if name not in runs.frame]
    rng = np.random.default_rng(0)
    extra = {name: 10.0 ** rng.uniform(6.0, 10.0, len(runs)) for name in missing}
    return runs.with_frame(runs.frame.assign(**extra), "test inputs") if extra else runs


@pytest.mark.parametrize("likelihood_name", sorted(LIKELIHOODS))
@pytest.mark.parametrize("law_name", sorted(LAWS))
@pytest.mark.parametrize("geometry", ["centred", "naive"])
def test_every_law_builds_with_finite_gradient(law_name, likelihood_name, geometry, simulated_runs: RunTable):
    law, likelihood = get_law(law_name), get_likelihood(likelihood_name)
    priors = all_priors(law, likelihood)
    assert set(law.default_priors) == set(law.parameters)
    assert all(t.amplitude in law.parameters and t.exponent in law.parameters for t in law.power_terms)
    built = build_model(law, _with_every_input(simulated_runs, law), likelihood, priors, geometry)
    model = built.model
    point = model.initial_point(0)
    logp = model.compile_logp(mode=FAST)(point)
    grad = model.compile_dlogp(mode=FAST)(point)
    assert np.isfinite(logp)
    assert np.all(np.isfinite(grad))
    assert set(built.sampled_names) == {v.name for v in model.free_RVs}


@pytest.mark.parametrize("amplitude_prior", ["centre", "value"])
def test_centred_and_naive_geometries_share_one_posterior_density(simulated_runs, amplitude_prior):
    """The centred coordinates are a unit-Jacobian shear of log A: both log densities agree at matching points,
    with the amplitudes' prior on the term at the data centre (the default) or on A itself."""
    law, likelihood = get_law("chinchilla"), get_likelihood("student_t")
    value_prior = {"dist": "LogNormal", "mu": 6.0, "sigma": 3.0}
    priors = all_priors(law, likelihood, {"A": value_prior, "B": value_prior} if amplitude_prior == "value" else {})
    assert priors["A"].at_centre == (amplitude_prior == "centre")
    centred = build_model(law, simulated_runs, likelihood, priors, "centred")
    naive = build_model(law, simulated_runs, likelihood, priors, "naive")
    logp_centred, logp_naive = centred.model.compile_logp(mode=FAST), naive.model.compile_logp(mode=FAST)
    log_key = "_log" if amplitude_prior == "centre" else "_log__"  # a Flat log-amplitude, or PyMC's log transform
    rng = np.random.default_rng(3)
    for _ in range(5):
        values = {"E": 1.7 + 0.2 * rng.random(), "alpha": 0.3 + 0.1 * rng.random(), "beta": 0.3 + 0.1 * rng.random(),
                  "A": 300 + 300 * rng.random(), "B": 1000 + 1000 * rng.random(), "sigma": 0.02, "nu": 4.0}
        naive_point = {f"{k}{log_key if k in 'AB' else '_log__'}": np.log(v) for k, v in values.items()}
        centred_point = {k: v for k, v in naive_point.items() if k[0] not in "AB"}
        centred_point["A_centred"] = np.log(values["A"]) - values["alpha"] * centred.centres["n_params"]
        centred_point["B_centred"] = np.log(values["B"]) - values["beta"] * centred.centres["n_tokens"]
        assert logp_centred(centred_point) == pytest.approx(logp_naive(naive_point), rel=1e-10)
        for built, point in ((centred, centred_point), (naive, naive_point)):
            back = natural_parameters(built, {**values, **point} if built is centred else
                                      {**values, "A_log": point.get("A_log"), "B_log": point.get("B_log")}
                                      if amplitude_prior == "centre" else values)
            assert back["A"] == pytest.approx(values["A"]) and back["B"] == pytest.approx(values["B"])


def test_a_centre_prior_is_a_prior_on_the_term_at_the_data_centre(simulated_runs):
    """Forward prior draws put the N term A / N_bar^alpha at the centre where its prior says, whatever alpha is."""
    from bayes_scaling.sampling.model import centre_of, prior_draws

    law, likelihood = get_law("chinchilla"), get_likelihood("student_t")
    priors = all_priors(law, likelihood)
    draws = prior_draws(law, likelihood, priors, simulated_runs, np.random.default_rng(0), 4000)
    log_term = np.log(draws["A"]) - draws["alpha"] * centre_of(simulated_runs, "n_params")
    assert np.corrcoef(np.log(draws["A"]), draws["alpha"])[0, 1] > 0.5  # A follows alpha
    assert np.median(log_term) == pytest.approx(priors["A"].params["mu"], abs=0.08)
    assert np.std(log_term) == pytest.approx(priors["A"].params["sigma"], rel=0.08)
    with pytest.raises(PriorError, match="only for the amplitude of a power term"):
        all_priors(law, likelihood, {"E": {"dist": "LogNormal", "mu": 0.0, "sigma": 1.0, "at": "centre"}})


def test_isoflop_centre_priors_are_on_tokens_per_parameter_and_the_loss_above_the_floor(simulated_runs):
    """The IsoFLOP law's N_0 prior is on the optimum at the data's centre budget in units of sqrt(C/6), so forward
    draws give tokens per parameter r = C/(6 N_opt^2) with median 20 whatever the data's scale; C_c's prior is on
    the frontier term above the floor at that budget, in nats."""
    from bayes_scaling.sampling.model import centre_of, prior_draws

    law, likelihood = get_law("isoflop"), get_likelihood("normal")
    priors = all_priors(law, likelihood)
    draws = prior_draws(law, likelihood, priors, simulated_runs, np.random.default_rng(1), 4000)
    log_c = centre_of(simulated_runs, "compute")
    log_n_opt = np.log(draws["N_0"]) + draws["a"] * log_c
    log_r = log_c - np.log(6.0) - 2.0 * log_n_opt
    assert np.median(log_r) == pytest.approx(np.log(20.0), abs=0.1)
    assert np.std(log_r) == pytest.approx(2 * priors["N_0"].params["sigma"], rel=0.08)
    with np.errstate(divide="ignore"):  # C_c over- or underflows where alpha_C is near 0 (1 draw in 4000 here)
        log_term = draws["alpha_C"] * (np.log(draws["C_c"]) - log_c)
    finite = np.isfinite(log_term)
    assert finite.mean() > 0.999
    log_term = log_term[finite]
    assert np.median(log_term) == pytest.approx(0.0, abs=0.08)
    assert np.std(log_term) == pytest.approx(1.0, rel=0.08)


def test_floor_aware_geometry_is_the_naive_density_times_its_jacobian(simulated_runs):
    """The IsoFLOP law samples (level, share) for E + (C_c/C)^alpha_C: its log density equals the naive one plus the
    log |Jacobian| of the map to the naive coordinates, measured here by finite differences."""
    law, likelihood = get_law("isoflop"), get_likelihood("normal")
    priors = all_priors(law, likelihood)
    centred = build_model(law, simulated_runs, likelihood, priors, "centred")
    naive = build_model(law, simulated_runs, likelihood, priors, "naive")
    logp_centred, logp_naive = centred.model.compile_logp(mode=FAST), naive.model.compile_logp(mode=FAST)
    n_term, c_term = law.power_terms
    centre = centred.centres["compute"]
    values = {"a": 0.55, "N_0": 0.05, "alpha_C": 0.2, "C_c": 1e22, "u": 0.4, "v": 0.3, "E": 1.8, "sigma": 0.02}
    shared = {"a_logodds__": np.log(values["a"] / (1 - values["a"]))} | {
        f"{k}_log__": np.log(values[k]) for k in ("alpha_C", "u", "v", "sigma")}
    coordinate = c_term.centred(np.log(values["C_c"]), values["alpha_C"], centre)
    free = {"N_0_centred": n_term.centred(np.log(values["N_0"]), values["a"], centre),
            "C_c_level": np.logaddexp(np.log(values["E"]), coordinate),
            "C_c_share": coordinate - np.log(values["E"])}

    def naive_coordinates(point):
        others = {k: v for k, v in values.items() if k not in ("N_0", "C_c", "E")}
        natural = natural_parameters(centred, {**others, **point})
        return np.log([natural["N_0"], natural["C_c"], natural["E"]])

    step, names = 1e-6, list(free)
    jacobian = np.column_stack([
        (naive_coordinates(free | {k: free[k] + step}) - naive_coordinates(free | {k: free[k] - step})) / (2 * step)
        for k in names])
    back = dict(zip(("N_0", "C_c", "E"), np.exp(naive_coordinates(free)), strict=True))
    assert back == pytest.approx({k: values[k] for k in back}, rel=1e-9)
    # the naive geometry moves log N_0 and log C_c (their priors are on the terms at the centre) and E's log
    naive_point = shared | {"N_0_log": np.log(values["N_0"]), "C_c_log": np.log(values["C_c"]),
                            "E_log__": np.log(values["E"])}
    expected = logp_naive(naive_point) + np.log(abs(np.linalg.det(jacobian)))
    assert logp_centred(shared | free) == pytest.approx(expected, rel=1e-7)


def test_amplitude_priors_must_be_positive():
    law, likelihood = get_law("chinchilla"), get_likelihood("student_t")
    with pytest.raises(PriorError, match="A is a positive amplitude"):
        all_priors(law, likelihood, {"A": {"dist": "Normal", "mu": 0, "sigma": 1}})


def test_seeded_prior_predictive_has_chain_draw_run_dims(simulated_runs):
    import dataclasses

    from bayes_scaling.sampling.run import PreparedFit, prior_predictive
    from bayes_scaling.spec import AnalysisSpec, DataSpec

    law, likelihood = get_law("chinchilla"), get_likelihood("student_t")
    spec = AnalysisSpec(name="sim", law="chinchilla", data=DataSpec(csv="sim.csv"))
    prepared = PreparedFit(spec, law, likelihood, all_priors(law, likelihood), simulated_runs)
    first = prior_predictive(prepared, draws=50, seed=11)
    second = prior_predictive(dataclasses.replace(prepared), draws=50, seed=11)
    pp = first["prior_predictive"]["log_loss"]
    assert pp.dims == ("chain", "draw", "run")
    assert pp.shape == (1, 50, len(simulated_runs))
    np.testing.assert_array_equal(pp.values, second["prior_predictive"]["log_loss"].values)
    assert set(first["prior"].data_vars) == {*law.parameters, *likelihood.parameters}
    # the default priors give plausible losses: most prior datasets stay within 1 to 10 nats per token
    assert np.mean(np.all((np.exp(pp.values[0]) > 1) & (np.exp(pp.values[0]) < 10), axis=1)) > 0.6


def _declare(**body):
    """Define a law class from ``body`` (a valid two-parameter law unless a test changes it); returns the class."""
    from bayes_scaling.laws import Law
    from bayes_scaling.priors import Prior

    def loss(self, *, n_params, E, A):
        return E + A / n_params

    namespace = {"name": "test-law", "title": "t", "equation": "L = E + A/N", "inputs": ("n_params",),
                 "default_priors": {"E": Prior("LogNormal", {"mu": 0.5, "sigma": 0.5}),
                                    "A": Prior("LogNormal", {"mu": 0.0, "sigma": 1.0})},
                 "loss": loss, **body}
    return type("TestLaw", (Law,), namespace)


@pytest.mark.parametrize(("body", "message"), [
    ({"loss": lambda self, *, n_params, E, A, **_: E}, "loss() must take exactly the keywords"),
    ({"loss": lambda self, *, n_params, E: E}, "loss() must take exactly the keywords ['A', 'E', 'n_params']"),
    ({"loss": lambda self, *, n_params, E, A, B: E}, "it takes ['A', 'B', 'E', 'n_params']"),
    ({"inputs": ("n_params", "widgets")},
     "unknown input(s) ['widgets']; register them in bayes_scaling/laws/inputs.py"),
    ({"floor": "F"}, "floor 'F' is not one of its parameters"),
    ({"name": "chinchilla"}, "the name 'chinchilla' is taken by ChinchillaLaw"),
])
def test_a_law_is_checked_when_its_class_is_defined(body, message):
    from bayes_scaling.laws import LAWS

    before = dict(LAWS)
    with pytest.raises(TypeError) as err:
        _declare(**body)
    assert message in str(err.value)
    assert LAWS == before  # a refused law is not registered


def test_a_power_term_must_name_the_laws_parameters_and_inputs():
    from bayes_scaling.laws import PowerTerm

    with pytest.raises(TypeError, match="power term"):
        _declare(power_terms=(PowerTerm(amplitude="A", exponent="alpha", input="n_params"),))
    with pytest.raises(TypeError, match="power term"):
        _declare(power_terms=(PowerTerm(amplitude="A", exponent="E", input="n_tokens"),))


def test_every_law_file_registers_itself():
    """Each module of bayes_scaling/laws that defines a law with a name is in the registry, found without a list."""
    import inspect as inspect_module
    import pkgutil

    import bayes_scaling.laws as package
    from bayes_scaling.laws import LAWS, Law

    declared = set()
    for module in pkgutil.iter_modules(package.__path__):
        loaded = __import__(f"bayes_scaling.laws.{module.name}", fromlist=["_"])
        declared |= {cls.name for _, cls in inspect_module.getmembers(loaded, inspect_module.isclass)
                     if issubclass(cls, Law) and "name" in cls.__dict__}
    assert declared == set(LAWS) and {"chinchilla", "isoflop", "kaplan_joint"} <= declared
    assert get_law("chinchilla").answers_allocation and not get_law("kaplan_params").answers_allocation
    assert get_law("chinchilla").floor == "E" and get_law("isoflop_power").floor is None
