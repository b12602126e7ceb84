"""Defaults shared by several layers, defined once: the credible level intervals are quoted at, the fractions of
compute held out to measure extrapolation, and the Pareto k above which a PSIS-LOO point is unreliable."""

#: Level of the central credible intervals quoted by default (plan, pages, comparisons).
DEFAULT_LEVEL = 0.9

#: About these fractions of the runs, as whole budgets with the most compute, are held out by the calibration
#: backtests and by the drift's leave-future-out refits.
HOLD_OUT_FRACTIONS = (0.1, 0.2, 0.3)

#: Pareto k above which a point's PSIS-LOO estimate is unreliable (Vehtari et al. 2024).
PARETO_K_BAD = 0.7
#: The near-optimal sizes of a budget keep the loss within this fraction of the best size's, with this probability:
#: 0.5% of the loss is about what a tenth more compute buys on the compute-optimal path (loss falls as roughly
#: C^-0.05 there).
DEFAULT_TOLERANCE = 0.005
DEFAULT_PROBABILITY = 0.9
