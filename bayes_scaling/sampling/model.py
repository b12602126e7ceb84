"""Law + runs + priors + likelihood -> a PyMC model of log loss.

Two geometries target the same posterior:

- ``naive``: every parameter is a random variable with its prior (PyMC samples positive ones on the log scale).
- ``centred`` (default): for each :class:`~bayes_scaling.laws.PowerTerm` (say ``A * x**-alpha``) the sampler sees
  ``A_centred``, the log of the term at the data's geometric-mean ``x`` (``log A - alpha * mean(log x)``); the prior
  on ``A`` is added as a potential on the natural value with the log-Jacobians of ``A -> log A -> A_centred``. For
  amplitudes the map is a shear with unit determinant (Kaplan's scale form adds ``-log alpha``), so the posterior is
  the same, but the ridge between an amplitude and its exponent is gone and NUTS needs several times fewer
  leapfrog steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bayes_scaling.data.runs import RunTable
from bayes_scaling.laws import Law
from bayes_scaling.likelihoods import Likelihood
from bayes_scaling.priors import Prior, PriorError, merge_priors
from bayes_scaling.sampling import budget_term
from bayes_scaling.sampling.budget_term import BudgetTerm
from bayes_scaling.sampling.data_logs import input_data, log_name, read_input_logs
from bayes_scaling.sampling.generated_source import keep_generated_source
from bayes_scaling.sampling.gp_term import GPTerm, hyperparameter_names
from bayes_scaling.sampling.gp_term import observe as observe_with_gp
from bayes_scaling.spec import GEOMETRIES

OBSERVED = "log_loss"
RUN_DIM = "run"


def all_priors(law: Law, likelihood: Likelihood, overrides: Mapping[str, Prior] | None = None) -> dict[str, Prior]:
    """The law's and the likelihood's default priors with ``overrides`` on top (unknown names refused)."""
    defaults = {**law.default_priors, **likelihood.default_priors}
    merged = merge_priors(defaults, overrides, owner=f"law {law.name!r} with likelihood {likelihood.name!r}")
    amplitudes = {term.amplitude: term for term in law.power_terms}
    for name, prior in merged.items():
        if prior.at_centre and name not in amplitudes:
            raise PriorError(
                f"{name}: a prior 'at = \"centre\"' is only for the amplitude of a power term "
                f"(here: {', '.join(t.amplitude for t in law.power_terms) or 'none'}); remove 'at'"
            )
    for term in law.power_terms:
        if not merged[term.amplitude].is_positive:
            raise PriorError(
                f"{term.amplitude} is a positive amplitude; its prior must be positive "
                f"(LogNormal, Gamma, HalfNormal, ...), got {merged[term.amplitude].describe()}"
            )
    return merged


def centre_of(runs: RunTable, name: str) -> float:
    """Mean of log(input) over the runs: the geometric-mean point the centred geometry expands around."""
    return float(np.mean(np.log(runs.column(name))))


@dataclass(frozen=True)
class BuiltModel:
    """A PyMC model plus what is needed to map its draws back to the law's natural parameters."""

    model: object
    law: Law
    likelihood: Likelihood
    priors: dict[str, Prior]
    geometry: str
    centres: dict[str, float]
    #: The discrepancy GP inside the model (:mod:`~bayes_scaling.sampling.gp_term`), or None for the law alone.
    gp: GPTerm | None = None
    #: The random offset per budget (:mod:`~bayes_scaling.sampling.budget_term`), or None.
    budgets: BudgetTerm | None = None

    @property
    def named_parameters(self) -> tuple[str, ...]:
        """The natural parameters a fit reports: the law's, the noise's, the budgets' spread and the discrepancy
        GP's hyperparameters."""
        gp = () if self.gp is None else hyperparameter_names(self.gp)
        spread = () if self.budgets is None else (budget_term.SD,)
        return (*self.law.parameters, *self.likelihood.parameters, *spread, *gp)

    @property
    def sampled_names(self) -> list[str]:
        """Names of the free variables the sampler moves."""
        return [rv.name for rv in self.model.free_RVs]


def build_model(
    law: Law,
    runs: RunTable,
    likelihood: Likelihood,
    priors: Mapping[str, Prior],
    geometry: str = "centred",
    discrepancy: bool = False,
    budgets: BudgetTerm | None = None,
) -> BuiltModel:
    """PyMC model of ``log loss_i ~ likelihood(log law(inputs_i; theta) [+ u_b(i)] [+ delta(inputs_i)], noise)``
    over the runs, with a random offset u per budget if ``budgets`` (:mod:`~bayes_scaling.sampling.budget_term`) and
    the discrepancy GP delta inside the model if ``discrepancy`` (:mod:`~bayes_scaling.sampling.gp_term`).

    Inputs and observations enter as ``pm.Data`` (dims ``run``) so that a compiled model can be reused on new data.
    """
    import pymc as pm
    import pytensor.tensor as pt

    keep_generated_source()
    if geometry not in GEOMETRIES:
        raise ValueError(f"unknown geometry {geometry!r}; valid: {', '.join(GEOMETRIES)}")
    centred_terms = {t.amplitude: t for t in law.power_terms} if geometry == "centred" else {}
    centres = {t.input: centre_of(runs, t.input) for t in centred_terms.values()}
    columns = {name: runs.column(name) for name in law.inputs}
    gp = GPTerm.for_data(tuple(law.inputs), columns) if discrepancy else None
    coords = {RUN_DIM: runs.frame["row"].to_numpy()}
    if gp is not None:
        coords["gp_basis_function"] = coords["gp_basis_function_"] = np.arange(int(np.prod(gp.shape)))
    if budgets is not None:
        coords[budget_term.DIM] = budgets.compute
    with pm.Model(coords=coords) as model:
        data = input_data(law.inputs, columns)
        inputs = {name: pm.Data(name, data[name], dims=RUN_DIM) for name in law.inputs}
        input_logs = {inputs[name]: pm.Data(log_name(name), data[log_name(name)], dims=RUN_DIM)
                      for name in law.inputs}
        observed = pm.Data(f"{OBSERVED}_observed", np.log(runs.column("loss")), dims=RUN_DIM)
        floors = {t.floor for t in centred_terms.values() if t.floor}
        at_centre = {t.amplitude: t for t in law.power_terms if priors[t.amplitude].at_centre}
        values = {name: priors[name].create(name) for name in law.parameters
                  if name not in centred_terms and name not in floors and name not in at_centre}
        for name, term in at_centre.items():
            if name in centred_terms:
                continue
            # naive geometry: the sampler moves log(amplitude); the prior is on the term at the centre
            centre = centres.setdefault(term.input, centre_of(runs, term.input))
            exponent = values[term.exponent]
            start = term.log_amplitude_at_centre(np.log(priors[name].typical()), priors[term.exponent].typical(),
                                                 centre)
            log_value = pm.Flat(f"{name}_log", initval=float(start))
            in_units = term.centred(log_value, exponent, centre) - term.log_centre_unit(centre)
            values[name] = pt.exp(log_value)
            pm.Potential(f"{name}_prior", pm.logp(priors[name].dist_object(), pt.exp(in_units)) + in_units
                         - term.log_jacobian(exponent, pt.log))
        for name, term in centred_terms.items():
            centre = centres[term.input]
            if priors[name].at_centre:  # the typical term at the centre, in the prior's units
                start = float(np.log(priors[name].typical()) + term.log_centre_unit(centre))
            else:
                start = term.centred(np.log(priors[name].typical()), priors[term.exponent].typical(), centre)
            if term.floor:
                floor_start = priors[term.floor].typical()
                level = pm.Flat(f"{name}_level", initval=float(np.logaddexp(np.log(floor_start), start)))
                share = pm.Flat(f"{name}_share", initval=float(start - np.log(floor_start)))
                coordinate = level - pt.softplus(-share)  # log(term) = level + log sigmoid(share)
                values[term.floor] = pt.exp(level - pt.softplus(share))  # E = e^level (1 - sigmoid(share))
                pm.Potential(f"{term.floor}_prior", pm.logp(priors[term.floor].dist_object(), values[term.floor])
                             + pt.log(values[term.floor]))
            else:
                coordinate = pm.Flat(f"{name}_centred", initval=float(start))
            exponent = values[term.exponent]
            log_value = term.log_amplitude(coordinate, exponent, centre)
            values[name] = pt.exp(log_value)
            if priors[name].at_centre:  # the coordinate is the log of the term at the centre: no Jacobian to A
                in_units = coordinate - term.log_centre_unit(centre)
                pm.Potential(f"{name}_prior", pm.logp(priors[name].dist_object(), pt.exp(in_units)) + in_units)
            else:
                jacobian = log_value + term.log_jacobian(exponent, pt.log)
                pm.Potential(f"{name}_prior", pm.logp(priors[name].dist_object(), values[name]) + jacobian)
        noise = {name: priors[name].create(name) for name in likelihood.parameters}
        mu = read_input_logs(pt.log(law.loss(**inputs, **values)), input_logs)
        if budgets is not None:
            mu = budget_term.add_offsets(budgets, mu, RUN_DIM)
        if gp is None:
            likelihood.observe(OBSERVED, mu, observed, noise, dims=RUN_DIM)
        elif likelihood.name != "normal":
            raise PriorError(f"the discrepancy inside the model needs the normal likelihood, got {likelihood.name!r}")
        else:
            observe_with_gp(gp, columns, mu, observed, noise["sigma"], RUN_DIM)
    return BuiltModel(model, law, likelihood, dict(priors), geometry, centres, gp, budgets)


def natural_parameters(built: BuiltModel, draws: Mapping[str, object]) -> dict[str, object]:
    """The law's parameters on the natural scale from sampler draws (numpy or xarray), inverting the centring."""
    out = {}
    for name in built.law.parameters:
        if name in draws:
            out[name] = draws[name]
    for term in built.law.power_terms:
        if term.amplitude in out:
            continue
        if f"{term.amplitude}_log" in draws:  # naive geometry with the prior on the term at the centre
            out[term.amplitude] = np.exp(draws[f"{term.amplitude}_log"])
            continue
        if term.floor:
            level, share = draws[f"{term.amplitude}_level"], draws[f"{term.amplitude}_share"]
            coordinate = level - np.logaddexp(0.0, -share)
            out[term.floor] = np.exp(level - np.logaddexp(0.0, share))
        else:
            coordinate = draws[f"{term.amplitude}_centred"]
        out[term.amplitude] = np.exp(term.log_amplitude(coordinate, draws[term.exponent], built.centres[term.input]))
    return out



def prior_draws(law: Law, likelihood: Likelihood, priors: Mapping[str, Prior], runs: RunTable,
                rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """``size`` forward draws of the law's and the likelihood's parameters from their priors (natural scale, 1-d
    arrays); an amplitude whose prior is on the term at the data centre is drawn through that term and the
    exponent's draw."""
    import pymc as pm

    keep_generated_source()
    names = (*law.parameters, *likelihood.parameters)
    # one function drawing every parameter's vector at once (drawing ``size`` times one by one compiled a function
    # per parameter and called it ``size`` times: 1.5 of a fit's 8 CPU s), compiled for PyTensor's Python linker: a
    # single call gains nothing from numba, whose compile cost 0.5-0.7 CPU s a process against 0.1 (the draws agree
    # to the last bits: numpy's and numba's gamma samplers round differently)
    values = pm.draw([priors[name].draw_object(size) for name in names], draws=1, random_seed=rng,
                     mode="FAST_COMPILE")
    draws = {name: np.asarray(value, dtype=float).reshape(size) for name, value in zip(names, values, strict=True)}
    for term in law.power_terms:
        if priors[term.amplitude].at_centre:  # the draws above are of the term at the centre
            with np.errstate(over="ignore"):  # an exponent near 0 sends the amplitude to inf: such data are skipped
                draws[term.amplitude] = np.exp(term.log_amplitude_at_centre(
                    np.log(draws[term.amplitude]), draws[term.exponent], centre_of(runs, term.input)))
    return draws
