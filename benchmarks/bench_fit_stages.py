"""`bayes-scaling fit models/chinchilla.toml` stage by stage, beside the same model in NumPyro, in one run.

Each side runs in a fresh process under ``/usr/bin/time`` (user + system CPU seconds, which hold up on a busy
machine better than wall time):

- the fit: its stages from the times it logs (interpreter and imports until the fit starts, building the model,
  compiling, sampling, the discrepancy GP and prior draws, the drift's refits, assembling and writing), its min bulk
  ESS of E, A, B, alpha and beta;
- NumPyro (``numpyro_chinchilla.py``, the same priors, geometry, likelihood and 4 x 1000 draws after 1000 warm-up
  steps) in a virtual environment of its own, ``build/venv-numpyro``, created here with JAX and NumPyro on first use
  (``--no-numpyro`` skips it); its ESS is computed here with the same estimator (ArviZ's bulk ESS).

Prints ESS per end-to-end wall second and per CPU second for both and their ratio (issue 19: at least 2x), the
fit's CPU seconds against the 5 CPU s bar, and the same fit with the GP inside the model (``--discrepancy in-model``)
stage by stage against its 8 CPU s bar (``--no-in-model`` skips it). The fit runs ``--repeats`` times (the median
is shown); the first run of a fresh machine also fills PyTensor's disk cache and is not counted.

    python benchmarks/bench_fit_stages.py [--repeats 3] [--no-numpyro]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "models" / "chinchilla.toml"
LAW_PARAMETERS = ("E", "A", "B", "alpha", "beta")
NUMPYRO_VENV = REPO / "build" / "venv-numpyro"
NUMPYRO_REQUIREMENTS = ("jax>=0.4.30", "numpyro>=0.15")
#: The same spec with the discrepancy GP inside the model (issue 19's second bar, 8 CPU s).
IN_MODEL = ("--discrepancy", "in-model")


def timed(command: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run ``command`` under /usr/bin/time: (CPU seconds, wall seconds, its stdout + stderr)."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "CPU %U %S", *command], capture_output=True, text=True,
                          env=env, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    user, system = re.findall(r"^CPU ([0-9.]+) ([0-9.]+)$", done.stderr, re.M)[-1]
    return float(user) + float(system), wall, done.stdout + done.stderr


def stage_seconds(log: str, wall: float) -> dict[str, float]:
    """Wall seconds of each stage, from the elapsed times the fit logs."""
    marks = [(float(t), message) for t, message in re.findall(r"^\[\s*([0-9.]+) s\] (.*)$", log, re.M)]

    def first(pattern: str, after: float = 0.0) -> float:
        return next(t for t, message in marks if t >= after and re.match(pattern, message))

    started = first(r"fitting ")
    compiled_line = next(message for t, message in marks if message.startswith("compiled "))
    compile_seconds = float(re.search(r"in ([0-9.]+) s", compiled_line).group(1))
    compiled = first(r"compiled ")
    sampled = first(r"sampled \d+ chains", compiled)
    refits_start = first(r"drift: refitting", sampled)
    refits_end = first(r"drift: extrapolation slope", refits_start)
    return {"interpreter and imports": started, "build model": compiled - compile_seconds - started,
            "compile": compile_seconds, "sampling": sampled - compiled,
            "GP and prior draws": refits_start - sampled, "drift refits": refits_end - refits_start,
            "assemble and write": wall - refits_end}


def our_fit(out: Path, extra: tuple[str, ...] = ()) -> dict:
    cpu, wall, log = timed([sys.executable, "-m", "bayes_scaling.cli", "fit", str(SPEC), "--out", str(out), *extra])
    from bayes_scaling.sampling.io import read_attrs

    diagnostics = json.loads(read_attrs(out / "posterior.nc")["diagnostics"])
    ess = min(diagnostics["ess_bulk"][name] for name in LAW_PARAMETERS)
    return {"cpu": cpu, "wall": wall, "ess": ess, "stages": stage_seconds(log, wall)}


def numpyro_python() -> Path:
    """The Python of the NumPyro environment, created (with JAX and NumPyro) if missing."""
    python = NUMPYRO_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {NUMPYRO_VENV} with {', '.join(NUMPYRO_REQUIREMENTS)} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(NUMPYRO_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *NUMPYRO_REQUIREMENTS], check=True)
    return python


def numpyro_fit(folder: Path) -> dict:
    import arviz_stats as azs
    import xarray as xr

    from bayes_scaling.data.load import load_runs
    from bayes_scaling.spec import load_spec

    runs = load_runs(load_spec(SPEC).data)
    data = folder / "runs.npz"
    np.savez(data, log_n=np.log(runs.column("n_params")), log_d=np.log(runs.column("n_tokens")),
             log_loss=np.log(runs.column("loss")))
    draws_file = folder / "draws.npz"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    cpu, wall, log = timed([str(numpyro_python()), str(REPO / "benchmarks" / "numpyro_chinchilla.py"), str(data),
                            str(draws_file)], env=env)
    stages = json.loads(next(line for line in log.splitlines() if line.startswith("{")))
    draws = np.load(draws_file)
    posterior = xr.Dataset({name: (("chain", "draw"), draws[name]) for name in LAW_PARAMETERS})
    ess = azs.ess(posterior, sample_dims=["chain", "draw"], method="bulk")
    return {"cpu": cpu, "wall": wall, "ess": min(float(ess[name]) for name in LAW_PARAMETERS),
            "divergences": int(draws["diverging"].sum()), "stages": stages}


def print_fit(runs: list[dict], options: str, bar: float) -> dict:
    """Print the median stages, wall and CPU seconds of ``runs`` of the fit; return the medians."""
    median = {key: statistics.median(run[key] for run in runs) for key in ("cpu", "wall", "ess")}
    print(f"\nbayes-scaling fit {SPEC.relative_to(REPO)}{options} (median of {len(runs)} fresh processes; stages: "
          "wall s)")
    for stage in runs[0]["stages"]:
        print(f"  {stage:<26} {statistics.median(run['stages'][stage] for run in runs):6.2f}")
    print(f"  {'end to end (wall)':<26} {median['wall']:6.2f}")
    print(f"  {'CPU (user + system)':<26} {median['cpu']:6.2f}   (issue 19: <= {bar:g}); "
          f"min bulk ESS {median['ess']:.0f}")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-numpyro", action="store_true")
    parser.add_argument("--no-in-model", action="store_true", help="skip the fit with the GP inside the model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fit-") as tmp:
        folder = Path(tmp)
        our_fit(folder / "warm-up")  # fills PyTensor's disk cache on a fresh machine; not counted
        ours = [our_fit(folder / f"fit-{i}") for i in range(args.repeats)]
        inside = [] if args.no_in_model else [our_fit(folder / f"in-model-{i}", IN_MODEL)
                                              for i in range(args.repeats)]
        theirs = None if args.no_numpyro else numpyro_fit(folder)
    median = print_fit(ours, "", 5)
    if inside:
        print_fit(inside, " " + " ".join(IN_MODEL), 8)
    rows = [("bayes-scaling (nutpie)", median)]
    if theirs is not None:
        print(f"\nNumPyro, same model (stages: wall s; {theirs['divergences']} divergences)")
        for stage, seconds in theirs["stages"].items():
            print(f"  {stage:<26} {seconds:6.2f}")
        rows.append(("NumPyro", theirs))
    print(f"\n{'':<24} {'CPU s':>7} {'wall s':>7} {'min ESS':>8} {'ESS/wall s':>11} {'ESS/CPU s':>10}")
    for name, row in rows:
        print(f"{name:<24} {row['cpu']:7.2f} {row['wall']:7.2f} {row['ess']:8.0f} {row['ess'] / row['wall']:11.0f} "
              f"{row['ess'] / row['cpu']:10.0f}")
    if theirs is not None:
        print(f"ratio (bayes-scaling / NumPyro): ESS per wall second "
              f"{(median['ess'] / median['wall']) / (theirs['ess'] / theirs['wall']):.2f}x, per CPU second "
              f"{(median['ess'] / median['cpu']) / (theirs['ess'] / theirs['cpu']):.2f}x (issue 19: >= 2x)")


if __name__ == "__main__":
    main()
