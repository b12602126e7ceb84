"""Run NUTS (nutpie, numba backend) on a built model; a compiled model can be reused on new data."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass

import numpy as np
import xarray as xr

from bayes_scaling.data.fetch import cache_dir
from bayes_scaling.sampling import rewrite_cache
from bayes_scaling.sampling.arrow_trace import trace_datasets
from bayes_scaling.sampling.model import BuiltModel
from bayes_scaling.sampling.nutpie_import import import_nutpie
from bayes_scaling.spec import SamplerSpec
from bayes_scaling.util.blas import one_blas_thread

log = logging.getLogger(__name__)

#: Sampler statistics kept in the posterior file (the rest of nutpie's are internal to its adaptation).
KEPT_STATS = ("diverging", "n_steps", "depth", "maxdepth_reached", "step_size", "mean_tree_accept", "energy",
              "energy_error", "logp")
#: The draws in the sampler's unconstrained space (a run's warm start for the next is their mean and sd).
UNCONSTRAINED = "unconstrained_draw"


@dataclass(frozen=True)
class WarmStart:
    """Where a finished run's chains ended up, for a run on nearby data to start from: the mean and standard
    deviation of its draws in the sampler's unconstrained space. Each chain of the new run starts at the mean plus a
    uniform jitter of one standard deviation either way (seeded by the chain's seed), inside the typical set, so a
    short tuning adapts from there. (nutpie takes no initial mass matrix or step size for a PyMC model, and ignores
    its ``init_mean`` for one: it starts from the model's own initial-point function, which this replaces.)"""

    mean: np.ndarray
    sd: np.ndarray

    def initial_point(self, seed=None) -> np.ndarray:
        """A chain's starting point (the contract of nutpie's ``initial_point_func``)."""
        jitter = np.random.default_rng(seed).uniform(-1.0, 1.0, self.mean.size)
        return np.ascontiguousarray(self.mean + self.sd * jitter, dtype=np.float64)


@dataclass
class SamplingResult:
    """Draws of the sampler's variables, the sampler statistics, where the time went and where the chains ended."""

    posterior: xr.Dataset
    sample_stats: xr.Dataset
    compile_seconds: float
    sampling_seconds: float
    warm_start: WarmStart | None = None


def compile_model(built: BuiltModel):
    """The nutpie-compiled log density (numba, without fastmath), storing only the sampler's free variables; lean
    C wrappers (:mod:`~bayes_scaling.sampling.lean_numba`) and PyTensor's rewritten graphs kept on disk
    (:mod:`~bayes_scaling.sampling.rewrite_cache`) cut the compile time, not the draws."""
    import pytensor

    from bayes_scaling.sampling.lean_numba import lean_wrappers

    nutpie = import_nutpie()

    # Without fastmath: with it, LLVM may reassociate and fuse differently when PyTensor's functions are compiled
    # in this process (and inlined) than when they are loaded from PyTensor's disk cache, and the same seed gave
    # different draws depending on the cache's state (serial runs against fresh Dask workers, a fresh clone
    # against a warm machine). Strict IEEE arithmetic makes the draws independent of it.
    start = time.perf_counter()
    hits_before = rewrite_cache.COUNTS["hit"]
    with (lean_wrappers(), pytensor.config.change_flags(numba__fastmath=False),
          rewrite_cache.cached_rewrites(cache_dir())):
        compiled = nutpie.compile_pymc_model(built.model, backend="numba", var_names=built.sampled_names)
    reused = rewrite_cache.COUNTS["hit"] - hits_before
    log.info("compiled %s model (%s geometry) in %.1f s%s", built.law.name, built.geometry,
             time.perf_counter() - start, f", {reused} rewritten graphs reused" if reused else "")
    return compiled


def swap_data(built: BuiltModel, compiled, data):
    """``compiled`` with the model's data ``data`` (name -> values) swapped in. A name the compiled log density
    does not read is skipped: an input whose every use in the law reads its log
    (:mod:`~bayes_scaling.sampling.data_logs`); a name that is not the model's data is an error."""
    known = {variable.name for variable in built.model.data_vars}
    unknown = sorted(set(data) - known)
    if unknown:
        raise KeyError(f"not data of the {built.law.name} model: {', '.join(unknown)}")
    read = {variable.name for variable in compiled.shared_var_keys}
    return compiled.with_data(**{name: values for name, values in data.items() if name in read})


def run_nuts(built: BuiltModel, settings: SamplerSpec, *, compiled=None, progress: bool = False,
             start_from: WarmStart | None = None) -> SamplingResult:
    """Sample with NUTS; ``settings.seed`` fixes the draws (nutpie reproduces them across processes).
    ``start_from``: chains start around its mean (a refit of a sampled model on part of its data; the draws still
    depend only on the seed and that start)."""
    nutpie = import_nutpie()
    start = time.perf_counter()
    if compiled is None:
        compiled = compile_model(built)
    compiled_at = time.perf_counter()
    if start_from is not None:
        compiled = dataclasses.replace(compiled, initial_point_func=start_from.initial_point)
    with one_blas_thread():  # chains run on threads: a threaded BLAS inside each (the GP's Cholesky) thrashes
        trace = nutpie.sample(
            compiled,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            seed=settings.seed,
            save_warmup=False,
            progress_bar=progress,
            target_accept=settings.target_accept,
            adaptation=settings.adaptation,
            store_unconstrained=True,
            return_raw_trace=True,
        )
    done = time.perf_counter()
    log.info("sampled %d chains x %d draws in %.1f s", settings.chains, settings.draws, done - compiled_at)
    posterior, stats = trace_datasets(trace, compiled.coords, built.sampled_names, (*KEPT_STATS, UNCONSTRAINED))
    unconstrained = stats[UNCONSTRAINED]
    stats.attrs.update(inference_library="nutpie", inference_library_version=nutpie.__version__)
    return SamplingResult(
        posterior=posterior,
        sample_stats=stats[[name for name in KEPT_STATS if name in stats]],
        compile_seconds=compiled_at - start,
        sampling_seconds=done - compiled_at,
        warm_start=WarmStart(unconstrained.mean(("chain", "draw")).to_numpy(),
                             unconstrained.std(("chain", "draw")).to_numpy()),
    )
