import sys
sys.path.insert(0, "/tmp/exp")
from floor import fit  # registers isoflop_floor
from bayes_scaling.spec import spec_from_dict
from bayes_scaling.fit.run import prepare
CONFIGS = {
 "kaplan": {"dataset": "rw", "hparams": "base", "warmup": "long", "decay": "kaplan", "param_count": "kaplan", "val": "train"},
 "tuned": {"dataset": "rw", "hparams": "tuned", "warmup": "short", "decay": "const", "param_count": "standard", "val": "val"},
}
for cname in sys.argv[2].split(","):
    for window in (0.1, 0.2, None):
        d = {"dataset": "porian2024-summary", "select": CONFIGS[cname]}
        if window: d["isoflop_loss_window"] = window
        spec = spec_from_dict({"analysis": {"name": "x", "law": "isoflop"}, "data": d, "likelihood": {"family": "student_t"}})
        runs = prepare(spec).runs
        for ln in sys.argv[1].split(","):
            print(cname, window, end=" ")
            fit(runs, ln)
