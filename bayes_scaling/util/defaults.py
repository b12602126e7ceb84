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
#: ``suggest``: decades of N either side of the posterior N_opt its runs may use, and the most runs it proposes (each
#: run has a cost in people and set-up beyond its FLOP). One decade (0.1 to 10 times N_opt) since session 19, when
#: the calculation began to carry the fit's misfit to the planned runs, which discounts runs where the law may not
#: hold; before, 0.5 (the span published IsoFLOP profiles cover) kept such runs out by hand. Chosen after seeing
#: benchmarks/bench_suggest.py's scores at both (docs/results.md).
DESIGN_WINDOW = 1.0
DESIGN_MAX_RUNS = 25
#: The decision quantities ``suggest`` can narrow, and what each is.
DESIGN_QUANTITIES = {"n_opt": "log10 of the compute-optimal model size N_opt at the target budget",
                     "loss": "log of the compute-optimal loss at the target budget"}
