"""Hoffmann et al. 2022 (Chinchilla), approach 3: L(N, D) = E + A / N^alpha + B / D^beta."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from bayes_scaling.laws.base import Law, PowerTerm
from bayes_scaling.priors import Prior


class ChinchillaLaw(Law):
    r"""Parametric loss of Hoffmann et al. 2022, eq. (2).

    .. math:: L(N, D) = E + \frac{A}{N^\alpha} + \frac{B}{D^\beta}

    N counts all parameters (embeddings included), D training tokens, L nats per token. Under C = 6 N D the
    compute-optimal allocation is N_opt = G (C/6)^a and D_opt = G^{-1} (C/6)^b with a = beta / (alpha + beta),
    b = alpha / (alpha + beta) and G = (alpha A / (beta B))^{1 / (alpha + beta)}.

    Default priors (weakly informative, on the natural scale):

    - ``E ~ LogNormal(0.5, 0.5)``: irreducible loss, median 1.65 nats, 95% in (0.6, 4.4).
    - ``alpha, beta ~ Gamma(mu=0.4, sigma=0.3)``: positive, 95% in about (0.04, 1.2); language-model scaling
      exponents reported so far lie in 0.05 to 0.8.
    - ``A, B``: ``LogNormal(log 0.3, 1)`` on the term's value at the data's geometric-mean N (resp. D), i.e. on
      ``A / N̄^α``: median 0.3 nats, 95% in (0.04, 2.1). (On Epoch AI's runs the fitted terms there are 0.37 and
      0.39.) A prior on A itself, independent of alpha, would let A / N^α reach hundreds of nats whenever alpha
      is small; on the term, the prior predictive keeps losses at 1.3 to 6 nats (90%) for any exponent. Override
      with ``A = { dist = "LogNormal", mu = 6, sigma = 3 }`` for a prior on A itself.
    """

    name = "chinchilla"
    title = "Chinchilla parametric loss (Hoffmann et al. 2022, approach 3)"
    plain_title = "Parametric loss in model size and training tokens, with an irreducible floor"
    equation = "L(N, D) = E + A / N^α + B / D^β"
    reference = "Hoffmann et al. 2022, arXiv 2203.15556, eq. (2) and appendix D.2"
    inputs = ("n_params", "n_tokens")
    floor = "E"
    #: Chosen by a rule fixed before its scores (docs/calibration.md, session 15: leave one suite out and the
    #: external protocol): the GP is sampled with the law's parameters, so every interval carries the misfit.
    default_discrepancy = "in_model"
    default_priors: ClassVar[dict[str, Prior]] = {
        "E": Prior("LogNormal", {"mu": 0.5, "sigma": 0.5}),
        "A": Prior("LogNormal", {"mu": math.log(0.3), "sigma": 1.0}, at="centre"),
        "B": Prior("LogNormal", {"mu": math.log(0.3), "sigma": 1.0}, at="centre"),
        "alpha": Prior("Gamma", {"mu": 0.4, "sigma": 0.3}),
        "beta": Prior("Gamma", {"mu": 0.4, "sigma": 0.3}),
    }
    power_terms = (
        PowerTerm(amplitude="A", exponent="alpha", input="n_params"),
        PowerTerm(amplitude="B", exponent="beta", input="n_tokens"),
    )

    def loss(self, *, n_params, n_tokens, E, A, B, alpha, beta):
        """L(N, D) = E + A N^-alpha + B D^-beta, in nats per token."""
        return E + A * n_params**-alpha + B * n_tokens**-beta

    def allocation_exponents(self, *, alpha, beta, **_: Any) -> dict[str, Any]:
        """a = beta / (alpha + beta) and b = alpha / (alpha + beta)."""
        return {"a": beta / (alpha + beta), "b": alpha / (alpha + beta)}

    def optimal_allocation(self, compute, *, A, B, alpha, beta, **_: Any) -> dict[str, Any]:
        """N_opt = G (C/6)^a, D_opt = (C/6)^b / G, minimising L(N, D) subject to 6 N D = C."""
        total = alpha + beta
        log_g = (np.log(alpha * A) - np.log(beta * B)) / total
        log_c6 = np.log(compute) - math.log(6.0)
        return {
            "n_params": np.exp(log_g + log_c6 * beta / total),
            "n_tokens": np.exp(-log_g + log_c6 * alpha / total),
        }
