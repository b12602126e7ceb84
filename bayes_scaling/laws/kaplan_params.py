"""Kaplan et al. 2020, eq. (1.1): loss of converged models limited by size, L(N) = (N_c / N)^alpha_N."""

from __future__ import annotations

from typing import ClassVar

from bayes_scaling.laws.power import SinglePowerLaw
from bayes_scaling.priors import Prior


class KaplanParamsLaw(SinglePowerLaw):
    r"""Size-limited loss, Kaplan et al. 2020 eq. (1.1).

    .. math:: L(N) = \left(\frac{N_c}{N}\right)^{\alpha_N}

    N counts non-embedding parameters in Kaplan's convention; fit it to runs trained to convergence (data not
    limiting). Kaplan: alpha_N = 0.076, N_c = 8.8e13.

    Default priors: ``alpha_N ~ Gamma(mu=0.1, sigma=0.08)`` (95% in about 0.01..0.3, language-model exponents are
    0.05..0.1); ``N_c ~ LogNormal(32.2, 6)`` (median 1e14, 95% over ten decades either side).
    """

    name = "kaplan_params"
    title = "Kaplan L(N): size-limited loss (Kaplan et al. 2020, eq. 1.1)"
    plain_title = "Power law of loss in model size (size-limited)"
    equation = "L(N) = (N_c / N)^α_N"
    reference = "Kaplan et al. 2020, arXiv 2001.08361, eq. (1.1)"
    input, scale, exponent = "n_params", "N_c", "alpha_N"
    default_priors: ClassVar[dict[str, Prior]] = {
        "alpha_N": Prior("Gamma", {"mu": 0.1, "sigma": 0.08}),
        "N_c": Prior("LogNormal", {"mu": 32.2, "sigma": 6.0}),
    }
