"""Observation models for log loss: Student-t (robust, the default) and Normal.

Each likelihood describes ``log L_obs = log L_law(inputs; theta) + noise`` three ways that must agree: a PyMC
observed variable (for sampling), a numpy log density (for the stored log-likelihood and LOO) and a numpy sampler
(for posterior predictive draws), so that no PyTensor function is compiled after sampling.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from scipy.special import gammaln, ndtr, stdtrit

from bayes_scaling.priors import Prior

#: Scale of the HalfNormal prior on the noise sd of log loss (median 0.02, 95% below 0.06). Fits of the published
#: runs give 0.004 (Epoch AI's digitised Chinchilla runs) to 0.018 (Porian et al.'s, Kaplan's joint law), and 0.032
#: when an IsoFLOP law is fitted to every run of a budget, far from its minimum too. A much wider prior (0.05 was
#: used before) simulates runs noisier than any published ones, whose posteriors cannot separate E from the terms.
SIGMA_SCALE = 0.03
#: Probability below one standard deviation of a Normal: a 68.3% central interval spans its quantiles at 1 - p and p.
ONE_SIGMA = float(ndtr(1.0))


class Likelihood:
    """Base class: noise parameters with default priors, and three views of one density."""

    name: ClassVar[str]
    description: ClassVar[str]
    default_priors: ClassVar[dict[str, Prior]]

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(self.default_priors)

    def observe(self, name: str, mu, observed, params: dict[str, Any], dims: str):
        """The observed PyMC variable over ``dims`` (inside a model context)."""
        raise NotImplementedError

    def logpdf(self, y, mu, **params):
        """Pointwise log density of ``y`` given location ``mu`` (numpy broadcasting)."""
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, mu, **params):
        """Draws with the broadcast shape of ``mu`` and the parameters."""
        raise NotImplementedError

    def spread(self, **params):
        """Half-width of the central 68.3% interval of the noise (the sd of a Normal), per parameter draw: the
        scale that enters a Gaussian approximation of the noise, defined for every Student-t."""
        raise NotImplementedError

    def location_information(self, **params):
        """Fisher information one observation carries about its location (log loss), per parameter draw: what a
        new run adds to the precision of the law's parameters in a linearised design calculation."""
        raise NotImplementedError


class StudentT(Likelihood):
    r"""Student-t on log loss, the Bayesian counterpart of the Huber loss used by Hoffmann et al. and Epoch AI.

    .. math:: \log L_i \sim t_\nu(\log \hat L_i, \sigma)

    ``sigma ~ HalfNormal(0.03)`` (relative error: median 2%, 95% below 6%; published runs show 0.4% to 3%);
    ``nu ~ Gamma(2, 0.1)`` (Juárez & Steel 2010), so the data decide how heavy the tails are; digitised or noisy
    runs get heavy tails instead of dragging the fit.
    """

    name = "student_t"
    description = "Student-t on log loss (robust; degrees of freedom learned)"
    default_priors: ClassVar[dict[str, Prior]] = {
        "sigma": Prior("HalfNormal", {"sigma": SIGMA_SCALE}),
        "nu": Prior("Gamma", {"alpha": 2.0, "beta": 0.1}),
    }

    def observe(self, name, mu, observed, params, dims):
        import pymc as pm

        return pm.StudentT(name, nu=params["nu"], mu=mu, sigma=params["sigma"], observed=observed, dims=dims)

    def logpdf(self, y, mu, *, sigma, nu, **_):
        z = (y - mu) / sigma
        return (
            gammaln((nu + 1.0) / 2.0) - gammaln(nu / 2.0) - 0.5 * np.log(nu * math.pi) - np.log(sigma)
            - (nu + 1.0) / 2.0 * np.log1p(z * z / nu)
        )

    def sample(self, rng, mu, *, sigma, nu, **_):
        shape = np.broadcast_shapes(np.shape(mu), np.shape(sigma), np.shape(nu))
        return mu + sigma * rng.standard_t(np.broadcast_to(nu, shape), size=shape)

    def spread(self, *, sigma, nu, **_):
        r"""sigma t_nu^{-1}(0.8413): not sigma (a t's spread is wider than its scale), and not its sd
        sigma sqrt(nu / (nu - 2)), which is infinite at the nu <= 2 that fits of digitised runs give."""
        return np.asarray(sigma) * stdtrit(np.asarray(nu), ONE_SIGMA)  # the t quantile (scipy.stats.t.ppf's own)

    def location_information(self, *, sigma, nu, **_):
        """(nu + 1) / ((nu + 3) sigma^2): finite for every nu, below a Normal's 1 / sigma^2 (outliers count less)."""
        nu = np.asarray(nu)
        return (nu + 1.0) / ((nu + 3.0) * np.asarray(sigma) ** 2)


class Normal(Likelihood):
    r"""Normal on log loss: :math:`\log L_i \sim N(\log \hat L_i, \sigma)`, ``sigma ~ HalfNormal(0.03)``."""

    name = "normal"
    description = "Normal on log loss"
    default_priors: ClassVar[dict[str, Prior]] = {"sigma": Prior("HalfNormal", {"sigma": SIGMA_SCALE})}

    def observe(self, name, mu, observed, params, dims):
        import pymc as pm

        return pm.Normal(name, mu=mu, sigma=params["sigma"], observed=observed, dims=dims)

    def logpdf(self, y, mu, *, sigma, **_):
        z = (y - mu) / sigma
        return -0.5 * z * z - np.log(sigma) - 0.5 * math.log(2.0 * math.pi)

    def sample(self, rng, mu, *, sigma, **_):
        shape = np.broadcast_shapes(np.shape(mu), np.shape(sigma))
        return mu + sigma * rng.standard_normal(size=shape)

    def spread(self, *, sigma, **_):
        return np.asarray(sigma)

    def location_information(self, *, sigma, **_):
        """1 / sigma^2."""
        return 1.0 / np.asarray(sigma) ** 2


LIKELIHOODS: dict[str, type[Likelihood]] = {cls.name: cls for cls in (StudentT, Normal)}


def get_likelihood(name: str) -> Likelihood:
    """The likelihood registered under ``name``; an unknown name lists the valid ones."""
    if name not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood {name!r}; valid: {', '.join(sorted(LIKELIHOODS))}")
    return LIKELIHOODS[name]()
