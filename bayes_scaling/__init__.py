"""bayes_scaling: Bayesian, uncertainty-aware fits of neural scaling laws.

>>> import bayes_scaling
>>> fit = bayes_scaling.load("reports/chinchilla/posterior.nc")
>>> fit.optimal_allocation(compute=5.76e23)
"""

from importlib.metadata import PackageNotFoundError, version

from bayes_scaling.result import ScalingFit, load

try:
    __version__ = version("bayes_scaling")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["ScalingFit", "__version__", "load"]
