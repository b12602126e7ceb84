"""IsoFLOP profiles on Kaplan's pure power-law frontier (no floor): the form behind Kaplan's L* crossover."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from bayes_scaling.laws.base import PowerTerm
from bayes_scaling.laws.isoflop import IsoFlopLaw, scaled_profile
from bayes_scaling.priors import Prior


class IsoFlopPowerLaw(IsoFlopLaw):
    r"""The IsoFLOP law with Kaplan's frontier, L_min(C) = (C_c / C)^alpha_C (eq. 1.3), and no floor.

    .. math:: L(N, C) = \left(\frac{C_c}{C}\right)^{\alpha_C} g\!\left(\log\frac{N}{N_0 C^a}\right)

    This is the form Kaplan et al. fitted (a pure power law in C and N_opt ∝ C^a), and the one whose frontier must
    cross the data-limited loss L(D): a frontier with a floor levels off instead, so the L* crossover
    (``bayes-scaling crossover``) is computed from this law. Its a is biased where profiles have a floor (+0.06 on
    simulated Chinchilla runs), so quote a from the floored ``isoflop`` law.

    Default priors as the ``isoflop`` law's, without E, with ``alpha_C ~ Gamma(mu=0.06, sigma=0.05)`` (Kaplan's
    floorless 0.050 in its bulk) and the frontier at the data's centre budget, (C_c / C̄)^alpha_C, now the whole
    minimal loss: ``LogNormal(log 3, 0.5)`` nats (95% in 1.1 to 8).
    """

    name = "isoflop_power"
    floor = None  # Kaplan's frontier has no floor
    #: Not scored with the GP inside the model (docs/calibration.md, session 15, scored the floored law only).
    default_discrepancy = "after"
    title = "IsoFLOP profiles on Kaplan's power-law frontier (no floor; the form of Kaplan's L* crossover)"
    plain_title = "IsoFLOP profiles on a power-law compute frontier (no floor)"
    equation = "L = (C_c/C)^α_C · g(log(N / (N_0 C^a)); u, v)"
    reference = "Kaplan et al. 2020 section 6 and eq. (1.3); Hoffmann et al. 2022 approach 2"
    default_priors: ClassVar[dict[str, Prior]] = {
        **{k: v for k, v in IsoFlopLaw.default_priors.items() if k != "E"},
        "alpha_C": Prior("Gamma", {"mu": 0.06, "sigma": 0.05}),
        "C_c": Prior("LogNormal", {"mu": 1.1, "sigma": 0.5}, at="centre"),
    }
    power_terms = (
        PowerTerm(amplitude="N_0", exponent="a", input="compute", form="growth", centre_unit=(1.0 / 6.0, 0.5)),
        PowerTerm(amplitude="C_c", exponent="alpha_C", input="compute", form="scale"),
    )

    def frontier(self, compute, *, C_c, alpha_C, **_: Any):
        """L_min(C) = (C_c / C)^alpha_C (eq. 1.3)."""
        return (C_c / compute) ** alpha_C

    def loss(self, *, n_params, compute, a, N_0, alpha_C, C_c, u, v):
        """(C_c / C)^alpha_C * g(log N - log N_opt(C); u, v) in nats per token."""
        delta = np.log(n_params) - np.log(N_0) - a * np.log(compute)
        return scaled_profile(alpha_C * (np.log(C_c) - np.log(compute)), delta, u, v)
