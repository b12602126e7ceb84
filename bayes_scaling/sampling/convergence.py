r"""Rank-normalised split R-hat, bulk ESS and tail ESS of one scalar's draws (Vehtari et al. 2021), as ArviZ's
``rhat(method="rank")`` and ``ess(method="bulk" | "tail")`` compute them, in NumPy and ``scipy.special``.

Why not ArviZ here: importing ``arviz_stats`` imports ``scipy.stats`` (through ``xarray_einstats``) and
``scipy.signal``, about 0.8 CPU s of the 5 a ``bayes-scaling fit`` may take (issue 19), for three diagnostics of a
dozen scalars. The report, LOO and model comparison still use ArviZ. ``tests/test_convergence.py`` checks these
numbers against ArviZ's own on mixing, sticky, tied, constant and short chains.

With draws :math:`x_{cj}` (chain :math:`c`, draw :math:`j`), each chain split in halves (the middle draw of an odd
count dropped), :math:`M` half-chains of :math:`N` draws:

- rank normalisation: :math:`z = \Phi^{-1}((r - 3/8) / (S + 1/4))`, :math:`r` the rank among all :math:`S` draws
  (ties take their average rank);
- :math:`\hat R = \sqrt{(\hat{\mathrm{var}}^+ / W)}`, :math:`\hat{\mathrm{var}}^+ = (N - 1) W / N + B / N`,
  :math:`W` the mean within-half-chain variance and :math:`B = N \mathrm{var}(\bar x_c)`; rank R-hat is the larger
  of :math:`\hat R(z)` and :math:`\hat R` of the z-scaled folded draws :math:`|x - \mathrm{median}(x)|`;
- :math:`\mathrm{ESS} = M N / \hat\tau`, :math:`\hat\tau = -1 + 2 \sum_{t \le T} \hat\rho_t + \hat\rho_{T+1}`,
  :math:`\hat\rho_t = 1 - (W - \bar\gamma_t) / \hat{\mathrm{var}}^+` from the chains' mean autocovariance
  :math:`\bar\gamma_t`, truncated by Geyer's initial positive sequence and made monotone; bulk ESS of :math:`z`,
  tail ESS the smaller of the ESS of the indicators :math:`x \le q_{p}` and :math:`x \le q_{1-p}`.

``TAIL_PROBABILITY``: ArviZ 1.x takes the tails at its ``stats.ci_prob`` (0.89 unless a user changes it), so at the
5.5% and 94.5% quantiles, where Vehtari et al. and Stan use 5% and 95%. This module keeps ArviZ's default fixed, so
the fit's numbers are what they were, whatever a user's ArviZ settings.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

#: Central probability whose tails the tail ESS looks at (ArviZ 1.x's default ``stats.ci_prob``).
TAIL_PROBABILITY = 0.89
#: Fewest draws per chain (and chains, for R-hat) for a diagnostic; fewer give NaN, as in ArviZ.
MIN_DRAWS = 4
MIN_CHAINS_RHAT = 2


def _split(draws: np.ndarray) -> np.ndarray:
    """(chains, draws) -> (2 chains, draws // 2): each chain's first and last halves."""
    half = draws.shape[1] // 2
    return np.concatenate([draws[:, :half], draws[:, draws.shape[1] - half:]])


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..S of all values (ties share their mean rank), in the values' shape."""
    flat = values.ravel()
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], flat.size]
    tie_group = np.repeat(np.arange(starts.size), ends - starts)
    ranks = np.empty(flat.size)
    ranks[order] = ((starts + 1 + ends) / 2.0)[tie_group]
    return ranks.reshape(values.shape)


def _z_scaled(values: np.ndarray) -> np.ndarray:
    """Normal scores of the ranks (Blom's offset 3/8)."""
    return ndtri((_average_ranks(values) - 0.375) / (values.size + 0.25))


def _rhat(chains: np.ndarray) -> float:
    n = chains.shape[1]
    within = np.mean(np.var(chains, axis=1, ddof=1))
    between = n * np.var(np.mean(chains, axis=1), ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sqrt((between / within + n - 1) / n))


def _mean_autocovariance(chains: np.ndarray) -> np.ndarray:
    """Each lag's autocovariance (divided by N), averaged over chains; by FFT with zero padding past 2N."""
    n = chains.shape[1]
    size = 1 << int(2 * n - 1).bit_length()
    spectrum = np.fft.rfft(chains - chains.mean(axis=1, keepdims=True), n=size, axis=1)
    return np.fft.irfft(spectrum * np.conjugate(spectrum), n=size, axis=1)[:, :n].mean(axis=0) / n


def _ess(chains: np.ndarray) -> float:
    """ESS of (chains, draws) (already split) by Geyer's initial monotone sequence."""
    m, n = chains.shape
    total = m * n
    if np.max(chains) - np.min(chains) < np.finfo(float).resolution:
        return float(total)
    gamma = _mean_autocovariance(chains.astype(float))
    within = gamma[0] * n / (n - 1.0)
    var_plus = within * (n - 1.0) / n + (np.var(chains.mean(axis=1), ddof=1) if m > 1 else 0.0)
    rho = 1.0 - (within - gamma) / var_plus
    kept = np.zeros(n)
    kept[0], kept[1] = 1.0, rho[1]
    even, odd, t = 1.0, rho[1], 1
    while t < n - 3 and even + odd > 0.0:  # pairs (rho_{t+1}, rho_{t+2}) while their sum stays positive
        even, odd = rho[t + 1], rho[t + 2]
        if even + odd >= 0.0:
            kept[t + 1], kept[t + 2] = even, odd
        t += 2
    last = t - 2
    if even > 0.0:
        kept[last + 1] = even
    t = 1
    while t <= last - 2:  # monotone: no pair sum above the one before it
        if kept[t + 1] + kept[t + 2] > kept[t - 1] + kept[t]:
            kept[t + 1] = kept[t + 2] = (kept[t - 1] + kept[t]) / 2.0
        t += 2
    tau = -1.0 + 2.0 * np.sum(kept[:last + 1]) + np.sum(kept[last + 1:last + 2])
    tau = max(tau, 1.0 / np.log10(total))
    return float("nan") if np.isnan(kept).any() else float(total / tau)


def _valid(draws: np.ndarray, min_chains: int) -> bool:
    return draws.ndim == 2 and draws.shape[0] >= min_chains and draws.shape[1] >= MIN_DRAWS \
        and not np.isnan(draws).any()


def rank_rhat(draws: np.ndarray) -> float:
    """Rank-normalised split R-hat of (chains, draws): the larger of the bulk's and the folded draws'; NaN with
    fewer than 2 chains or 4 draws, or any NaN draw."""
    draws = np.asarray(draws, dtype=float)
    if not _valid(draws, MIN_CHAINS_RHAT):
        return float("nan")
    halves = _split(draws)
    folded = np.abs(halves - np.median(halves))
    return max(_rhat(_z_scaled(halves)), _rhat(_z_scaled(folded)))


def bulk_ess(draws: np.ndarray) -> float:
    """Bulk ESS of (chains, draws): the ESS of the rank-normalised split chains."""
    draws = np.asarray(draws, dtype=float)
    if not _valid(draws, 1):
        return float("nan")
    return _ess(_z_scaled(_split(draws)))


def tail_ess(draws: np.ndarray, probability: float = TAIL_PROBABILITY) -> float:
    """Tail ESS of (chains, draws): the smaller ESS of the indicators of the draws at or below the
    ``(1 - probability) / 2`` and ``(1 + probability) / 2`` quantiles."""
    draws = np.asarray(draws, dtype=float)
    if not _valid(draws, 1):
        return float("nan")
    low, high = sorted((probability, 1.0 - probability))
    return min(_ess(_split(draws <= np.quantile(draws, q)).astype(float)) for q in (low, high))
