"""Compiling a model with PyTensor's rewritten graphs cached on disk (``sampling/rewrite_cache.py``) against
rewriting them in every process, side by side in one run.

For each spec, three fresh processes build the model and compile it for nutpie (``compile_model``), each timing
the compile in CPU seconds (``time.process_time``, which holds up on a busy machine): with the cache off
(``BAYES_SCALING_REWRITE_CACHE=0``), with an empty cache folder (its graphs rewritten and stored) and with that
folder again (its graphs reused). Prints the three times, the hits and misses, and off / warm. Run from the
repository root with ``BAYES_SCALING_DATA`` set (``make benchmark``)::

    python benchmarks/bench_rewrite_cache.py [--specs models/chinchilla.toml ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPECS = ["models/chinchilla.toml", "models/epoch-isoflop.toml", "models/epoch-kaplan-joint.toml",
         "models/porian-rw-kaplan-frontier.toml"]
#: Run in each fresh process: prepare the spec, build its model, compile it; print the compile's CPU seconds.
SCRIPT = """
import json, sys, time
from bayes_scaling.api import prepare
from bayes_scaling.sampling import rewrite_cache
from bayes_scaling.sampling.model import build_model
from bayes_scaling.sampling.sampler import compile_model
from bayes_scaling.spec import load_spec
spec = load_spec(sys.argv[1]); prepared = prepare(spec)
built = build_model(prepared.law, prepared.runs, prepared.likelihood, prepared.priors, spec.sampler.geometry)
start = time.process_time()
compile_model(built)
print(json.dumps({"cpu": time.process_time() - start, **rewrite_cache.COUNTS}))
"""


def compile_in_fresh_process(spec: str, cache: Path, switch: str) -> dict:
    env = {**os.environ, "BAYES_SCALING_CACHE": str(cache), "BAYES_SCALING_REWRITE_CACHE": switch}
    done = subprocess.run([sys.executable, "-c", SCRIPT, spec], env=env, cwd=REPO, check=True, capture_output=True,
                          text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", nargs="+", default=SPECS)
    args = parser.parse_args()
    print("compile_model in fresh processes (CPU s): rewrite cache off, cold (empty folder), warm (the same folder)")
    print(f"{'spec':40} {'off':>6} {'cold':>6} {'warm':>6}  hits/misses (warm)  off / warm")
    for spec in args.specs:
        with tempfile.TemporaryDirectory() as folder:
            off = compile_in_fresh_process(spec, Path(folder) / "off", "0")
            cold = compile_in_fresh_process(spec, Path(folder) / "cache", "1")
            warm = compile_in_fresh_process(spec, Path(folder) / "cache", "1")
        print(f"{spec:40} {off['cpu']:6.2f} {cold['cpu']:6.2f} {warm['cpu']:6.2f}  {warm['hit']:>4}/{warm['miss']:<4}"
              f"            {off['cpu'] / warm['cpu']:.2f}x")


if __name__ == "__main__":
    main()
