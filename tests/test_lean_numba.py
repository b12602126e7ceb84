"""The lean numba wrappers give nutpie the same log density, gradient and expansion as its own wrappers."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from bayes_scaling.laws import get_law
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.sampling.data_logs import input_data
from bayes_scaling.sampling.model import OBSERVED, all_priors, build_model
from bayes_scaling.sampling.sampler import compile_model

DOUBLE_P = ctypes.POINTER(ctypes.c_double)


def _logp(compiled, x: np.ndarray) -> tuple[int, float, np.ndarray]:
    x = np.ascontiguousarray(x, dtype=float)
    grad, value = np.zeros_like(x), np.zeros(1)
    code = compiled.compiled_logp_func.ctypes(len(x), x.ctypes.data_as(DOUBLE_P), grad.ctypes.data_as(DOUBLE_P),
                                              value.ctypes.data_as(DOUBLE_P),
                                              ctypes.c_void_p(compiled.user_data.ctypes.data))
    return code, value[0], grad


def _expand(compiled, x: np.ndarray) -> tuple[int, np.ndarray]:
    x = np.ascontiguousarray(x, dtype=float)
    out = np.zeros(compiled.n_expanded)
    code = compiled.compiled_expand_func.ctypes(len(x), compiled.n_expanded, x.ctypes.data_as(DOUBLE_P),
                                                out.ctypes.data_as(DOUBLE_P),
                                                ctypes.c_void_p(compiled.user_data.ctypes.data))
    return code, out


@pytest.fixture(scope="module", params=["law alone", "GP inside"])
def both(simulated_frame, request):
    """The Chinchilla model compiled by nutpie's own wrappers and by the lean ones: the law alone (1-d shared
    arrays) and with the discrepancy GP inside (its basis and Gram matrix are 2-d)."""
    import nutpie
    import pytensor

    from bayes_scaling.data.runs import RunTable, validate_table

    columns = {name: name for name in ("n_params", "n_tokens", "compute", "loss")}
    runs = RunTable(frame=validate_table(simulated_frame, "simulated", columns), source={"file": "simulated"},
                    n_counts_embeddings=True)
    inside = request.param == "GP inside"
    law, likelihood = get_law("chinchilla"), get_likelihood("normal" if inside else "student_t")
    built = build_model(law, runs, likelihood, all_priors(law, likelihood, {}), discrepancy=inside)
    with pytensor.config.change_flags(numba__fastmath=False):  # as compile_model does
        reference = nutpie.compile_pymc_model(built.model, backend="numba", var_names=built.sampled_names)
    return reference, compile_model(built), runs


def test_same_density_gradient_and_expansion(both):
    reference, lean, _ = both
    rng = np.random.default_rng(3)
    assert lean.n_dim == reference.n_dim and lean.n_expanded == reference.n_expanded
    for _ in range(20):
        x = rng.normal(0.0, 1.0, reference.n_dim)
        code, value, grad = _logp(lean, x)
        assert (code, value) == _logp(reference, x)[:2]
        np.testing.assert_array_equal(grad, _logp(reference, x)[2])
        assert _expand(lean, x)[0] == 0
        np.testing.assert_array_equal(_expand(lean, x)[1], _expand(reference, x)[1])
    assert _logp(lean, np.zeros(reference.n_dim + 1))[0] == -1  # nutpie's wrong-dimension code


def test_same_after_swapping_data(both):
    """Swapped-in data (SBC's ``with_data``) reach the lean wrappers, including a new number of runs."""
    reference, lean, runs = both
    rng = np.random.default_rng(4)
    new = {f"{OBSERVED}_observed": np.log(runs.column("loss")) + rng.normal(0, 0.01, len(runs))}
    x = rng.normal(0.0, 1.0, reference.n_dim)
    before = _logp(lean, x)[1]
    swapped_ref, swapped_lean = reference.with_data(**new), lean.with_data(**new)
    assert _logp(swapped_lean, x)[1] == _logp(swapped_ref, x)[1] != before
    read = {variable.name for variable in lean.shared_var_keys}  # the law reads log N and log D, not N and D
    inputs = input_data(("n_params", "n_tokens"), {name: runs.column(name)[:10] for name in ("n_params", "n_tokens")})
    fewer = {name: values for name, values in inputs.items() if name in read} | {f"{OBSERVED}_observed": new[
        f"{OBSERVED}_observed"][:10]}
    assert {"log_n_params", "log_n_tokens"} <= set(fewer)
    if "gp_basis" in lean.shared_data:  # a refit's rows of the GP's basis, and their Gram matrix
        basis = np.ascontiguousarray(lean.shared_data["gp_basis"][:10])
        fewer |= {"gp_basis": basis, "gp_gram": basis.T @ basis}
    assert _logp(lean.with_data(**fewer), x)[1] == _logp(reference.with_data(**fewer), x)[1]


def test_non_finite_density_reported_by_the_same_code(both):
    """Where the density or gradient overflows, the lean wrapper returns nutpie's code (3 or 4), never 0."""
    reference, lean, _ = both
    codes = [(_logp(lean, np.full(lean.n_dim, v))[0], _logp(reference, np.full(lean.n_dim, v))[0])
             for v in (1e3, -1e3, 1e300)]
    assert all(mine == theirs for mine, theirs in codes)
    assert any(mine in (3, 4) for mine, _ in codes)


def test_other_shared_arrays_left_to_nutpie(both):
    """A model with an integer, 0-d or Fortran-ordered shared array gets nutpie's own wrappers (checked without
    compiling them)."""
    from bayes_scaling.sampling.lean_numba import lean_wrappers, make_expand_wrapper, make_logp_wrapper

    reference = both[0]
    for odd in (np.asfortranarray(np.zeros((3, 2))), np.arange(3), np.zeros(())):
        shared = {"odd": odd}
        with lean_wrappers():
            logp, _ = make_logp_wrapper(2, reference.logp_func.vm.jit_fn, reference.user_data, ["odd"], shared)
            expand, _ = make_expand_wrapper(2, 2, reference.expand_func.vm.jit_fn, reference.user_data, ["odd"],
                                            shared)
        assert (logp.__name__, expand.__name__) == ("logp_numba", "expand_numba")  # nutpie's inner functions


@pytest.mark.slow  # two fresh processes compiling from a cold cache
def test_draws_do_not_depend_on_whether_pytensor_compiled_or_loaded_its_functions(tmp_path):
    """The same seed gives the same draws with PyTensor's disk cache cold (its functions compiled, and inlined, in
    the process) and warm (loaded). With numba's fastmath they differed for this IsoFLOP fit, and serial runs
    disagreed with fresh Dask workers."""
    import os
    import subprocess
    import sys

    from bayes_scaling.validation.simulate import isoflop_design, simulate_runs

    from .conftest import TRUE_NOISE, TRUE_PARAMS

    design = isoflop_design(np.geomspace(6e18, 3e21, 8), sizes_per_budget=8)
    frame = simulate_runs(get_law("chinchilla"), TRUE_PARAMS, design, get_likelihood("student_t"), TRUE_NOISE, seed=3)
    frame.to_csv(csv := tmp_path / "runs.csv", index=False)
    script = ("import sys; from bayes_scaling.cli import main; from bayes_scaling import load; "
              "main(['-q', 'fit', '--law', 'isoflop', '--data', sys.argv[1], '--out', sys.argv[2], '--draws', "
              "'300', '--tune', '300', '--allow-unconverged']); print(repr(load(sys.argv[2]).posterior['E']"
              ".values.ravel()[:50].tolist()))")
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path / 'cache'}"}
    outputs = [subprocess.run([sys.executable, "-c", script, str(csv), str(tmp_path / f"fit{i}")], env=env,
                              check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
               for i in range(2)]  # the first run fills the empty cache, the second loads from it
    assert outputs[0] == outputs[1]


def test_the_models_own_shared_arrays_take_the_lean_wrappers(both):
    """Every shared array of the law-alone and the in-model model (the GP's basis and Gram matrix are 2-d) is read by
    the lean wrappers: an in-model fit that fell back to nutpie's own compiled about 6 s longer (session 16)."""
    from bayes_scaling.sampling.lean_numba import lean_wrappers, make_expand_wrapper, make_logp_wrapper

    reference = both[0]
    keys = {name: [reference.shared_var_keys[var] for var in getattr(reference, f"{name}_func").get_shared()]
            for name in ("logp", "expand")}  # as nutpie passes them
    with lean_wrappers():
        logp, _ = make_logp_wrapper(reference.n_dim, reference.logp_func.vm.jit_fn, reference.user_data,
                                    keys["logp"], reference.shared_data)
        expand, _ = make_expand_wrapper(reference.n_dim, reference.n_expanded, reference.expand_func.vm.jit_fn,
                                        reference.user_data, keys["expand"], reference.shared_data)
    assert (logp.__name__, expand.__name__) == ("logp", "expand")


def test_entry_points_are_loaded_from_the_disk_cache(both):
    """A second compile of the same model loads its C entry points from numba's disk cache (under PyTensor's key
    and this module's), and the trampoline nutpie compiles gives the same density as nutpie's own wrappers."""
    from bayes_scaling.sampling.lean_numba import lean_wrappers, make_logp_wrapper

    reference = both[0]
    keys = [reference.shared_var_keys[var] for var in reference.logp_func.get_shared()]
    with lean_wrappers():
        wrappers = [make_logp_wrapper(reference.n_dim, reference.logp_func.vm.jit_fn, reference.user_data, keys,
                                      reference.shared_data)[0] for _ in range(2)]
    assert wrappers[1].__globals__["entry"].cache_hits == 1
    x = np.random.default_rng(5).normal(0.0, 1.0, reference.n_dim)
    target = wrappers[1].__globals__["target"]
    grad, value = np.zeros(reference.n_dim), np.zeros(1)
    code = target(reference.n_dim, x.ctypes.data_as(DOUBLE_P), grad.ctypes.data_as(DOUBLE_P),
                  value.ctypes.data_as(DOUBLE_P), ctypes.c_void_p(reference.user_data.ctypes.data))
    assert (code, value[0]) == _logp(reference, x)[:2]
    np.testing.assert_array_equal(grad, _logp(reference, x)[2])
