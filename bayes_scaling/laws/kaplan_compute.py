"""Kaplan et al. 2020, eq. (1.3): the compute-efficient frontier, L(C_min) = (C_c / C_min)^alpha_C."""

from __future__ import annotations

from typing import ClassVar

from bayes_scaling.laws.power import SinglePowerLaw
from bayes_scaling.priors import Prior


class KaplanComputeLaw(SinglePowerLaw):
    r"""Loss on the compute-efficient frontier, Kaplan et al. 2020 eq. (1.3).

    .. math:: L(C_{min}) = \left(\frac{C_c}{C_{min}}\right)^{\alpha_C}

    C is in FLOP here (Kaplan used PF-days: 1 PF-day = 8.64e19 FLOP, so Kaplan's C_c = 3.1e8 PF-days is 2.7e28 FLOP);
    fit it to the lowest-loss run of each budget (the spec filter ``compute_frontier``). Kaplan: alpha_C = 0.050.

    Default priors: ``alpha_C ~ Gamma(mu=0.06, sigma=0.05)``; ``C_c ~ LogNormal(65.5, 8)`` (median 2.7e28 FLOP).
    """

    name = "kaplan_compute"
    title = "Kaplan L(C_min): compute-efficient frontier (Kaplan et al. 2020, eq. 1.3)"
    plain_title = "Power law of loss in compute on the compute-efficient frontier"
    equation = "L(C_min) = (C_c / C_min)^α_C"
    reference = "Kaplan et al. 2020, arXiv 2001.08361, eq. (1.3)"
    input, scale, exponent = "compute", "C_c", "alpha_C"
    default_priors: ClassVar[dict[str, Prior]] = {
        "alpha_C": Prior("Gamma", {"mu": 0.06, "sigma": 0.05}),
        "C_c": Prior("LogNormal", {"mu": 65.5, "sigma": 8.0}),
    }
