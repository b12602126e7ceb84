"""Is a fit to be trusted: held-out scores, extrapolation backtests, the bootstrap baseline, simulation-based
calibration, and simulating runs from a law."""
