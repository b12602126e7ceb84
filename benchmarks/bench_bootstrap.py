"""The bootstrap baseline on Epoch AI's runs: the shipped batched optimiser beside a minimal scipy version, in one run.

The minimal version is what a notebook would write for Chinchilla's law: the Huber objective with its analytic
gradient, L-BFGS-B per grid start and per replicate (each replicate refitted to its resampled runs from the
full-data optimum), BLAS on one thread. Both use the same grid of starts and the same resamples. Prints CPU seconds
(``time.process_time``, which holds up on a busy machine) for the point fit and for the replicates, the ratio, and
how far apart the two methods' answers are (log parameters, and the allocation exponent a's 5/50/95% quantiles).
Run with ``BAYES_SCALING_DATA`` set (``make benchmark``); ``--replicates 4000`` is issue 19's target.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from bayes_scaling.data.load import load_runs
from bayes_scaling.laws import get_law
from bayes_scaling.spec import load_spec
from bayes_scaling.util.blas import one_blas_thread
from bayes_scaling.validation.batched_huber import HUBER_DELTA, huber
from bayes_scaling.validation.bootstrap import bootstrap_fit, grid_starts

REPO = Path(__file__).resolve().parents[1]


def chinchilla_objective(log_n, log_d, log_observed, weights):
    """Weighted Huber loss of log residuals of E + A N^-alpha + B D^-beta and its analytic gradient in
    theta = (log E, log A, log B, log alpha, log beta)."""

    def value_and_gradient(theta):
        with np.errstate(all="ignore"):
            e, a, b, alpha, beta = np.exp(theta)
            term_n, term_d = a * np.exp(-alpha * log_n), b * np.exp(-beta * log_d)
            loss = e + term_n + term_d
            r = np.log(loss) - log_observed
            psi = weights * np.clip(r, -HUBER_DELTA, HUBER_DELTA) / loss  # d Huber / d loss
            gradient = np.array([e * psi.sum(), (term_n * psi).sum(), (term_d * psi).sum(),
                                 -(alpha * log_n * term_n * psi).sum(), -(beta * log_d * term_d * psi).sum()])
        if not (np.all(np.isfinite(r)) and np.all(np.isfinite(gradient))):
            return 1e10, np.zeros(5)
        return float(np.sum(weights * huber(r))) / HUBER_DELTA, gradient / HUBER_DELTA

    return value_and_gradient


def minimal_scipy(law, inputs, loss, replicates, seed, starts):
    log_n, log_d, log_observed = np.log(inputs["n_params"]), np.log(inputs["n_tokens"]), np.log(loss)
    n = log_observed.size
    objective = chinchilla_objective(log_n, log_d, log_observed, np.ones(n))
    began = time.process_time()
    screened = sorted((minimize(objective, s, method="L-BFGS-B", jac=True) for s in starts), key=lambda r: r.fun)
    tight = {"ftol": 1e-12, "gtol": 1e-8, "maxiter": 2000}
    best = min((minimize(objective, r.x, method="L-BFGS-B", jac=True, options=tight) for r in screened[:3]),
               key=lambda r: r.fun).x
    point = time.process_time() - began
    rng = np.random.default_rng(seed)
    thetas = []
    for _ in range(replicates):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        weighted = chinchilla_objective(log_n, log_d, log_observed, counts)
        thetas.append(minimize(weighted, best, method="L-BFGS-B", jac=True, options=tight).x)
    return best, np.array(thetas), point, time.process_time() - began - point


def allocation_a(thetas):
    alpha, beta = np.exp(thetas[:, 3]), np.exp(thetas[:, 4])
    return np.quantile(beta / (alpha + beta), [0.05, 0.5, 0.95])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(REPO / "models" / "chinchilla.toml"))
    parser.add_argument("--replicates", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    law = get_law("chinchilla")
    spec = load_spec(args.spec)
    runs = load_runs(spec.data)
    inputs = {name: runs.column(name) for name in law.inputs}
    loss = runs.column("loss")
    starts = grid_starts(law, inputs, args.seed)

    began = time.process_time()
    point_only = bootstrap_fit(law, inputs, loss, replicates=0, seed=args.seed)
    shipped_point = time.process_time() - began
    began = time.process_time()
    shipped = bootstrap_fit(law, inputs, loss, replicates=args.replicates, seed=args.seed)
    shipped_replicates = time.process_time() - began - shipped_point
    with one_blas_thread():
        best, thetas, scipy_point, scipy_replicates = minimal_scipy(law, inputs, loss, args.replicates, args.seed,
                                                                    starts)

    print(f"\nbootstrap baseline, Chinchilla's law on {loss.size} runs of {spec.name}, {len(starts)} grid starts, "
          f"{args.replicates} resamples (CPU s)")
    print(f"{'measure':<34}{'shipped (batched)':>20}{'minimal scipy':>20}{'ratio':>10}")
    for label, ours, theirs in (("point fit from the grid", shipped_point, scipy_point),
                                (f"{args.replicates} replicates", shipped_replicates, scipy_replicates),
                                ("total", shipped_point + shipped_replicates, scipy_point + scipy_replicates)):
        print(f"{label:<34}{ours:>20.2f}{theirs:>20.2f}{theirs / ours:>9.1f}x")
    print(f"largest difference of the point fits' log parameters: {np.abs(point_only.best - best).max():.1e}")
    print(f"largest difference of a replicate's log parameters:   {np.abs(shipped.replicates - thetas).max():.1e}")
    print("allocation exponent a, 5/50/95%: shipped " + " ".join(f"{q:.4f}" for q in allocation_a(shipped.replicates))
          + ", scipy " + " ".join(f"{q:.4f}" for q in allocation_a(thetas)))


if __name__ == "__main__":
    main()
