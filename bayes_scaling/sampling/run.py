"""One fit from a spec: check everything, build the model, sample, diagnose, assemble the DataTree."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.data.errors import DataError
from bayes_scaling.data.filters import repeated_cells
from bayes_scaling.data.load import FRAME_LABEL, check_identifiable, load_runs
from bayes_scaling.data.runs import RunTable
from bayes_scaling.laws import Law, get_law
from bayes_scaling.likelihoods import Likelihood, get_likelihood
from bayes_scaling.sampling import budget_term
from bayes_scaling.sampling.budget_term import budget_term_for
from bayes_scaling.sampling.diagnostics import diagnose
from bayes_scaling.sampling.gp_term import GPTerm, delta_at, hyperparameter_names
from bayes_scaling.sampling.gp_term import prior_draws as gp_prior_draws
from bayes_scaling.sampling.identification import PRIOR_DRAWS, spread_ratios, weakly_identified
from bayes_scaling.sampling.model import OBSERVED, RUN_DIM, BuiltModel, all_priors, build_model, prior_draws
from bayes_scaling.sampling.sampler import WarmStart, compile_model, run_nuts
from bayes_scaling.sampling.tree import build_tree, posterior_parameters
from bayes_scaling.spec import AnalysisSpec, SpecError

log = logging.getLogger(__name__)

#: Most posterior draws (chains x draws) a fit may ask for: 8 MB a parameter. (Per-run groups are thinned to a size
#: whatever the number of runs: :data:`~bayes_scaling.sampling.tree.MOST_STORED`.)
MOST_DRAWS = 1_000_000
#: Least NUTS target acceptance of a fit with the GP inside the model: at 0.95, 16 of 36 development-suite fits
#: ended with divergences (1 to 35, on 24 to 79 runs); at 0.99 two of them (Porian's RW "kaplan", OWT2 "flops") had
#: none.
IN_MODEL_TARGET_ACCEPT = 0.99
#: Least NUTS target acceptance of a fit with a random offset per budget: at 0.95, the IsoFLOP law on Porian's RW
#: "tuned" runs ended with 1 divergence, then 22 in the longer re-sample (where the offsets' spread is large and the
#: data pin them, the non-centred offsets curve against E and alpha_C); at 0.99, none. Set on these diagnostics,
#: before any score.
BUDGET_TARGET_ACCEPT = 0.99
#: Draws of the prior and prior predictive groups stored with a fit (for ArviZ's prior checks).
PRIOR_GROUP_DRAWS = 200
#: A fit that fails its diagnostics is sampled once more with this many times the draws and the tuning steps, and
#: with its seed moved by RETRY_SEED_OFFSET: a chain that started where it stuck (the IsoFLOP law with the GP inside
#: on Porian's RW "cosine" runs below 1.5 decades under the top budget: one chain's step size fell to 1e-218 at a
#: noise sd of 2e-5, R-hat 1.53) would start there again with the same seed, however long it ran. If that re-sample
#: still diverges, it is sampled once more at a target acceptance halfway to 1 (:func:`_smaller_steps`; Chinchilla's
#: law in-model on Porian's OWT2 "kaplan" runs below a decade under the top kept 1 divergence in 16,000 draws).
LONGER_DRAWS = 4
LONGER_TUNE = 2
RETRY_SEED_OFFSET = 1
#: If that re-sample still fails but only by slow mixing (no divergence, R-hat at most EXTEND_RHAT: the chains roam
#: the same long tail, as Chinchilla's law on Porian's raw OWT2 "warmup" runs does: bulk ESS 379 of 16,000 draws with
#: one seed, R-hat 1.02 with another), it is sampled once more with twice the tuning and enough draws for ESS_MARGIN
#: over the ESS threshold (at least twice as many if R-hat failed), at most MOST_EXTENSION times as many.
EXTEND_RHAT = 1.05
ESS_MARGIN = 1.3
MOST_EXTENSION = 4


@dataclass(frozen=True)
class PreparedFit:
    """A spec whose law, likelihood, priors and data have all been checked; nothing has been sampled yet."""

    spec: AnalysisSpec
    law: Law
    likelihood: Likelihood
    priors: dict
    runs: RunTable

    def model_content(self) -> dict:
        """What the model depends on besides its data, JSON-ready: the spec (without its file path, sensitivity
        checks and calibration), the law's equation and every prior. Keys of saved fits and compiled models start
        from it."""
        return {"spec": self.spec.to_dict() | {"path": None, "sensitivity": None, "calibration": None},
                "law": self.law.equation,
                "priors": {name: prior.to_mapping() for name, prior in self.priors.items()}}


def prepare(spec: AnalysisSpec, frame: pd.DataFrame | None = None) -> PreparedFit:
    """Resolve and validate everything a fit needs; raises before any sampling or writing. ``frame``: the runs as a
    DataFrame, for a spec whose ``[data]`` names no dataset or CSV (the Python API)."""
    where = spec.path or f"analysis {spec.name!r}"
    try:
        law = get_law(spec.law)
        likelihood = get_likelihood(spec.likelihood)
    except ValueError as err:
        raise SpecError(f"{where}: {err}") from None
    priors = all_priors(law, likelihood, spec.priors)
    try:
        runs = load_runs(spec.data, frame)
    except DataError:
        raise
    except ValueError as err:  # an unknown dataset: name the spec that asked for it
        raise SpecError(f"{where} [data]: {err}") from None
    if spec.discrepancy == "in_model" and spec.sampler.target_accept < IN_MODEL_TARGET_ACCEPT:
        log.info("%s: the GP inside the model samples at target_accept %.2f (not %.2f): smaller steps where its "
                 "amplitude, length scales and the floor trade off", spec.name, IN_MODEL_TARGET_ACCEPT,
                 spec.sampler.target_accept)
        spec = dataclasses.replace(spec, sampler=dataclasses.replace(spec.sampler,
                                                                     target_accept=IN_MODEL_TARGET_ACCEPT))
    if (budget_term_for(runs.frame, spec.budget_effect) is not None
            and spec.sampler.target_accept < BUDGET_TARGET_ACCEPT):
        log.info("%s: a random offset per budget: sampled at target_accept %.2f (not %.2f)", spec.name,
                 BUDGET_TARGET_ACCEPT, spec.sampler.target_accept)
        spec = dataclasses.replace(spec, sampler=dataclasses.replace(spec.sampler,
                                                                     target_accept=BUDGET_TARGET_ACCEPT))
    label = FRAME_LABEL if frame is not None else spec.name
    repeats = repeated_cells(runs.frame)
    if repeats:
        log.warning("%s: %s", spec.name, repeats)
    check_identifiable(runs, law, spec.data.dataset or spec.data.csv or label)
    draws = spec.sampler.chains * spec.sampler.draws
    if draws > MOST_DRAWS:
        raise SpecError(f"{where}: {spec.sampler.chains} chains x {spec.sampler.draws} draws = {draws:.3g} posterior "
                        f"draws, above the limit of {MOST_DRAWS:.0e} (the 4 x 1000 default gives ESS in the "
                        "thousands); lower draws or chains ([sampler] or --draws/--chains)")
    return PreparedFit(spec, law, likelihood, priors, runs)


@dataclass(frozen=True)
class SampledFit:
    """A sampled fit: its DataTree (diagnostics in ``attrs['diagnostics']``), and the built and compiled model and
    where its chains ended, which refits of other data (the drift's, :mod:`bayes_scaling.uncertainty.drift`) reuse."""

    tree: xr.DataTree
    built: BuiltModel
    compiled: object
    natural: xr.Dataset
    warm_start: WarmStart | None = None


def _resample(built: BuiltModel, settings, compiled, compile_seconds: float, checked: list[str], progress: bool):
    """Sample the compiled model again with ``settings``: the result, its natural-scale posterior and diagnostics."""
    sampled = dataclasses.replace(run_nuts(built, settings, compiled=compiled, progress=progress),
                                  compile_seconds=compile_seconds)
    natural = posterior_parameters(built, sampled.posterior)
    return sampled, natural, diagnose(natural, sampled.sample_stats, checked)


def _slow_note(diagnostics, again) -> str:
    return (f"the second run mixed slowly ({diagnostics.verdict()}; no divergence, R-hat at most {EXTEND_RHAT}); "
            f"sampled again with {again.draws} draws after {again.tune} tuning steps")


def _divergence_note(diagnostics, again) -> str:
    return (f"the second run diverged ({diagnostics.verdict()}); sampled again with smaller steps, target_accept "
            f"{again.target_accept:.4g}, seed {again.seed}")


def _smaller_steps(diagnostics, settings):
    """The settings of one more run when the longer re-sample still diverged: target acceptance halfway to 1 (so
    smaller steps where the posterior curves), the same draws, the seed moved once more; None otherwise."""
    if diagnostics.converged or not diagnostics.divergences:
        return None
    return dataclasses.replace(settings, target_accept=1 - (1 - settings.target_accept) / 2, seed=_moved_seed(settings))


def _moved_seed(settings) -> int:
    """The seed of a re-sample: moved by :data:`RETRY_SEED_OFFSET`, within the seeds a spec allows."""
    return (settings.seed + RETRY_SEED_OFFSET) % 2**32


def _extension(diagnostics, settings):
    """The settings of one more run when ``diagnostics`` fail by slow mixing alone (no divergence, R-hat at most
    :data:`EXTEND_RHAT`): twice the tuning, draws scaled so that the smallest ESS would clear the threshold by
    :data:`ESS_MARGIN` (at least doubled if R-hat failed), at most :data:`MOST_EXTENSION` times as many and
    :data:`MOST_DRAWS` in all; None otherwise."""
    if diagnostics.converged or diagnostics.divergences or diagnostics.max_rhat > EXTEND_RHAT:
        return None
    smallest = min(diagnostics.min_ess_bulk, diagnostics.min_ess_tail)
    factor = math.ceil(ESS_MARGIN * diagnostics.min_ess_allowed / smallest) if smallest > 0 else MOST_EXTENSION
    if diagnostics.max_rhat > diagnostics.max_rhat_allowed:
        factor = max(factor, 2)
    factor = min(MOST_EXTENSION, factor)
    if factor <= 1 or settings.chains * settings.draws * factor > MOST_DRAWS:
        return None
    return dataclasses.replace(settings, draws=settings.draws * factor, tune=settings.tune * 2)


def sample_prepared(prepared: PreparedFit, *, progress: bool = False) -> SampledFit:
    """Build, compile and sample a prepared fit, diagnose it and assemble its DataTree (the law alone: no
    discrepancy; :func:`bayes_scaling.uncertainty.fit_with_uncertainty` adds it)."""
    spec = prepared.spec
    built: BuiltModel = build_model(
        prepared.law, prepared.runs, prepared.likelihood, prepared.priors, spec.sampler.geometry,
        discrepancy=spec.discrepancy == "in_model", budgets=budget_term_for(prepared.runs.frame, spec.budget_effect),
    )
    start = time.perf_counter()
    compiled = compile_model(built)
    compile_seconds = time.perf_counter() - start
    settings = spec.sampler
    sampled = dataclasses.replace(run_nuts(built, settings, compiled=compiled, progress=progress),
                                  compile_seconds=compile_seconds)
    natural = posterior_parameters(built, sampled.posterior)
    checked = list(built.named_parameters)
    diagnostics = diagnose(natural, sampled.sample_stats, checked)
    log.info("%s: %s", spec.name, diagnostics.verdict())
    retried = ""
    longer = dataclasses.replace(settings, draws=settings.draws * LONGER_DRAWS, tune=settings.tune * LONGER_TUNE,
                                 seed=_moved_seed(settings))
    if not diagnostics.converged and longer.chains * longer.draws <= MOST_DRAWS:
        # a weakly identified parameter (E against A and alpha on few budgets) mixes slowly: sample once more, longer
        retried = (f"the first run ({settings.chains} chains x {settings.draws} draws after {settings.tune} tuning "
                   f"steps) failed its diagnostics ({diagnostics.verdict()}); sampled again with {longer.draws} "
                   f"draws after {longer.tune} tuning steps, seed {longer.seed}")
        log.warning("%s: %s", spec.name, retried)
        sampled, natural, diagnostics = _resample(built, longer, compiled, compile_seconds, checked, progress)
        log.info("%s: %s", spec.name, diagnostics.verdict())
        for follow_up, reason in ((_extension, _slow_note), (_smaller_steps, _divergence_note)):
            again = follow_up(diagnostics, longer)
            if again is None:
                continue
            note = reason(diagnostics, again)
            retried += "; " + note
            log.warning("%s: %s", spec.name, note)
            sampled, natural, diagnostics = _resample(built, again, compiled, compile_seconds, checked, progress)
            log.info("%s: %s", spec.name, diagnostics.verdict())
    prior = prior_draws(prepared.law, prepared.likelihood, prepared.priors, prepared.runs,
                        np.random.default_rng([settings.seed, 11]), PRIOR_DRAWS)
    ratios = spread_ratios({name: natural[name].to_numpy() for name in prepared.law.parameters}, prior)
    if weakly_identified(ratios):
        log.warning("%s: weakly identified by the data (posterior sd over 0.3 of the prior's): %s", spec.name,
                    ", ".join(weakly_identified(ratios)))
    prior_tree = prior_predictive(prepared, draws=PRIOR_GROUP_DRAWS, seed=settings.seed)
    prior_groups = {"prior": prior_tree["prior"].to_dataset(),
                    "prior_predictive": prior_tree["prior_predictive"].to_dataset().astype(np.float32)}
    tree = build_tree(
        built, sampled, natural, prepared.runs, seed=settings.seed, diagnostics=diagnostics,
        extra_groups=prior_groups,
        attrs={
            "analysis": spec.name,
            "title": spec.title or prepared.law.title,
            "spec": json.dumps(spec.to_dict()),
            "sampler_retry": retried,
            "identification": json.dumps({name: round(ratio, 4) for name, ratio in ratios.items()}),
        },
    )
    return SampledFit(tree, built, compiled, natural, sampled.warm_start)


def prior_predictive(prepared: PreparedFit, draws: int = 500, seed: int | None = None) -> xr.DataTree:
    """Seeded prior and prior predictive draws (dims ``chain, draw`` and ``run``) at the runs' inputs, drawn
    forward from the priors (:func:`~bayes_scaling.sampling.model.prior_draws`), with the discrepancy GP's where it
    is inside the model and the budgets' offsets where the model has them."""
    rng = np.random.default_rng(prepared.spec.sampler.seed if seed is None else seed)
    law, likelihood = prepared.law, prepared.likelihood
    params = {name: values[None, :] for name, values in
              prior_draws(law, likelihood, prepared.priors, prepared.runs, rng, draws).items()}
    columns = {name: prepared.runs.column(name) for name in law.inputs}
    inputs = {name: values[None, None, :] for name, values in columns.items()}
    with np.errstate(all="ignore"):
        mu = np.log(law.loss(**inputs, **{k: params[k][..., None] for k in law.parameters}))
    if prepared.spec.discrepancy == "in_model":
        term = GPTerm.for_data(tuple(law.inputs), columns)
        gp = gp_prior_draws(term, rng, draws)
        mu = mu + delta_at(term, gp, columns)[None]
        params.update({name: gp[name][None, :] for name in hyperparameter_names(term)})
    budgets = budget_term_for(prepared.runs.frame, prepared.spec.budget_effect)
    if budgets is not None:  # drawn after the law's and the GP's: a model without them draws exactly as before
        offsets = budget_term.prior_draws(budgets, rng, draws)
        mu = mu + budget_term.at_runs(offsets[budget_term.OFFSET], budgets.labels)[None]
        params[budget_term.SD] = offsets[budget_term.SD][None, :]
    predictive = likelihood.sample(rng, mu, **{k: params[k][..., None] for k in likelihood.parameters})
    coords = {"chain": [0], "draw": np.arange(draws), RUN_DIM: prepared.runs.frame["row"].to_numpy()}
    prior = xr.Dataset({name: (("chain", "draw"), value) for name, value in params.items()}, coords=coords)
    observed = xr.Dataset({OBSERVED: (("chain", "draw", RUN_DIM), predictive)}, coords=coords)
    return xr.DataTree.from_dict({"/prior": prior, "/prior_predictive": observed})
