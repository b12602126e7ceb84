"""Kaplan et al. 2020, eq. (1.5): L(N, D) = [(N_c / N)^(alpha_N / alpha_D) + D_c / D]^alpha_D."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from bayes_scaling.laws.base import Law, PowerTerm
from bayes_scaling.priors import Prior


class KaplanJointLaw(Law):
    r"""Joint size-and-data law, Kaplan et al. 2020 eq. (1.5) and Table 2.

    .. math:: L(N, D) = \left[\left(\frac{N_c}{N}\right)^{\alpha_N / \alpha_D} + \frac{D_c}{D}\right]^{\alpha_D}

    D -> infinity gives L(N) (eq. 1.1), N -> infinity gives L(D) (eq. 1.2). Under C = 6 N D, with r = alpha_N /
    alpha_D, the loss is minimised at N_opt = (r N_c^r C / (6 D_c))^{1/(1+r)}, so a = alpha_D / (alpha_N + alpha_D)
    and b = alpha_N / (alpha_N + alpha_D). Kaplan's Table 2: alpha_N = 0.076, alpha_D = 0.103, N_c = 6.4e13,
    D_c = 1.8e13 (N without embeddings).

    Default priors: ``alpha_N, alpha_D ~ Gamma(mu=0.1, sigma=0.08)``; ``N_c ~ LogNormal(32.2, 6)`` (median 1e14);
    ``D_c ~ LogNormal(30.6, 6)`` (median 2e13 tokens).
    """

    name = "kaplan_joint"
    title = "Kaplan L(N, D) (Kaplan et al. 2020, eq. 1.5)"
    plain_title = "Joint power law of loss in model size and training tokens"
    equation = "L(N, D) = [(N_c / N)^(α_N/α_D) + D_c / D]^α_D"
    reference = "Kaplan et al. 2020, arXiv 2001.08361, eq. (1.5) and Table 2"
    inputs = ("n_params", "n_tokens")
    default_priors: ClassVar[dict[str, Prior]] = {
        "alpha_N": Prior("Gamma", {"mu": 0.1, "sigma": 0.08}),
        "alpha_D": Prior("Gamma", {"mu": 0.1, "sigma": 0.08}),
        "N_c": Prior("LogNormal", {"mu": 32.2, "sigma": 6.0}),
        "D_c": Prior("LogNormal", {"mu": 30.6, "sigma": 6.0}),
    }
    power_terms = (
        PowerTerm(amplitude="N_c", exponent="alpha_N", input="n_params", form="scale"),
        PowerTerm(amplitude="D_c", exponent="alpha_D", input="n_tokens", form="scale"),
    )

    def loss(self, *, n_params, n_tokens, alpha_N, alpha_D, N_c, D_c):
        """[(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D in nats per token."""
        return ((N_c / n_params) ** (alpha_N / alpha_D) + D_c / n_tokens) ** alpha_D

    def allocation_exponents(self, *, alpha_N, alpha_D, **_: Any) -> dict[str, Any]:
        """a = alpha_D / (alpha_N + alpha_D), b = alpha_N / (alpha_N + alpha_D)."""
        return {"a": alpha_D / (alpha_N + alpha_D), "b": alpha_N / (alpha_N + alpha_D)}

    def optimal_allocation(self, compute, *, alpha_N, alpha_D, N_c, D_c, **_: Any) -> dict[str, Any]:
        """N_opt = (r N_c^r C / (6 D_c))^(1/(1+r)) with r = alpha_N / alpha_D, D_opt = C / (6 N_opt)."""
        r = alpha_N / alpha_D
        log_n = (np.log(r) + r * np.log(N_c) + np.log(compute) - math.log(6.0) - np.log(D_c)) / (1.0 + r)
        n_params = np.exp(log_n)
        return {"n_params": n_params, "n_tokens": compute / (6.0 * n_params)}
