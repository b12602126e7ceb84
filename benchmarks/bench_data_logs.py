"""The log density with the runs' inputs read from their logs (``sampling/data_logs.py``) against the law as written,
side by side in one run.

For each spec (default: the three laws of the report's SBC on Epoch AI's runs and Porian et al.'s frontier), builds
the model twice, once as the sampler builds it now (``x**y`` of an input as ``exp(y log x)``, ``log x`` read from
data) and once with the law's expression as written (``pow`` and ``log`` of the inputs per run and per gradient).
Both are compiled as the sampler compiles them (nutpie's numba backend, no fastmath, the lean wrappers) and called
through nutpie's C entry point at the same 100 points (the model's starting points, jittered), CPU time over
``--calls`` calls; prints microseconds per log density and gradient, their ratio and the largest relative difference
of the values and gradients. (The IsoFLOP laws write their frontier inside the profile's exponentials since session
21: no power of an input is left to rewrite, and both columns compile the same graph; their spread is this
measurement's noise.)

    python benchmarks/bench_data_logs.py [--calls 20000] [--specs models/chinchilla.toml ...]
"""

from __future__ import annotations

import argparse
import ctypes
import time

import numpy as np

SPECS = ("models/chinchilla.toml", "models/epoch-isoflop.toml", "models/epoch-kaplan-joint.toml",
         "models/porian-rw-kaplan-frontier.toml")


def entry_point(compiled):
    """``x -> (logp, gradient)`` through the C entry point nutpie calls."""
    pointer = ctypes.POINTER(ctypes.c_double)
    user_data = ctypes.c_void_p(compiled.user_data.ctypes.data)
    function = compiled.compiled_logp_func.ctypes

    def call(x, gradient, value):
        assert compiled.user_data is not None  # the closure keeps the model (and the data its pointers reach) alive
        function(x.size, x.ctypes.data_as(pointer), gradient.ctypes.data_as(pointer), value.ctypes.data_as(pointer),
                 user_data)
        return value[0], gradient

    return call


def cost(call, points, calls: int) -> float:
    """CPU microseconds per call, cycling through ``points``."""
    gradient, value = np.zeros(points[0].size), np.zeros(1)
    for x in points:
        call(x, gradient, value)
    start = time.process_time()
    for i in range(calls):
        call(points[i % len(points)], gradient, value)
    return (time.process_time() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--specs", nargs="+", default=list(SPECS))
    args = parser.parse_args()

    from bayes_scaling.sampling import model
    from bayes_scaling.sampling.run import prepare
    from bayes_scaling.sampling.sampler import compile_model
    from bayes_scaling.spec import load_spec
    from bayes_scaling.util.blas import one_blas_thread

    rewrite = model.read_input_logs
    print(f"{'spec':<40}{'runs':>6}{'logs (now) us':>15}{'as written us':>15}{'ratio':>8}{'max rel diff':>14}")
    for path in args.specs:
        prepared = prepare(load_spec(path))
        calls = {}
        for label, rebuild in (("now", rewrite), ("written", lambda output, logs: output)):
            model.read_input_logs = rebuild
            try:
                built = model.build_model(prepared.law, prepared.runs, prepared.likelihood, prepared.priors,
                                          prepared.spec.sampler.geometry)
            finally:
                model.read_input_logs = rewrite
            compiled = compile_model(built)
            calls[label] = (entry_point(compiled), compiled.initial_point_func)
        rng = np.random.default_rng(0)  # around the model's starting point (a finite density), as a sampler moves
        points = [calls["now"][1](seed) + rng.normal(0.0, 0.05) for seed in range(100)]
        differences = []
        for x in points:
            (value_a, grad_a), (value_b, grad_b) = (
                (lambda r: (r[0], r[1].copy()))(calls[k][0](x, np.zeros(x.size), np.zeros(1))) for k in calls)
            scale = np.maximum(np.abs(np.r_[value_b, grad_b]), 1e-300)
            if not np.all(np.isfinite(np.r_[value_a, grad_a, value_b, grad_b])):
                raise ValueError(f"{path}: a non-finite density or gradient at {x}")
            differences.append(float(np.max(np.abs(np.r_[value_a, grad_a] - np.r_[value_b, grad_b]) / scale)))
        with one_blas_thread():
            now, written = (cost(calls[k][0], points, args.calls) for k in ("now", "written"))
        print(f"{path:<40}{len(prepared.runs):>6}{now:>15.1f}{written:>15.1f}{written / now:>8.2f}"
              f"{max(differences):>14.1e}")


if __name__ == "__main__":
    main()
