r"""Many weighted Huber fits of one law at once: the bootstrap's optimiser.

Fit ``s`` minimises, over log parameters :math:`\theta_s`,

.. math:: f_s(\theta_s) = \frac{1}{\delta} \sum_i w_{si} \, \mathrm{Huber}_\delta\big(\log \hat L(x_i; e^{\theta_s})
          - \log L_i\big),

where the weights are a replicate's resampling counts (or all ones for the full data) and a row of starts gives each
fit's first point. Every fit takes Levenberg-Marquardt steps on the iteratively reweighted least-squares majoriser of
the Huber loss, :math:`\tfrac12 \sum_i c_i r_i^2` with :math:`c_i = w_i \min(1, \delta / |r_i|)`:

.. math:: (J C J^\top + \lambda\, \mathrm{diag}(J C J^\top))\, \Delta = -J C r,

with the Jacobian :math:`J` of the law's log prediction by forward differences (the step only shapes the move;
whether it is kept is decided by :math:`f_s` itself). A step is
kept when it lowers :math:`f_s` (then :math:`\lambda` shrinks), otherwise :math:`\lambda` grows; a fit stops when a
kept step lowers :math:`f_s` by less than ``ftol`` relatively, or :math:`\lambda` exceeds its cap. All fits of a
chunk are evaluated in one array operation, so thousands of replicates cost about as much as a few dozen scipy
calls each.
"""

from __future__ import annotations

import numpy as np

from bayes_scaling.laws import Law

HUBER_DELTA = 1e-3
#: Relative decrease of f below which a kept step ends a fit (L-BFGS-B's ``ftol`` convention; at 1e-10 the log
#: parameters of Epoch's bootstrap replicates are within 3e-4 of their 1e-12 optima, along the flat amplitude
#: directions, against a bootstrap spread of about 1e-1), and the looser one that screens a grid of starts.
FTOL = 1e-10
SCREEN_FTOL = 1e-6
MAX_DAMPING = 1e12
MAX_STEPS = 400
#: Fits evaluated together: bounds the (chunk, parameters, runs) complex arrays to about 20 MB.
CHUNK = 1024
#: Relative step of the forward differences (real arithmetic is 8x cheaper than a complex step here).
STEP = 1e-7


def huber(r: np.ndarray, delta: float = HUBER_DELTA) -> np.ndarray:
    """Huber loss: r^2 / 2 within delta, delta (|r| - delta / 2) outside."""
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def _log_prediction(law: Law, names: tuple[str, ...], inputs: dict[str, np.ndarray], theta: np.ndarray) -> np.ndarray:
    """log L(x_i; e^theta) for each row of ``theta`` (s, k): an (s, n) array (complex if ``theta`` is)."""
    with np.errstate(all="ignore"):  # a far start overflows: its prediction is not finite and it is dropped
        params = {name: np.exp(theta[..., j])[..., None] for j, name in enumerate(names)}
        return np.log(law.loss(**{name: value[None, :] for name, value in inputs.items()}, **params))


def _objective(pred: np.ndarray, log_observed: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """f_s for predictions (s, n); infinite where a prediction is not finite."""
    with np.errstate(invalid="ignore"):
        value = np.sum(weights * huber(pred - log_observed), axis=-1) / HUBER_DELTA
    return np.where(np.all(np.isfinite(pred), axis=-1), value, np.inf)


def solve_each(systems: np.ndarray, right: np.ndarray) -> np.ndarray:
    """x with ``systems[i] @ x[i] = right[i]`` for each i; NaN for a system that is singular or not finite (its fit's
    step is then refused and its damping grows), so one bad fit cannot stop the batch."""
    out = np.full(right.shape, np.nan)
    good = np.all(np.isfinite(systems), axis=(1, 2)) & np.all(np.isfinite(right), axis=1)
    try:
        out[good] = np.linalg.solve(systems[good], right[good][..., None])[..., 0]
    except np.linalg.LinAlgError:  # a singular one among them: solve one by one
        for i in np.flatnonzero(good):
            try:
                out[i] = np.linalg.solve(systems[i], right[i])
            except np.linalg.LinAlgError:
                pass
    return out


def _fit_chunk(law, names, inputs, log_observed, theta, weights, ftol):
    k = theta.shape[1]
    damping = np.full(theta.shape[0], 1e-3)
    value = _objective(_log_prediction(law, names, inputs, theta), log_observed, weights)
    active = np.flatnonzero(np.isfinite(value))
    for _ in range(MAX_STEPS):
        if active.size == 0:
            break
        with np.errstate(all="ignore"):  # a difference step can leave the finite region: that fit's step is refused
            h = STEP * np.maximum(1.0, np.abs(theta[active]))  # (a, k)
            shifted = theta[active, None, :] + np.concatenate([np.zeros((1, k)), np.eye(k)])[None] * h[:, None, :]
            moved = _log_prediction(law, names, inputs, shifted)  # (a, 1 + k, n): row 0 at theta, row j moves j
            pred = moved[:, 0, :]
            jac = (moved[:, 1:, :] - pred[:, None, :]) / h[:, :, None]
            r = pred - log_observed
            c = weights[active] * np.minimum(1.0, HUBER_DELTA / np.maximum(np.abs(r), 1e-300))
            gradient = np.einsum("akn,an->ak", jac, c * r)
            hessian = np.einsum("akn,an,aln->akl", jac, c, jac)
            diagonal = np.maximum(np.einsum("akk->ak", hessian), 1e-12)
            system = hessian + (damping[active, None] * diagonal)[:, :, None] * np.eye(k)[None]
            step = solve_each(system, -gradient)
        ok = np.all(np.isfinite(step), axis=1)
        trial = theta[active] + np.where(ok[:, None], step, 0.0)
        new_value = _objective(_log_prediction(law, names, inputs, trial), log_observed, weights[active])
        better = ok & (new_value < value[active])
        small = better & (value[active] - new_value <= ftol * np.maximum(1.0, np.abs(value[active])))
        kept = active[better]
        theta[kept], value[kept] = trial[better], new_value[better]
        damping[kept] /= 3.0
        damping[active[~better]] *= 4.0
        done = small | (damping[active] > MAX_DAMPING)
        active = active[~done]
    return theta, value


def fit_many(law: Law, names: tuple[str, ...], inputs: dict[str, np.ndarray], log_observed: np.ndarray,
             starts: np.ndarray, weights: np.ndarray | None = None, *, ftol: float = FTOL
             ) -> tuple[np.ndarray, np.ndarray]:
    """Minimise f_s from each row of ``starts`` (s, k) with ``weights`` (s, n; default all ones): the optima's log
    parameters (s, k) and their objectives (s,), infinite for a start whose prediction is never finite."""
    starts = np.array(starts, dtype=float, ndmin=2)
    if weights is None:
        weights = np.ones((starts.shape[0], log_observed.size))
    theta, value = starts.copy(), np.empty(starts.shape[0])
    for lo in range(0, starts.shape[0], CHUNK):
        part = slice(lo, lo + CHUNK)
        theta[part], value[part] = _fit_chunk(law, names, inputs, log_observed, theta[part], weights[part], ftol)
    return theta, value


def best_of(law: Law, names: tuple[str, ...], inputs: dict[str, np.ndarray], log_observed: np.ndarray,
            starts: np.ndarray, refine: int = 3) -> np.ndarray:
    """The lowest optimum from a grid of ``starts``: every start screened at :data:`SCREEN_FTOL`, the best
    ``refine`` of them then run to :data:`FTOL`."""
    screened, value = fit_many(law, names, inputs, log_observed, starts, ftol=SCREEN_FTOL)
    finite = np.flatnonzero(np.isfinite(value))
    if finite.size == 0:
        raise ValueError(f"{law.name}: no start of the grid gives a finite prediction of every run")
    chosen = finite[np.argsort(value[finite], kind="stable")[:refine]]
    refined, value = fit_many(law, names, inputs, log_observed, screened[chosen])
    return refined[np.argmin(value)]
