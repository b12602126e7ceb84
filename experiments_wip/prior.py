import sys, time
import numpy as np
from bayes_scaling.spec import spec_from_dict
from bayes_scaling.fit.run import prepare, fit_prepared, PreparedFit
from bayes_scaling.fit.model import all_priors
from bayes_scaling.priors import Prior
from bayes_scaling.result import ScalingFit
CONFIGS = {
 "rw-cosine": {"dataset": "rw", "hparams": "base", "warmup": "short", "decay": "chinchilla", "param_count": "standard", "val": "val"},
 "owt2-tuned": {"dataset": "owt2", "hparams": "tuned", "warmup": "short", "decay": "const", "param_count": "standard", "val": "val"},
 "rw-kaplan": {"dataset": "rw", "hparams": "base", "warmup": "long", "decay": "kaplan", "param_count": "kaplan", "val": "train"},
 "rw-warmup": {"dataset": "rw", "hparams": "base", "warmup": "short", "decay": "kaplan", "param_count": "standard", "val": "val"},
}
over = eval(sys.argv[2]) if len(sys.argv) > 2 else {}
for cname in sys.argv[1].split(","):
    ds = "porian2024-owt2" if cname.startswith("owt2") else "porian2024-summary"
    spec = spec_from_dict({"analysis": {"name": "x", "law": "isoflop"}, "data": {"dataset": ds, "select": CONFIGS[cname], "isoflop_loss_window": 0.1}, "likelihood": {"family": __import__("os").environ.get("FAM", "student_t")}})
    p = prepare(spec)
    pri = all_priors(p.law, p.likelihood, {k: Prior.from_mapping(v) for k, v in over.items()})
    t = time.time()
    tree = fit_prepared(PreparedFit(spec, p.law, p.likelihood, pri, p.runs))
    f = ScalingFit(tree); d = f.diagnostics
    q = lambda k: "%.3f" % float(np.median(f.posterior[k]))
    print({k: (round(d.rhat[k],3), round(d.ess_bulk[k])) for k in d.rhat if d.rhat[k] > 1.01 or d.ess_bulk[k] < 400})
    print(cname, "a", q("a"), "E", q("E"), "alpha_C", q("alpha_C"), "sigma", q("sigma"), "tau", q("tau_budget"), "rhat %.3f essb %.0f esst %.0f div %d" % (max(d.rhat.values()), min(d.ess_bulk.values()), min(d.ess_tail.values()), d.divergences), "%.0fs" % (time.time()-t), flush=True)
