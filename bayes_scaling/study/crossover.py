r"""Kaplan's L* crossover (Kaplan et al. 2020, section 6.3, eq. 6.8) from posterior draws.

Along the compute-efficient frontier the data grow only as D(C_min) = D_e C^{p_D}, so the data-limited loss
L(D(C)) = (D_c / D(C))^{\alpha_D} falls as C^{-\alpha_D p_D}, more slowly than the frontier L(C) = (C_c/C)^{\alpha_C}
when \alpha_C > \alpha_D p_D. The frontier cannot go below the data-limited loss, so the two laws meet at

.. math:: \log C^* = \frac{\alpha_C \log C_c - \alpha_D(\log D_c - \log D_e)}{\alpha_C - \alpha_D p_D},
          \quad L^* = (C_c / C^*)^{\alpha_C},\quad N^* = N_{opt}(C^*),\quad D^* = D_e C^{*\,p_D}

beyond which they cannot all hold. A frontier with a floor, L(C) = E + (C_c/C)^{\alpha_C} (the IsoFLOP law's), has
no closed form: C* is then the first budget at which the frontier falls to the data-limited loss, found per draw
on a log grid and refined by bisection (with E = 0 it is the formula above). It may not exist: a floored frontier
can stay above L(D(C)) for ever. Everything here works per draw; C is in FLOP unless the inputs are in another unit
(the published values use PF-days, as Kaplan did).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from bayes_scaling.analysis.pairing import paired, same_runs
from bayes_scaling.data.runs import PF_DAY

#: Kaplan et al. 2020, Tables 5 and 6 (C in PF-days): the frontier, the data law and the compute-efficient path.
KAPLAN_PUBLISHED = {
    "alpha_C": 0.050, "C_c": 3.1e8,  # L(C_min) = (C_c / C_min)^alpha_C
    "alpha_D": 0.095, "D_c": 5.4e13,  # L(D) = (D_c / D)^alpha_D
    "D_e": 2e10, "p_D": 0.27,  # D_opt = D_e C_min^p_D tokens
    "N_e": 1.3e9, "a": 0.73,  # N_opt = N_e C_min^a
}
#: Kaplan's own rounded statement of the intersection (section 6.3), "an order of magnitude uncertainty either way".
KAPLAN_STATED = {"compute_pf_days": 1e4, "n_params": 1e12, "n_tokens": 1e12, "loss": 1.7}


#: Search range of log10 C* (in the inputs' compute unit) and grid spacing in decades.
SEARCH_LOG10 = (-30.0, 150.0)
GRID_DEX = 0.1
BISECTIONS = 50


def _gap(log_c, *, alpha_C, C_c, alpha_D, D_c, D_e, p_D, E):
    """log frontier - log data-limited loss at log C (positive while the frontier lies above)."""
    frontier = np.logaddexp(np.log(E), alpha_C * (np.log(C_c) - log_c))  # log(0) = -inf: no floor
    return frontier - alpha_D * (np.log(D_c) - np.log(D_e) - p_D * log_c)


def first_crossing(*, alpha_C, C_c, alpha_D, D_c, D_e, p_D, E=0.0) -> np.ndarray:
    """log C where the frontier E + (C_c/C)^alpha_C first falls to (D_c / (D_e C^p_D))^alpha_D, per draw (1-d
    arrays); NaN where it never does within :data:`SEARCH_LOG10`."""
    params = {k: np.asarray(v, dtype=float)[:, None] for k, v in
              {"alpha_C": alpha_C, "C_c": C_c, "alpha_D": alpha_D, "D_c": D_c, "D_e": D_e, "p_D": p_D,
               "E": np.broadcast_to(E, np.shape(alpha_C))}.items()}
    grid = np.log(10.0) * np.arange(SEARCH_LOG10[0], SEARCH_LOG10[1] + GRID_DEX, GRID_DEX)
    with np.errstate(divide="ignore"):
        above = _gap(grid[None, :], **params) > 0
    falls = above[:, :-1] & ~above[:, 1:]
    exists = falls.any(axis=1)
    first = np.argmax(falls, axis=1)
    low, high = grid[first], grid[first + 1]
    flat = {k: v[:, 0] for k, v in params.items()}
    for _ in range(BISECTIONS):
        mid = 0.5 * (low + high)
        with np.errstate(divide="ignore"):
            mid_above = _gap(mid, **flat) > 0
        low, high = np.where(mid_above, mid, low), np.where(mid_above, high, mid)
    return np.where(exists, 0.5 * (low + high), np.nan)


def intersection(*, alpha_C, C_c, alpha_D, D_c, D_e, p_D, N_e, a, E=0.0) -> dict[str, Any]:
    """C*, N*, D*, L* where the frontier first falls to the data-limited loss along the compute-efficient path.

    Parameters are per draw (scalars or 1-d arrays of equal length); N_opt = N_e C^a, D_opt = D_e C^p_D and the
    frontier is E + (C_c / C)^alpha_C. ``kaplan_direction`` is True where the crossing exists: the frontier starts
    above the data-limited loss and passes below it beyond C*, as Kaplan describes. Where it does not, C*, N*, D* and
    L* are NaN.
    """
    scalar = np.ndim(alpha_C) == 0
    values = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in
              {"alpha_C": alpha_C, "C_c": C_c, "alpha_D": alpha_D, "D_c": D_c, "D_e": D_e, "p_D": p_D,
               "N_e": N_e, "a": a, "E": E}.items()}
    size = max(v.size for v in values.values())
    values = {k: np.broadcast_to(v, (size,)) for k, v in values.items()}
    log_c = first_crossing(**{k: values[k] for k in ("alpha_C", "C_c", "alpha_D", "D_c", "D_e", "p_D", "E")})
    compute = np.exp(log_c)
    out = {
        "compute": compute,
        "n_params": values["N_e"] * compute ** values["a"],
        "n_tokens": values["D_e"] * compute ** values["p_D"],
        "loss": values["E"] + (values["C_c"] / compute) ** values["alpha_C"],
        "kaplan_direction": np.isfinite(log_c),
    }
    return {k: v[0] for k, v in out.items()} if scalar else out


def frontier_loss(compute, *, alpha_C, C_c, E=0.0, **_: Any):
    """L(C_min) = E + (C_c / C)^alpha_C."""
    return E + (C_c / compute) ** alpha_C


def data_limited_loss(compute, *, alpha_D, D_c, D_e, p_D, **_: Any):
    """L(D(C)) = (D_c / (D_e C^p_D))^alpha_D: the data-limited loss along the compute-efficient path."""
    return (D_c / (D_e * compute**p_D)) ** alpha_D


def published_crossover() -> dict[str, float]:
    """The intersection on Kaplan's published values (C* in PF-days and FLOP)."""
    out = intersection(**KAPLAN_PUBLISHED)
    return {
        "compute_pf_days": float(out["compute"]),
        "compute": float(out["compute"]) * PF_DAY,
        "n_params": float(out["n_params"]),
        "n_tokens": float(out["n_tokens"]),
        "loss": float(out["loss"]),
    }


def posterior_crossover(frontier: Mapping[str, xr.DataArray], data_limited: Mapping[str, xr.DataArray], *,
                        seed: int, max_budget: float | None = None) -> xr.Dataset:
    """The crossover per posterior draw, from two fits of the same runs.

    Parameters
    ----------
    frontier : mapping
        Draws of the IsoFLOP model (``a, N_0, alpha_C, C_c``; C in FLOP): the frontier and the compute-efficient
        path N_opt = N_0 C^a, D_opt = C / (6 N_opt) = D_e C^(1-a) with D_e = 1 / (6 N_0).
    data_limited : mapping
        Draws of ``alpha_D, D_c``: Kaplan's joint law (its N -> infinity limit) or the L(D) law.
    seed : int
        The two posteriors are independent fits; their draws are paired after a seeded shuffle.
    max_budget : float, optional
        Largest budget in the data (FLOP); adds ``beyond_data``, whether C* lies beyond it (False where there is no
        crossing).

    Returns
    -------
    Dataset over ``sample`` with ``compute`` (FLOP), ``compute_pf_days``, ``n_params``, ``n_tokens``, ``loss`` and
    ``kaplan_direction``, and the paired line parameters (``alpha_C, C_c, E, alpha_D, D_c, D_e, p_D``; FLOP).
    """
    f, d = paired({k: frontier[k] for k in ("a", "N_0", "alpha_C", "C_c", "E") if k in frontier},
                  {k: data_limited[k] for k in ("alpha_D", "D_c")}, seed=seed)
    f, d = ({k: v.values for k, v in group.items()} for group in (f, d))
    out = intersection(alpha_C=f["alpha_C"], C_c=f["C_c"], alpha_D=d["alpha_D"], D_c=d["D_c"],
                       D_e=1.0 / (6.0 * f["N_0"]), p_D=1.0 - f["a"], N_e=f["N_0"], a=f["a"], E=f.get("E", 0.0))
    data = dict(out)
    data["compute_pf_days"] = out["compute"] / PF_DAY
    # the paired lines themselves, so that figures draw exactly the draws the intersection came from
    data |= {"alpha_C": f["alpha_C"], "C_c": f["C_c"], "E": np.broadcast_to(f.get("E", 0.0), f["a"].shape),
             "alpha_D": d["alpha_D"], "D_c": d["D_c"], "D_e": 1.0 / (6.0 * f["N_0"]), "p_D": 1.0 - f["a"]}
    if max_budget is not None:
        data["beyond_data"] = out["compute"] > max_budget
    return xr.Dataset({name: ("sample", value) for name, value in data.items()})


#: Laws whose fits give the frontier and compute-efficient path, and the data-limited loss L(D).
#: The frontier is Kaplan's pure power law (eq. 1.3): a floored frontier levels off rather than crossing.
FRONTIER_LAWS = ("isoflop_power",)
DATA_LIMITED_LAWS = ("kaplan_joint", "kaplan_data")
QUANTILES = (0.05, 0.5, 0.95)


def crossover_companion(fit, fits) -> object | None:
    """For a frontier fit (a law of :data:`FRONTIER_LAWS`), the data-limited fit (:data:`DATA_LIMITED_LAWS`) of the
    same runs among ``fits`` (a mapping of name to fit); None for other fits or if there is none."""
    if fit.law.name not in FRONTIER_LAWS:
        return None
    return next((other for other in fits.values() if other.law.name in DATA_LIMITED_LAWS and same_runs(fit, other)),
                None)


def fits_crossover(frontier_fit, data_fit) -> xr.Dataset:
    """:func:`posterior_crossover` of two :class:`~bayes_scaling.result.FitResult` objects (seeded by the first)."""
    if frontier_fit.law.name not in FRONTIER_LAWS:
        raise ValueError(f"{frontier_fit.name}: the frontier needs a fit of {FRONTIER_LAWS}, "
                         f"got {frontier_fit.law.name}")
    if data_fit.law.name not in DATA_LIMITED_LAWS:
        raise ValueError(f"{data_fit.name}: L(D) needs a fit of {DATA_LIMITED_LAWS}, got {data_fit.law.name}")
    return posterior_crossover(frontier_fit.params, data_fit.params, seed=int(frontier_fit.tree.attrs["seed"]),
                               max_budget=float(frontier_fit.runs["compute"].max()))


def summarise(crossover: xr.Dataset, quantiles=QUANTILES, level: float = 0.9) -> dict[str, Any]:
    """Quantiles of C* (FLOP and PF-days), N*, D*, L* over the draws in which the crossing exists, with the median
    and central ``level`` interval in the shape every interval the tool writes has (``median``, ``lower``,
    ``upper``, ``level``), the probability that it exists (Kaplan's direction) and that C* lies beyond the data, as
    plain floats (NaN if no draw crosses)."""
    out: dict[str, Any] = {"quantiles": list(quantiles)}
    exists = crossover["kaplan_direction"].values
    bounds = (0.5, (1 - level) / 2, (1 + level) / 2)
    for name in ("compute", "compute_pf_days", "n_params", "n_tokens", "loss"):
        kept = crossover[name].values[exists]
        values = np.quantile(kept, quantiles) if kept.size else np.full(len(quantiles), np.nan)
        out[name] = {f"q{round(q * 100):02d}": float(v) for q, v in zip(quantiles, values, strict=True)}
        median, lower, upper = np.quantile(kept, bounds) if kept.size else (np.nan,) * 3
        out[name].update(median=float(median), lower=float(lower), upper=float(upper), level=level)
    out["probability_kaplan_direction"] = float(crossover["kaplan_direction"].mean())
    if "beyond_data" in crossover:
        out["probability_beyond_data"] = float(crossover["beyond_data"].values[exists].mean()) if exists.any() \
            else float("nan")
    return out
