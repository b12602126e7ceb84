"""Muennighoff et al. 2023, data-constrained scaling: repeated tokens are worth less than fresh ones."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from bayes_scaling.laws.base import Law, PowerTerm
from bayes_scaling.laws.chinchilla import ChinchillaLaw
from bayes_scaling.priors import Prior


class MuennighoffLaw(Law):
    r"""Chinchilla's law on effective data, Muennighoff et al. 2023, eq. (5) and (7).

    .. math::

        L(N, D, U_D) = E + \frac{A}{N^\alpha} + \frac{B}{D'^\beta}, \qquad
        D' = U_D \left(1 + R_D^* \left(1 - e^{-R_D / R_D^*}\right)\right), \qquad
        R_D = \max\left(\frac{D}{U_D} - 1,\ 0\right)

    with D the tokens trained on (all epochs), U_D the unique tokens among them and R_D the repetitions beyond the
    first epoch. Each repetition is worth less than the one before: D' grows like D for R_D << R_D^* and saturates
    at U_D (1 + R_D^*). Muennighoff et al. fitted R_D^* = 15.4 (about four epochs are as good as fresh data). Their
    matching decay of excess parameters (R_N^*) is not modelled: N counts every parameter, as in Chinchilla's law.

    Default priors: as the Chinchilla law's for E, A, B, alpha, beta (the B term's centred coordinate and its prior
    ``at = "centre"`` use the geometric mean of D, which equals D' where data are not repeated);
    ``R_star ~ LogNormal(log 15, 1)``: median 15 repetitions, 95% in (2, 107).
    """

    name = "muennighoff"
    title = "Data-constrained scaling (Muennighoff et al. 2023)"
    plain_title = "Parametric loss with repeated data (unique tokens and epochs)"
    equation = "L(N, D, U_D) = E + A / N^α + B / D'^β, D' = U_D (1 + R*(1 - exp(-(D/U_D - 1)/R*)))"
    reference = "Muennighoff et al. 2023, arXiv 2305.16264, eq. (5) and (7)"
    inputs = ("n_params", "n_tokens", "unique_tokens")
    floor = "E"
    default_priors: ClassVar[dict[str, Prior]] = {
        **ChinchillaLaw.default_priors,  # E, A, B, alpha, beta as for Chinchilla's law
        "R_star": Prior("LogNormal", {"mu": math.log(15.0), "sigma": 1.0}),
    }
    power_terms = (
        PowerTerm(amplitude="A", exponent="alpha", input="n_params"),
        PowerTerm(amplitude="B", exponent="beta", input="n_tokens"),
    )

    def loss(self, *, n_params, n_tokens, unique_tokens, E, A, B, alpha, beta, R_star):
        """E + A N^-alpha + B D'^-beta in nats per token, D' the effective data of repeated tokens."""
        beyond_first = n_tokens / unique_tokens - 1.0
        repeats = 0.5 * (beyond_first + abs(beyond_first))  # max(., 0) with operators, so PyTensor takes it too
        effective = unique_tokens * (1.0 + R_star * (1.0 - np.exp(-repeats / R_star)))
        return E + A * n_params**-alpha + B * effective**-beta
