"""bayes_scaling: Bayesian, uncertainty-aware fits of neural scaling laws.

>>> import bayes_scaling as bs
>>> fit = bs.fit(runs, law="chinchilla")            # a DataFrame, a CSV path or a spec
>>> fit.summary()
>>> fit.plan(compute=5.76e23)
>>> fit = bs.load("reports/chinchilla/posterior.nc")
"""

from bayes_scaling.api import ScalingFit, dataset, fit, load
from bayes_scaling.util.version import __version__

__all__ = ["ScalingFit", "__version__", "dataset", "fit", "load"]
