"""Experiment: IsoFLOP law with a loss floor E; recovery on simulated Chinchilla runs and Porian RW a."""
import sys, time
import numpy as np, pandas as pd
sys.path.insert(0, "/work/main"); sys.path.insert(0, "/work/main/tests")
from typing import Any, ClassVar
from bayes_scaling.laws import LAWS, get_law
from bayes_scaling.laws.isoflop import IsoFlopLaw, profile
from bayes_scaling.priors import Prior
from bayes_scaling.data.filters import apply_filters
from bayes_scaling.data.runs import RunTable, validate_table
from bayes_scaling.fit.model import all_priors
from bayes_scaling.fit.run import PreparedFit, fit_prepared
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.result import ScalingFit
from bayes_scaling.simulate import simulate_runs
from bayes_scaling.spec import AnalysisSpec, DataSpec, SamplerSpec

class Floor(IsoFlopLaw):
    name = "isoflop_floor"
    default_priors: ClassVar = {**IsoFlopLaw.default_priors, "E": Prior("Gamma", {"mu": 1.5, "sigma": 1.0})}
    def frontier(self, compute, *, C_c, alpha_C, E=0.0, **_):
        return E + (C_c / compute) ** alpha_C
    def loss(self, *, n_params, compute, a, N_0, alpha_C, C_c, u, v, E, **_):
        delta = np.log(n_params) - np.log(N_0) - a * np.log(compute)
        return E + (C_c / compute) ** alpha_C * profile(delta, u, v)
LAWS["isoflop_floor"] = Floor

def sim(lawname, window):
    law = get_law("chinchilla")
    TRUE = {"E": 1.8, "A": 450.0, "B": 1800.0, "alpha": 0.34, "beta": 0.36}
    sizes = np.geomspace(5e6, 2e9, 18)
    rows = [{"n_params": n, "n_tokens": c / (6 * n), "budget": c}
            for c in 1.25e16 * 2.0 ** np.arange(12) for n in sizes if 1 <= c / (6 * n * n) <= 400]
    design = pd.DataFrame(rows)
    s = simulate_runs(law, TRUE, design, get_likelihood("student_t"), {"nu": 5.0, "sigma": 0.005}, seed=11)
    frame = validate_table(s, "simulated", {"n_params": "n_params", "n_tokens": "n_tokens", "loss": "loss"})
    frame["budget"] = design["budget"].to_numpy()
    runs = apply_filters(RunTable(frame=frame, source={"file": "simulated"}), {"isoflop_loss_window": window} if window else {})
    return runs

def fit(runs, lawname, seed=5):
    law = get_law(lawname)
    spec = AnalysisSpec(name="x", law=lawname, data=DataSpec(csv="x"), sampler=SamplerSpec(draws=500, tune=700, seed=seed))
    lik = get_likelihood("student_t")
    t = time.time()
    tree = fit_prepared(PreparedFit(spec, law, lik, all_priors(law, lik), runs))
    f = ScalingFit(tree)
    a = f.exponents()["a"].values.ravel()
    d = f.diagnostics
    extra = {k: float(np.median(f.posterior[k])) for k in law.parameters}
    print(lawname, len(runs), "a=%.3f [%.3f, %.3f]" % (np.median(a), *np.quantile(a, [0.05, 0.95])),
          "rhat %.3f div %d" % (max(d.rhat.values()), d.divergences), {k: round(v, 4) for k, v in extra.items()}, "%.0fs" % (time.time() - t), flush=True)

if __name__ == "__main__":
    for window in (0.1, None):
        runs = sim("x", window)
        for ln in sys.argv[1:]:
            print("window", window, end=" ")
            fit(runs, ln)
