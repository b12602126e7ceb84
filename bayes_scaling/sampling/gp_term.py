r"""The discrepancy inside the model: a Hilbert-space Gaussian process on log loss over the law's inputs in decades,
its coefficients integrated out, sampled with the law's parameters.

.. math::

    \log L_i = \log L_{law}(x_i; \theta) + \delta(x_i) + \varepsilon_i, \qquad
    \delta(x) \approx \sum_j \phi_j(x)\, \sqrt{S(\sqrt{\lambda_j})}\, \beta_j, \quad \beta_j \sim N(0, 1),
    \quad \varepsilon_i \sim N(0, \sigma^2)

with :math:`x` = log10 of each input, centred on the middle of the data's range, :math:`\phi_j, \lambda_j` the
Laplacian's eigenfunctions and eigenvalues on the box :math:`[-L, L]` (Solin & Särkkä 2020; Riutort-Mayol et al.
2023; PyMC's ``hsgp_approx``), ``BASIS`` of them per input and :math:`L` = ``BOUNDARY`` x the half-range, and
:math:`S` the spectral density of a Matérn-3/2 kernel with amplitude :math:`\eta` and one length scale
:math:`\ell_d` per input (ARD):

.. math::

    S(\omega) = \eta^2\, \frac{2^D \pi^{D/2}\, \Gamma(\nu + D/2)\, (2\nu)^\nu}{\Gamma(\nu)}
    \prod_d \ell_d \,\Big(2\nu + \sum_d \ell_d^2 \omega_d^2\Big)^{-(\nu + D/2)}, \qquad \nu = 3/2.

The coefficients are integrated out (Gaussian in Gaussian: :func:`observe`), so NUTS moves only the law's
parameters, :math:`\sigma`, :math:`\eta` and the length scales. Sampled explicitly, the coefficients and the floor E
formed a ridge that NUTS crossed slowly (bulk ESS of E 150-200 per 4,000 draws on Epoch AI's runs, for any basis
size, either parameterisation); integrated out, the same posterior mixes in a few leapfrog steps per draw (ESS above
1,000). The price is Gaussian noise: a fit with the GP inside uses the normal likelihood.

Priors (fixed before any suite was scored): :math:`\eta \sim \mathrm{Gamma}(2, 100)` (a misfit of a few tenths of a
percent to a few percent of the loss, 95% in 0.0024 to 0.056; zero-avoiding, see ``ETA_SHAPE``) and
:math:`\ell_d \sim \mathrm{LogNormal}` with 95% of its mass between an eighth of the data's range in that input and
the whole range, so that the discrepancy can neither collapse to a nugget nor stretch to a constant the law's own
parameters would absorb, unless the data say so.
Every interval downstream (a, b, N_opt, the crossover) then carries the misfit. The basis is a constant of the data
(``pm.Data``), so refits on a subset of the runs swap its rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import gammaln

from bayes_scaling.priors import Prior

#: Basis functions per input (BASIS^D in all). 5 since session 25 (8 before): the M x M algebra of each log density
#: costs ~M^3, and M = 25 instead of 64 cut an in-model fit of Epoch's runs from about 20 to 9.8 CPU s (7.6 with the
#: basis in numpy; docs/performance.md, session 25). Length scales near the prior's shortest (an eighth of the range)
#: come out smoother than asked; the posterior's, about half the range and up, are resolved. Adopted by a rule written
#: before its scores (docs/calibration.md, session 25): leave one suite out, mean CRPS 0.00971 against 0.00954 at 8
#: (wider intervals), every fit converged, 16 of 20 external rows pass against 15, though the external CRPS rose 13%.
#: (Session 11 chose 8 over 12 by mixing: bulk ESS of E 186 against 77 per 4,000 draws.)
BASIS = 5
#: Half-width of the approximation box over the data's half-range in each input (>= 1.2 recommended).
BOUNDARY = 1.5
#: Matérn smoothness: 3/2 (one derivative; the discrepancy's slope along an IsoFLOP line exists).
NU = 1.5
#: Gamma prior on the amplitude eta (log loss): shape 2, rate 100 (mean 0.02, 95% in 0.0024 to 0.056). Zero-avoiding:
#: with a HalfNormal, fits whose data carry little misfit put posterior mass at eta near 0, where the law's floor and
#: the GP's length scales form a funnel NUTS diverges in (7 divergences in 16,000 draws on simulated runs).
ETA_SHAPE, ETA_RATE = 2.0, 100.0
#: The length scale prior's central 95% spans this fraction of an input's range up to the whole range.
SHORTEST_FRACTION = 1 / 8
#: An input whose runs span fewer decades than this is given this range (a length scale needs a scale).
LEAST_RANGE = 0.5
ETA = "gp_eta"
#: Standardised basis coefficients (integrated out while sampling; drawn back given each draw's residuals).
COEFFICIENTS = "gp_coefficients"
BASIS_DATA = "gp_basis"
GRAM_DATA = "gp_gram"


def length_name(input_name: str) -> str:
    """The posterior variable of the length scale (decades) of one input."""
    return f"gp_length_{input_name}"


@dataclass(frozen=True)
class GPTerm:
    """The box and basis of a discrepancy GP, fixed by the data the model is built on."""

    inputs: tuple[str, ...]
    centre: tuple[float, ...]
    half_range: tuple[float, ...]
    basis_per_input: int = BASIS
    boundary: float = BOUNDARY

    @classmethod
    def for_data(cls, inputs: tuple[str, ...], columns: dict[str, np.ndarray]) -> GPTerm:
        """The box around the runs' inputs (decades)."""
        logs = [np.log10(np.asarray(columns[name], dtype=float)) for name in inputs]
        centre = tuple(float((x.max() + x.min()) / 2) for x in logs)
        half = tuple(float(max(x.max() - x.min(), LEAST_RANGE) / 2) for x in logs)
        return cls(tuple(inputs), centre, half)

    @property
    def box(self) -> np.ndarray:
        """L per input (decades)."""
        return self.boundary * np.asarray(self.half_range)

    @property
    def shape(self) -> list[int]:
        return [self.basis_per_input] * len(self.inputs)

    def frequencies(self) -> np.ndarray:
        """sqrt of the Laplacian's eigenvalues, (basis, inputs)."""
        from pymc.gp.hsgp_approx import calc_eigenvalues

        return np.sqrt(np.asarray(calc_eigenvalues(self.box, self.shape), dtype=float))

    def basis(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        r"""Eigenfunctions at the points (points, basis): constant data of the model. The Dirichlet eigenfunctions
        of PyMC's ``calc_eigenvectors``, in numpy (its PyTensor graph costs a compilation per call):

        .. math:: \phi_j(x) = \prod_d L_d^{-1/2} \sin\big(\omega_{jd} (x_d + L_d)\big).
        """
        centred = np.column_stack([np.log10(np.asarray(columns[name], dtype=float)).ravel() - c
                                   for name, c in zip(self.inputs, self.centre, strict=True)])
        box, omega = self.box, self.frequencies()
        phi = np.ones((centred.shape[0], omega.shape[0]))
        for d in range(centred.shape[1]):
            phi *= np.sin(omega[:, d] * (centred[:, d, None] + box[d])) / np.sqrt(box[d])
        return phi

    def length_prior(self, index: int) -> tuple[float, float]:
        """(mu, sigma) of the LogNormal prior on one input's length scale."""
        full = 2 * self.half_range[index]
        low, high = np.log(SHORTEST_FRACTION * full), np.log(full)
        return float((low + high) / 2), float((high - low) / (2 * 1.959964))


def sqrt_spectral_density(frequencies, eta, lengths, xp=np):
    """sqrt S(omega) of the Matérn-3/2 kernel with ARD ``lengths`` (sequence, one per input) at ``frequencies``
    (basis, inputs), with numpy or ``pytensor.tensor`` as ``xp``."""
    dims = frequencies.shape[1]
    log_constant = (dims * np.log(2) + dims / 2 * np.log(np.pi) + gammaln(NU + dims / 2) + NU * np.log(2 * NU)
                    - gammaln(NU))
    quadratic = sum(lengths[d] ** 2 * frequencies[:, d] ** 2 for d in range(dims))
    log_lengths = sum(xp.log(lengths[d]) for d in range(dims))
    log_density = log_constant + log_lengths - (NU + dims / 2) * xp.log(2 * NU + quadratic)
    return eta * xp.exp(0.5 * log_density)


def term_data(term: GPTerm, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The model's constant data for these points: the basis at them and its Gram matrix (refits swap both)."""
    basis = term.basis(columns)
    return {BASIS_DATA: basis, GRAM_DATA: basis.T @ basis}


def declared_priors(term: GPTerm) -> dict[str, Prior]:
    """The GP hyperparameters' priors as declarations (for a fit's provenance)."""
    out = {ETA: Prior("Gamma", {"alpha": ETA_SHAPE, "beta": ETA_RATE})}
    for index, name in enumerate(term.inputs):
        mu, sigma = term.length_prior(index)
        out[length_name(name)] = Prior("LogNormal", {"mu": round(mu, 6), "sigma": round(sigma, 6)})
    return out


def prior_draws(term: GPTerm, rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """``size`` forward draws of the GP's hyperparameters and standardised coefficients from their priors."""
    out = {ETA: rng.gamma(ETA_SHAPE, 1 / ETA_RATE, size)}
    for index, name in enumerate(term.inputs):
        mu, sigma = term.length_prior(index)
        out[length_name(name)] = np.exp(mu + sigma * rng.standard_normal(size))
    out[COEFFICIENTS] = rng.standard_normal((size, int(np.prod(term.shape))))
    return out


def _hyperparameters(term: GPTerm):
    import pymc as pm

    eta = pm.Gamma(ETA, alpha=ETA_SHAPE, beta=ETA_RATE)
    lengths = []
    for index, name in enumerate(term.inputs):
        mu, sigma = term.length_prior(index)
        lengths.append(pm.LogNormal(length_name(name), mu=mu, sigma=sigma))
    return eta, lengths


def observe(term: GPTerm, columns: dict[str, np.ndarray], mu, observed, sigma, run_dim: str):
    r"""The runs' log loss given the law's ``mu`` with the GP's coefficients integrated out and Normal noise
    ``sigma``: :math:`y \sim N(\mu, \sigma^2 I + \Phi S \Phi^T)`, by Woodbury in the basis (M x M, not n x n):

    .. math::

        -2 \log p = n \log 2\pi\sigma^2 + \log|B| + r^T r/\sigma^2 - w^T B^{-1} w / \sigma^4, \quad
        B = I + S^{1/2} \Phi^T \Phi S^{1/2} / \sigma^2, \; w = S^{1/2} \Phi^T r, \; r = y - \mu.
    """
    import pymc as pm
    import pytensor.tensor as pt

    from bayes_scaling.sampling.gp_marginal import gp_marginal_terms

    values = term_data(term, columns)
    basis = pm.Data(BASIS_DATA, values[BASIS_DATA], dims=(run_dim, "gp_basis_function"))
    gram = pm.Data(GRAM_DATA, values[GRAM_DATA], dims=("gp_basis_function", "gp_basis_function_"))
    eta, lengths = _hyperparameters(term)
    scale = sqrt_spectral_density(term.frequencies(), eta, lengths, xp=pt)
    residual = observed - mu
    variance = sigma**2
    # log|B| and w^T B^{-1} w (w = scale * basis^T r) with their gradients in one Op (gp_marginal.py)
    logdet, quadratic = gp_marginal_terms(scale, variance, pt.dot(basis.T, residual), gram)[:2]
    n = residual.shape[0]
    log_density = -0.5 * (n * pt.log(2 * np.pi * variance) + logdet + pt.sum(residual**2) / variance
                          - quadratic / variance**2)
    return pm.Potential("log_loss_marginal", log_density)


def hyperparameter_names(term: GPTerm) -> tuple[str, ...]:
    """The GP's natural hyperparameters, as stored in a fit's posterior."""
    return (ETA, *(length_name(name) for name in term.inputs))


def delta_at(term: GPTerm, draws: dict[str, np.ndarray], columns: dict[str, np.ndarray]) -> np.ndarray:
    """delta at the points per draw: ``draws`` holds 1-d arrays of eta and the length scales and a (draws, basis)
    array of standardised coefficients (``COEFFICIENTS``, N(0, 1) under the prior); returns (draws, points)."""
    scale = sqrt_spectral_density(term.frequencies(), np.asarray(draws[ETA])[:, None],
                                  [np.asarray(draws[length_name(n)])[:, None] for n in term.inputs])
    return (np.asarray(draws[COEFFICIENTS]) * scale) @ term.basis(columns).T


def coefficient_draws(term: GPTerm, draws: dict[str, np.ndarray], columns: dict[str, np.ndarray],
                      residuals: np.ndarray, sigma: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    r"""Standardised coefficients :math:`\tilde\beta` of the GP given each draw's residuals at the runs ``r``
    (draws, runs) and noise ``sigma`` (draws): :math:`\tilde\beta \sim N(B^{-1} w / \sigma^2, B^{-1})` with
    :math:`B, w` of :func:`observe` (the model integrates them out; predictions at the runs draw them back)."""
    basis = term.basis(columns)
    gram = basis.T @ basis
    frequencies = term.frequencies()
    out = np.empty((residuals.shape[0], basis.shape[1]))
    for start in range(0, residuals.shape[0], 256):
        part = slice(start, start + 256)
        scale = sqrt_spectral_density(frequencies, np.asarray(draws[ETA])[part, None],
                                      [np.asarray(draws[length_name(n)])[part, None] for n in term.inputs])
        variance = np.asarray(sigma)[part, None, None] ** 2
        b = np.eye(gram.shape[0])[None] + scale[:, :, None] * gram[None] * scale[:, None, :] / variance
        factor = np.linalg.cholesky(b)
        w = scale * (residuals[part] @ basis) / variance[:, :, 0]
        noise = rng.standard_normal(w.shape)
        # B = L L^T: the mean B^{-1} w = L^{-T} L^{-1} w, and L^{-T} z has covariance B^{-1}; so L^{-T} (L^{-1} w + z)
        half = solve_triangular(factor, w[..., None], lower=True)[..., 0]
        out[part] = solve_triangular(factor, (half + noise)[..., None], lower=True, trans="T")[..., 0]
    return out
