"""The in-model GP's marginal likelihood: PyTensor's Cholesky graph against the fused Op, side by side in one run.

Builds Chinchilla's law with the discrepancy GP inside on Epoch AI's runs (``models/chinchilla.toml``'s data, 240
runs, ``gp_term.BASIS`` squared basis functions: 25 since session 25, 64 before) twice: once as the sampler compiles
it now (``sampling/gp_marginal.py``: one Cholesky factor, its inverse by forward substitution, the gradient in
closed form) and once with the terms written as PyTensor's Cholesky and triangular solve (the graph before session
16, whose gradient goes through the Cholesky's own). Both are compiled as the sampler compiles them (nutpie's numba
backend, no fastmath, the lean wrappers) and called through nutpie's C entry point with BLAS held to one thread, at
the same 100 points; prints microseconds per log density and gradient, their ratio, the largest relative difference
of the values and gradients, and the law alone's cost.

    python benchmarks/bench_gp_marginal.py [--calls 20000]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np


def cholesky_terms(scale, variance, a, gram):
    """log|B| and w^T B^{-1} w written with PyTensor's Cholesky and triangular solve (the graph before session 16),
    in place of :data:`~bayes_scaling.sampling.gp_marginal.gp_marginal_terms` (same inputs, its first two outputs)."""
    import pytensor.tensor as pt
    from pytensor.tensor.linalg import cholesky, solve_triangular

    factor = cholesky(pt.eye(gram.shape[0]) + scale[:, None] * gram * scale[None, :] / variance, lower=True)
    z = solve_triangular(factor, scale * a, lower=True)
    return [2 * pt.sum(pt.log(pt.diag(factor))), pt.sum(z**2)]


def logp_and_gradient(built):
    """``x -> (logp, gradient)`` through the C entry point nutpie calls (``sampling.sampler.compile_model``)."""
    import ctypes

    from bayes_scaling.sampling.sampler import compile_model

    compiled = compile_model(built)
    pointer = ctypes.POINTER(ctypes.c_double)
    user_data = ctypes.c_void_p(compiled.user_data.ctypes.data)

    def call(x):
        gradient, value = np.zeros_like(x), np.zeros(1)
        compiled.compiled_logp_func.ctypes(x.size, x.ctypes.data_as(pointer), gradient.ctypes.data_as(pointer),
                                           value.ctypes.data_as(pointer), user_data)
        return value, gradient

    call.size = compiled.n_dim
    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()

    from bayes_scaling.likelihoods import get_likelihood
    from bayes_scaling.sampling import gp_marginal
    from bayes_scaling.sampling.model import all_priors, build_model
    from bayes_scaling.sampling.run import prepare
    from bayes_scaling.spec import load_spec
    from bayes_scaling.util.blas import one_blas_thread

    spec = dataclasses.replace(load_spec("models/chinchilla.toml"), discrepancy="in_model", likelihood="normal")
    prepared = prepare(spec)
    likelihood = get_likelihood("normal")
    priors = all_priors(prepared.law, likelihood, spec.priors)
    variants = {}
    fused = gp_marginal.gp_marginal_terms
    for label, terms in (("fused Op (now)", fused), ("Cholesky graph (before)", cholesky_terms),
                         ("law alone", None)):
        gp_marginal.gp_marginal_terms = terms or fused  # gp_term.observe looks it up when it builds the model
        try:
            built = build_model(prepared.law, prepared.runs, likelihood, priors, discrepancy=terms is not None)
        finally:
            gp_marginal.gp_marginal_terms = fused
        variants[label] = logp_and_gradient(built)
    rng = np.random.default_rng(0)
    sizes = {label: f.size for label, f in variants.items()}
    points = {label: [rng.normal(0.0, 0.3, size) for _ in range(100)] for label, size in sizes.items()}
    points["Cholesky graph (before)"] = points["fused Op (now)"]
    costs, values = {}, {}
    with one_blas_thread():
        for label, function in variants.items():
            values[label] = [function(x) for x in points[label]]
            start = time.perf_counter()
            for i in range(args.calls):
                function(points[label][i % 100])
            costs[label] = 1e6 * (time.perf_counter() - start) / args.calls
    worst = max(float(np.max(np.abs(np.subtract(mine, theirs)) / np.maximum(np.abs(theirs), 1e-300)))
                for pair in zip(values["fused Op (now)"], values["Cholesky graph (before)"], strict=True)
                for mine, theirs in zip(*pair, strict=True))
    print(f"{'log density + gradient':<28}{'us per call':>12}")
    for label, cost in costs.items():
        print(f"{label:<28}{cost:>12.1f}")
    print(f"ratio before / now: {costs['Cholesky graph (before)'] / costs['fused Op (now)']:.2f}x; "
          f"largest relative difference of value or gradient: {worst:.1e}")


if __name__ == "__main__":
    main()
