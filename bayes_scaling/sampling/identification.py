r"""Which parameters the data identify: how much the posterior narrows each prior.

.. math:: s_k = \frac{\operatorname{sd}_{post}(\log \theta_k)}{\operatorname{sd}_{prior}(\log \theta_k)}

on the log scale (the law's parameters are positive), from forward draws of the priors at the runs
(:func:`~bayes_scaling.sampling.model.prior_draws`). A parameter whose posterior keeps more than
:data:`WEAK_RATIO` of its prior's spread is *weakly identified*: its interval says more about the prior than about
the runs (E, C_c and alpha_C on few IsoFLOP budgets; E against A and alpha on a narrow grid). Fits, pages and ``plan``
name such parameters.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

#: Posterior-to-prior sd ratio (log scale) above which a parameter is called weakly identified: the runs narrowed it
#: by less than a factor 3. Set after looking at the suites' ratios (0.02-0.1 for well-identified parameters; E and
#: alpha on Li et al.'s grid 0.33 and 0.36, where E spans 1.4 to 2.5 nats).
WEAK_RATIO = 0.3
#: Forward draws of the priors used for their spread.
PRIOR_DRAWS = 4000


def spread_ratios(posterior: Mapping[str, np.ndarray], prior: Mapping[str, np.ndarray]) -> dict[str, float]:
    """sd of log posterior draws over sd of log prior draws, per parameter (positive draws only)."""
    ratios = {}
    for name, values in posterior.items():
        post = np.log(np.asarray(values, dtype=float).ravel())
        before = np.asarray(prior[name], dtype=float).ravel()
        before = np.log(before[np.isfinite(before) & (before > 0)])
        if post.size < 2 or before.size < 2 or not np.all(np.isfinite(post)):
            continue
        ratios[name] = float(np.std(post) / np.std(before))
    return ratios


def weakly_identified(ratios: Mapping[str, float]) -> list[str]:
    """The parameters whose posterior keeps more than :data:`WEAK_RATIO` of the prior's spread (log scale)."""
    return [name for name, ratio in ratios.items() if ratio > WEAK_RATIO]
