"""Kaplan et al. 2020, eq. (1.2): loss of large models limited by data, L(D) = (D_c / D)^alpha_D."""

from __future__ import annotations

from typing import ClassVar

from bayes_scaling.laws.power import SinglePowerLaw
from bayes_scaling.priors import Prior


class KaplanDataLaw(SinglePowerLaw):
    r"""Data-limited loss, Kaplan et al. 2020 eq. (1.2).

    .. math:: L(D) = \left(\frac{D_c}{D}\right)^{\alpha_D}

    D counts training tokens; fit it to large models stopped early (size not limiting). Kaplan: alpha_D = 0.095,
    D_c = 5.4e13 tokens.

    Default priors: ``alpha_D ~ Gamma(mu=0.1, sigma=0.08)``; ``D_c ~ LogNormal(31.6, 6)`` (median 5e13 tokens).
    """

    name = "kaplan_data"
    title = "Kaplan L(D): data-limited loss (Kaplan et al. 2020, eq. 1.2)"
    plain_title = "Power law of loss in training tokens (data-limited)"
    equation = "L(D) = (D_c / D)^α_D"
    reference = "Kaplan et al. 2020, arXiv 2001.08361, eq. (1.2)"
    input, scale, exponent = "n_tokens", "D_c", "alpha_D"
    default_priors: ClassVar[dict[str, Prior]] = {
        "alpha_D": Prior("Gamma", {"mu": 0.1, "sigma": 0.08}),
        "D_c": Prior("LogNormal", {"mu": 31.6, "sigma": 6.0}),
    }
