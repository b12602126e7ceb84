"""Experiment: IsoFLOP floor variants on the Porian specs. usage: variants.py VARIANT SPEC..."""
import os, sys, time
import numpy as np
from bayes_scaling.laws.isoflop import IsoFlopLaw
from bayes_scaling.priors import Prior
from bayes_scaling.spec import load_spec
from bayes_scaling.fit.run import prepare, fit_prepared
from bayes_scaling.fit.model import all_priors
from bayes_scaling.likelihoods import get_likelihood
from bayes_scaling.result import ScalingFit
import dataclasses

variant = sys.argv[1]
opts = dict(kv.split("=") for kv in variant.split(",") if kv)
if opts.get("offsets") == "0":
    IsoFlopLaw.budget_offsets = False
    IsoFlopLaw.default_priors = {k: v for k, v in IsoFlopLaw.default_priors.items() if k != "tau_budget"}
if opts.get("centred") == "1":
    os.environ["OFFSETS_CENTRED"] = "1"
for path in sys.argv[2:]:
    spec = load_spec(path)
    lik = opts.get("lik", spec.likelihood)
    priors = dict(spec.priors)
    if "nu" in opts:
        m, s = opts["nu"].split("/")
        priors["nu"] = Prior("Gamma", {"mu": float(m), "sigma": float(s)})
    if "alphaC" in opts:
        m, s = opts["alphaC"].split("/")
        priors["alpha_C"] = Prior("Gamma", {"mu": float(m), "sigma": float(s)})
    n = int(opts.get("n", 1000))
    spec = dataclasses.replace(spec, likelihood=lik, priors=priors,
                               sampler=dataclasses.replace(spec.sampler, tune=n, draws=n))
    prep = prepare(spec)
    t = time.time()
    f = ScalingFit(fit_prepared(prep))
    a = f.exponents()["a"].values.ravel()
    d = f.diagnostics
    med = {k: round(float(np.median(f.posterior[k])), 4) for k in ("E", "alpha_C", "nu", "sigma", "tau_budget") if k in f.posterior}
    print(f"{variant:<28} {spec.name:<28} a={np.median(a):.3f} [{np.quantile(a,.05):.3f},{np.quantile(a,.95):.3f}] "
          f"rhat={max(d.rhat.values()):.3f} bulk={min(d.ess_bulk.values()):.0f} tail={min(d.ess_tail.values()):.0f} "
          f"div={d.divergences} {med} {time.time()-t:.0f}s", flush=True)
