"""nutpie's numba backend (what `bayes-scaling fit` uses) beside its JAX backend, on the same model, seed and
settings, each in fresh processes, in one run (issue 19: "measure nutpie's other backends").

    python benchmarks/bench_backends.py [--spec models/chinchilla.toml] [--repeats 2] [--in-model]

The JAX side runs in a virtual environment of its own, ``build/venv-jax`` (this project installed editable, plus
JAX), created here on first use, so the project's environment stays as CI installs it. Each process builds the
spec's model (``bayes_scaling.sampling.model.build_model``), compiles it (numba: ``compile_model``, the lean cached
entry points; JAX: ``nutpie.compile_pymc_model(backend="jax", gradient_backend="jax")``), samples it with the
spec's sampler settings (``run_nuts``) and reports, in CPU seconds (``time.process_time`` of the process, which
counts the sampler's threads) and wall seconds: imports, build, compile and sampling; the leapfrog steps after
tuning; ``us/step``, the sampling's CPU seconds (tuning and any first-call compilation included) over those steps,
a comparison of the two backends rather than one gradient's cost; min bulk ESS of the law's
parameters; and a digest of the draws, so that two processes of one backend with one seed can be compared
(reproducibility across processes and caches). The whole process is timed by ``/usr/bin/time`` as well.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
JAX_VENV = REPO / "build" / "venv-jax"
JAX_REQUIREMENTS = ("jax>=0.4.30",)
BACKENDS = ("numba", "jax")


def jax_python() -> Path:
    """The JAX environment's interpreter, created with this project (editable) and JAX on first use."""
    python = JAX_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(JAX_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-e", str(REPO), *JAX_REQUIREMENTS],
                       check=True)
    return python


def worker(backend: str, spec_path: str, in_model: bool) -> dict:
    """One backend's stages in this process, as a JSON-ready dict."""
    started_cpu, started = time.process_time(), time.perf_counter()
    import dataclasses

    import numpy as np

    from bayes_scaling.sampling.budget_term import budget_term_for
    from bayes_scaling.sampling.diagnostics import diagnose
    from bayes_scaling.sampling.model import build_model
    from bayes_scaling.sampling.nutpie_import import import_nutpie
    from bayes_scaling.sampling.run import prepare
    from bayes_scaling.sampling.sampler import compile_model, run_nuts
    from bayes_scaling.sampling.tree import posterior_parameters
    from bayes_scaling.spec import load_spec

    nutpie = import_nutpie()
    stages = {"imports": (time.process_time() - started_cpu, time.perf_counter() - started)}

    def stage(name, since_cpu, since):
        stages[name] = (time.process_time() - since_cpu, time.perf_counter() - since)

    cpu, wall = time.process_time(), time.perf_counter()
    spec = load_spec(spec_path)
    if in_model:
        spec = dataclasses.replace(spec, discrepancy="in_model", likelihood="normal")
    prepared = prepare(spec)
    built = build_model(prepared.law, prepared.runs, prepared.likelihood, prepared.priors, spec.sampler.geometry,
                        discrepancy=spec.discrepancy == "in_model",
                        budgets=budget_term_for(prepared.runs.frame, spec.budget_effect))
    stage("build", cpu, wall)
    cpu, wall = time.process_time(), time.perf_counter()
    if backend == "numba":
        compiled = compile_model(built)
    else:
        compiled = nutpie.compile_pymc_model(built.model, backend="jax", gradient_backend="jax",
                                             var_names=built.sampled_names)
    stage("compile", cpu, wall)
    cpu, wall = time.process_time(), time.perf_counter()
    sampled = run_nuts(built, prepared.spec.sampler, compiled=compiled)
    stage("sampling", cpu, wall)
    natural = posterior_parameters(built, sampled.posterior)
    names = list(built.named_parameters)
    diagnostics = diagnose(natural, sampled.sample_stats, names)
    steps = int(sampled.sample_stats["n_steps"].sum()) if "n_steps" in sampled.sample_stats else None
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(natural[name].values).tobytes() for name in names))
    sampling_cpu = stages["sampling"][0]
    return {"backend": backend, "stages": stages, "leapfrog_steps_after_tuning": steps,
            "us_per_gradient_after_tuning": (None if not steps else 1e6 * sampling_cpu / steps),
            "min_ess_bulk": diagnostics.min_ess_bulk, "converged": diagnostics.converged,
            "divergences": diagnostics.divergences, "draws_sha256": digest.hexdigest()[:16],
            "medians": {name: float(np.median(natural[name].values)) for name in names}}


def run_one(backend: str, spec: str, in_model: bool) -> dict:
    """One fresh process of ``backend`` under /usr/bin/time; its report and its whole CPU and wall seconds."""
    python = Path(sys.executable) if backend == "numba" else jax_python()
    command = ["/usr/bin/time", "-f", "TIME %U %S %e", str(python), __file__, "--worker", backend, "--spec", spec]
    done = subprocess.run([*command, *(["--in-model"] if in_model else [])], capture_output=True, text=True,
                          cwd=REPO)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if not line.startswith("TIME ")]
        return {"backend": backend, "error": lines[-1] if lines else "failed"}
    report = json.loads(done.stdout.strip().splitlines()[-1])
    user, system, wall = (float(x) for x in done.stderr.strip().splitlines()[-1].split()[1:])
    report.update(process_cpu=user + system, process_wall=wall)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="models/chinchilla.toml")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--in-model", action="store_true", help="the discrepancy GP inside the model")
    parser.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.spec, args.in_model)))
        return
    runs = [run_one(backend, args.spec, args.in_model) for _ in range(args.repeats) for backend in BACKENDS]
    print(f"{args.spec}{' (GP inside the model)' if args.in_model else ''}: each row a fresh process; stages in "
          "CPU s (wall s)")
    header = ("backend", "imports", "build", "compile", "sampling", "process CPU", "leapfrog", "us/step", "min ESS",
              "ESS/CPU s", "draws")
    print(" | ".join(header))
    for run in runs:
        if "error" in run:
            print(f"{run['backend']} | failed: {run['error']}")
            continue
        cells = [run["backend"], *(f"{run['stages'][s][0]:.2f} ({run['stages'][s][1]:.2f})"
                                   for s in ("imports", "build", "compile", "sampling")),
                 f"{run['process_cpu']:.2f}", str(run["leapfrog_steps_after_tuning"]),
                 f"{run['us_per_gradient_after_tuning']:.1f}", f"{run['min_ess_bulk']:.0f}",
                 f"{run['min_ess_bulk'] / run['process_cpu']:.0f}", run["draws_sha256"]]
        print(" | ".join(cells))
    done = [run for run in runs if "error" not in run]
    for backend in BACKENDS:
        digests = {run["draws_sha256"] for run in done if run["backend"] == backend}
        if digests:
            print(f"{backend}: {'the same draws in every process' if len(digests) == 1 else 'DRAWS DIFFER'} "
                  f"({len(digests)} digest(s))")
    mean = {b: [r["process_cpu"] for r in done if r["backend"] == b] for b in BACKENDS}
    if all(mean.values()):
        ratio = (sum(mean["jax"]) / len(mean["jax"])) / (sum(mean["numba"]) / len(mean["numba"]))
        print(f"process CPU, JAX over numba: {ratio:.2f}x")


if __name__ == "__main__":
    main()
