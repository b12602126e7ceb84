"""Kaplan et al. 2020, eq. (1.6): loss along training, L(N, S) = (N_c / N)^alpha_N + (S_c / S)^alpha_S."""

from __future__ import annotations

import math
from typing import ClassVar

from bayes_scaling.laws.base import Law, PowerTerm
from bayes_scaling.priors import Prior


class KaplanStepsLaw(Law):
    r"""Size-and-steps law, Kaplan et al. 2020 eq. (1.6) and Table 3.

    .. math:: L(N, S) = \left(\frac{N_c}{N}\right)^{\alpha_N} + \left(\frac{S_c}{S}\right)^{\alpha_S}

    S counts optimizer steps at the runs' batch size B. Kaplan wrote the law in S_min = S / (1 + B_crit(L) / B),
    the fewest steps that reach the same loss with a very large batch; with one batch size in the data,
    (1 + B_crit / B) is a constant that multiplies S_c and cannot be told apart from it (B_crit varies with L only as
    L^(-1/alpha_B), about 20% over these runs' losses), so S_c here is Kaplan's S_c times (1 + B_crit / B) at the
    runs' batch, and B_crit and S_min are not identified. Kaplan's Table 3: alpha_N = 0.077, alpha_S = 0.76,
    N_c = 6.5e13 (non-embedding), S_c = 2.1e3.

    The law has no floor and no compute-optimal allocation: it does not say how steps become tokens beyond the
    batch, so it answers loss at (N, S) only.

    Default priors: ``alpha_N ~ Gamma(mu=0.1, sigma=0.08)`` as Kaplan's other laws; ``alpha_S ~ Gamma(mu=0.7,
    sigma=0.5)`` (95% in about 0.1..1.9); ``N_c ~ LogNormal(32.2, 6)`` (median 1e14); ``S_c ~ LogNormal(log 2000,
    4)`` (median 2,000 steps, 95% over more than three decades either side).
    """

    name = "kaplan_steps"
    title = "Kaplan L(N, S) (Kaplan et al. 2020, eq. 1.6)"
    plain_title = "Power law of loss in model size and training steps"
    equation = "L(N, S) = (N_c / N)^α_N + (S_c / S)^α_S"
    reference = "Kaplan et al. 2020, arXiv 2001.08361, eq. (1.6) and Table 3"
    inputs = ("n_params", "steps")
    default_priors: ClassVar[dict[str, Prior]] = {
        "alpha_N": Prior("Gamma", {"mu": 0.1, "sigma": 0.08}),
        "alpha_S": Prior("Gamma", {"mu": 0.7, "sigma": 0.5}),
        "N_c": Prior("LogNormal", {"mu": 32.2, "sigma": 6.0}),
        "S_c": Prior("LogNormal", {"mu": math.log(2000.0), "sigma": 4.0}),
    }
    power_terms = (
        PowerTerm(amplitude="N_c", exponent="alpha_N", input="n_params", form="scale"),
        PowerTerm(amplitude="S_c", exponent="alpha_S", input="steps", form="scale"),
    )

    def loss(self, *, n_params, steps, alpha_N, alpha_S, N_c, S_c):
        """(N_c/N)^alpha_N + (S_c/S)^alpha_S in nats per token."""
        return (N_c / n_params) ** alpha_N + (S_c / steps) ** alpha_S
