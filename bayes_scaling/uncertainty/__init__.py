"""The law's discrepancy from its runs: a Gaussian process on log loss (:mod:`.discrepancy`) and its extrapolation
drift beyond the data (:mod:`.drift`), measured after sampling by one entry point, :func:`fit_with_uncertainty`."""

from bayes_scaling.uncertainty.measure import fit_with_uncertainty

__all__ = ["fit_with_uncertainty"]
