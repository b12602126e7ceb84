"""Analysis specs: which law, which data (and filters), which likelihood and priors, which sampler settings.

A spec is a TOML file in ``models/``::

    [analysis]
    name = "chinchilla"
    law = "chinchilla"
    notes = "..."                    # optional: what was chosen about the data and why, shown under the title

    [data]
    dataset = "epoch-chinchilla"     # or: csv = "my_runs.csv" with [data.columns]
    drop_highest_loss = 5
    # select = { hparams = "tuned", decay = "const" }   # datasets of several configurations (Porian et al.)

    [likelihood]
    family = "student_t"

    [priors]
    alpha = { dist = "Gamma", mu = 0.4, sigma = 0.3 }

    [sampler]
    draws = 1000
    seed = 1

    [[sensitivity]]                  # optional checks, fitted beside the analysis and tabled on its page
    label = "20% loss window"
    isoflop_loss_window = 0.2        # any data filter; ``drop = ["..."]`` removes one; ``likelihood = "normal"``

Unknown sections or keys are refused with the valid list, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bayes_scaling.data.filters import FILTERS
from bayes_scaling.data.runs import COMPUTE_TOLERANCE
from bayes_scaling.data.source import DataSpec
from bayes_scaling.laws import Law, get_law
from bayes_scaling.laws.inputs import INPUTS
from bayes_scaling.priors import Prior


class SpecError(ValueError):
    """An analysis spec that cannot be used; the message names the file, the key and the fix."""


#: The sampler geometries (:mod:`bayes_scaling.sampling.model`) and nutpie mass-matrix adaptations a spec may name.
GEOMETRIES = ("centred", "naive")
ADAPTATIONS = ("low_rank", "diag")
#: Whole-number sampler settings: (least, most). Far more draws than any interval needs would only fill memory (the
#: per-run groups of a fit hold chains x draws x runs numbers).
SAMPLER_LIMITS = {"draws": (1, 100_000), "tune": (0, 100_000), "chains": (1, 64), "seed": (0, 2**32 - 1)}
#: An analysis name is a folder name in a report: letters, digits, '.', '_' and '-', starting with a letter or digit.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True)
class SamplerSpec:
    """NUTS settings.

    ``geometry`` is ``centred`` (default) or ``naive`` (for benchmarks and checks); ``adaptation`` is nutpie's mass
    matrix adaptation: ``low_rank`` (default; learns the remaining correlations, about 8x fewer leapfrog steps than
    ``diag`` on the Chinchilla law) or ``diag``. ``tune``: 500 tuning steps per chain (1000 until session 24), set on
    the convergence of the shipped specs and the development suites with the GP inside, no score looked at
    (docs/performance.md, session 24); a fit that fails its diagnostics is sampled again with twice the tuning.
    """

    draws: int = 1000
    tune: int = 500
    chains: int = 4
    seed: int = 20220329
    target_accept: float = 0.95
    geometry: str = "centred"
    adaptation: str = "low_rank"

    def __post_init__(self) -> None:
        for name, (least, most) in SAMPLER_LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
                raise ValueError(f"sampler {name} must be a whole number from {least} to {most:,}, got {value!r}")
        if isinstance(self.target_accept, bool) or not isinstance(self.target_accept, int | float) \
                or not 0 < self.target_accept < 1:
            raise ValueError(f"sampler target_accept must be between 0 and 1, got {self.target_accept!r}")


@dataclass(frozen=True)
class Variant:
    """A sensitivity check: the same analysis with some data filters set or dropped, or another likelihood; its
    ``sampler`` settings (draws, tune, target_accept) override the analysis's where the check is harder to sample."""

    label: str
    filters: dict[str, float] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    likelihood: str | None = None
    sampler: dict[str, Any] = field(default_factory=dict)
    discrepancy: str | None = None
    budget_effect: str | None = None
    #: Columns read instead of the analysis's (``columns = { n_params = "N" }``), and how N then counts embeddings.
    columns: dict[str, str] = field(default_factory=dict)
    n_counts_embeddings: bool | None = None

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.label.lower()).strip("-")

    def apply(self, spec: AnalysisSpec) -> AnalysisSpec:
        """``spec`` with this variant's changes (and no variants of its own)."""
        filters = {k: v for k, v in spec.data.filters.items() if k not in self.drop} | self.filters
        return replace(spec, name=f"{spec.name}--{self.slug}", title=f"{spec.title or spec.name}: {self.label}",
                       likelihood=likelihood_for(self.discrepancy or spec.discrepancy, self.likelihood,
                                                 spec.likelihood if (self.discrepancy or spec.discrepancy) == "after"
                                                 else IN_MODEL_LIKELIHOOD, self.label),
                       data=replace(spec.data, filters=filters, columns={**spec.data.columns, **self.columns},
                                    n_counts_embeddings=spec.data.n_counts_embeddings
                                    if self.n_counts_embeddings is None else self.n_counts_embeddings),
                       discrepancy=self.discrepancy or spec.discrepancy,
                       budget_effect=self.budget_effect or spec.budget_effect,
                       sampler=replace(spec.sampler, **self.sampler), sensitivity=(), calibration=None)


@dataclass(frozen=True)
class CalibrationSpec:
    """What ``bayes-scaling report`` measures about a spec's intervals (``[calibration]``): extrapolation
    backtests holding out each fraction of the highest-compute runs (Bayesian fit, with and without its discrepancy
    term, beside a bootstrap of ``replicates`` resamples), and simulation-based calibration with ``simulations``
    simulated datasets (0: none), each fitted with ``sbc_chains`` chains of ``sbc_draws`` draws after ``sbc_tune``
    tuning steps (2 chains of 250 after 250: the ranks count 49 thinned draws of the 500; a simulation short of that
    many effective draws while it mixes is sampled again with four times as many, :mod:`bayes_scaling.validation.sbc`).
    Two chains, not four, since session 22: every chain pays its own tuning, and with 49 ranked draws (session 20)
    about 5% of simulations fall short of them (docs/performance.md)."""

    hold_out: tuple[float, ...] = (0.1, 0.2, 0.3)
    replicates: int = 100
    simulations: int = 100
    sbc_draws: int = 250
    sbc_tune: int = 250
    sbc_chains: int = 2

    def __post_init__(self) -> None:
        for key in ("replicates", "simulations", "sbc_draws", "sbc_tune", "sbc_chains"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"[calibration] {key} must be a whole number, got {value!r}; write it without quotes, "
                                 f"e.g. {key} = {getattr(CalibrationSpec, key)}")
        if not self.hold_out or any(not 0 < f < 1 for f in self.hold_out):
            raise ValueError(f"[calibration] hold_out fractions must lie in (0, 1), got {list(self.hold_out)}")
        if (self.replicates < 2 or self.simulations < 0 or self.sbc_draws < 50 or self.sbc_tune < 50
                or not 2 <= self.sbc_chains <= SAMPLER_LIMITS["chains"][1]):
            raise ValueError("[calibration] needs replicates >= 2, simulations >= 0, sbc_draws >= 50, sbc_tune >= 50 "
                             f"and sbc_chains from 2 (R-hat compares chains) to {SAMPLER_LIMITS['chains'][1]}")
        object.__setattr__(self, "hold_out", tuple(float(f) for f in self.hold_out))


@dataclass(frozen=True)
class AnalysisSpec:
    """Everything a fit needs; ``to_dict`` is what a fit records in its attrs."""

    name: str
    law: str
    data: DataSpec
    title: str = ""
    #: What the analysis chose about its data and why (``[analysis] notes``), shown under its pages' title.
    notes: str = ""
    likelihood: str = "student_t"
    priors: dict[str, Prior] = field(default_factory=dict)
    sampler: SamplerSpec = field(default_factory=SamplerSpec)
    path: str | None = None
    sensitivity: tuple[Variant, ...] = ()
    calibration: CalibrationSpec | None = None
    #: Published values its pages compare it with (keys of :data:`bayes_scaling.study.references.REFERENCES`).
    references: tuple[str, ...] = ()
    #: Budgets (FLOP) its page answers at the top (``[plan] budgets``); none: 1, 10 and 100 times its largest run.
    plan_budgets: tuple[float, ...] = ()
    #: Where the discrepancy GP is fitted (``[discrepancy] gp``; a spec file that does not say gets its law's
    #: ``default_discrepancy``): "after" sampling, on the law's residuals, or "in_model", sampled with the law's
    #: parameters (:mod:`bayes_scaling.sampling.gp_term`).
    discrepancy: str = "after"
    #: A random offset per budget (``[discrepancy] budgets``): "none" (every run independent: the scored default) or
    #: "auto", one where the data have budgets (:mod:`bayes_scaling.sampling.budget_term`).
    budget_effect: str = "none"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["priors"] = {name: prior.to_mapping() for name, prior in self.priors.items()}
        return out


SECTIONS = {"analysis": {"name", "title", "notes", "law", "references"}, "data": None, "likelihood": {"family"},
            "priors": None, "sampler": set(SamplerSpec.__dataclass_fields__), "sensitivity": None,
            "calibration": set(CalibrationSpec.__dataclass_fields__), "plan": {"budgets"},
            "discrepancy": {"gp", "budgets"}}
#: Where a fit's discrepancy GP may be fitted (``[discrepancy] gp``, ``--discrepancy``).
DISCREPANCY_MODES = ("after", "in_model")
#: Whether runs of one budget share a random offset (``[discrepancy] budgets``, ``--budget-effect``).
BUDGET_EFFECTS = ("none", "auto")
#: The likelihood of a fit whose GP is inside the model (its coefficients are integrated out: Gaussian noise).
IN_MODEL_LIKELIHOOD = "normal"


def likelihood_for(discrepancy: str, given: str | None, default: str, where: str) -> str:
    """The likelihood a fit uses: ``given`` or ``default``; a GP inside the model needs the normal likelihood (a
    ``given`` other one is refused, the default replaced)."""
    if discrepancy != "in_model":
        return given or default
    if given not in (None, IN_MODEL_LIKELIHOOD):
        raise SpecError(f"{where}: the discrepancy inside the model integrates its coefficients out, which needs the "
                        f"{IN_MODEL_LIKELIHOOD!r} likelihood, got {given!r}; drop the likelihood setting or fit the "
                        "GP after sampling (gp = \"after\", --discrepancy after)")
    return IN_MODEL_LIKELIHOOD
DATA_KEYS = {"dataset", "csv", "columns", "units", "compute_tolerance", "n_counts_embeddings", "select", *FILTERS}


def _check_keys(where: str, table: Mapping[str, Any], valid: set[str]) -> None:
    unknown = set(table) - valid
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {sorted(unknown)}; valid: {', '.join(sorted(valid))}")


def data_spec_from_table(table: Mapping[str, Any], where: str, base: Path | None = None, *,
                         in_memory: bool = False) -> DataSpec:
    """A :class:`DataSpec` from a ``[data]`` table; a relative ``csv`` is taken relative to ``base``. With
    ``in_memory`` the runs come as a DataFrame (the Python API), so the table names neither a dataset nor a CSV."""
    _check_keys(where, table, DATA_KEYS)
    if in_memory and ("dataset" in table or "csv" in table):
        raise SpecError(f"{where}: the runs are given as a DataFrame; the data settings cannot name a dataset or CSV "
                        "as well")
    if not in_memory and ("dataset" in table) == ("csv" in table):
        raise SpecError(f"{where}: give exactly one of 'dataset' (a registered name) or 'csv' (a file path)")
    tolerance = table.get("compute_tolerance", COMPUTE_TOLERANCE)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not 0 < tolerance < 10:
        raise SpecError(f"{where}: compute_tolerance must be a number between 0 and 10 (0.25 is 25%), "
                        f"got {tolerance!r}")
    embeddings = table.get("n_counts_embeddings")
    if embeddings is not None and not isinstance(embeddings, bool):
        raise SpecError(f"{where}: n_counts_embeddings must be true or false, got {embeddings!r}")
    for key in ("columns", "units", "select"):
        if not isinstance(table.get(key, {}), Mapping):
            raise SpecError(f"{where}: '{key}' must be a table, e.g. {key} = {{ loss = \"val_loss\" }}")
    csv = table.get("csv")
    if csv is not None and base is not None and not Path(csv).is_absolute():
        csv = str(base / csv)
    return DataSpec(
        dataset=table.get("dataset"),
        csv=csv,
        columns=dict(table.get("columns", {})),
        units=dict(table.get("units", {})),
        filters={k: v for k, v in table.items() if k in FILTERS},
        compute_tolerance=float(tolerance),
        n_counts_embeddings=embeddings,
        select={str(k): str(v) for k, v in table.get("select", {}).items()},
    )


#: The sampler settings a [[sensitivity]] check may override.
VARIANT_SAMPLER = {"draws", "tune", "target_accept"}


def variants_from_list(tables: Any, where: str) -> tuple[Variant, ...]:
    """The ``[[sensitivity]]`` tables as :class:`Variant` objects."""
    if not isinstance(tables, list) or not all(isinstance(t, Mapping) for t in tables):
        raise SpecError(f"{where}: write each check as a [[sensitivity]] table")
    out = []
    for i, table in enumerate(tables, 1):
        at = f"{where} [[sensitivity]] #{i}"
        _check_keys(at, table, {"label", "likelihood", "drop", "sampler", "discrepancy", "budgets", "columns",
                                "n_counts_embeddings", *FILTERS})
        columns = table.get("columns", {})
        if not isinstance(columns, Mapping) or not all(isinstance(v, str) for v in columns.values()) \
                or set(columns) - {*INPUTS, "loss"}:
            raise SpecError(f"{at}: columns maps inputs ({', '.join(INPUTS)}) or loss to column names, e.g. "
                            'columns = { n_params = "N" }')
        if not isinstance(table.get("n_counts_embeddings", True), bool):
            raise SpecError(f"{at}: n_counts_embeddings must be true or false")
        if table.get("discrepancy", "after") not in DISCREPANCY_MODES:
            raise SpecError(f"{at}: discrepancy must be one of {', '.join(map(repr, DISCREPANCY_MODES))}, got "
                            f"{table['discrepancy']!r}")
        if table.get("budgets", "none") not in BUDGET_EFFECTS:
            raise SpecError(f"{at}: budgets must be one of {', '.join(map(repr, BUDGET_EFFECTS))}, got "
                            f"{table['budgets']!r}")
        likelihood_for(table.get("discrepancy", "after"), table.get("likelihood"), IN_MODEL_LIKELIHOOD, at)
        sampler = table.get("sampler", {})
        if not isinstance(sampler, Mapping) or set(sampler) - VARIANT_SAMPLER:
            raise SpecError(f"{at}: 'sampler' may set {', '.join(sorted(VARIANT_SAMPLER))}, "
                            "e.g. sampler = {{ tune = 3000, target_accept = 0.99 }}")
        try:
            replace(SamplerSpec(), **sampler)
        except ValueError as err:
            raise SpecError(f"{at}: {err}") from None
        if not str(table.get("label", "")).strip():
            raise SpecError(f"{at}: 'label' is required (it names the check on the page)")
        unknown = set(table.get("drop", [])) - set(FILTERS)
        if unknown:
            raise SpecError(f"{at}: drop names unknown filter(s) {sorted(unknown)}; "
                            f"valid: {', '.join(sorted(FILTERS))}")
        out.append(Variant(label=str(table["label"]), filters={k: v for k, v in table.items() if k in FILTERS},
                           drop=tuple(table.get("drop", [])), likelihood=table.get("likelihood"),
                           sampler=dict(sampler), discrepancy=table.get("discrepancy"),
                           budget_effect=table.get("budgets"), columns=dict(columns),
                           n_counts_embeddings=table.get("n_counts_embeddings")))
    if len({v.slug for v in out}) != len(out):
        raise SpecError(f"{where}: [[sensitivity]] labels must differ")
    return tuple(out)


def spec_from_dict(raw: Mapping[str, Any], where: str = "spec", base: Path | None = None, *,
                   in_memory: bool = False) -> AnalysisSpec:
    """Build and check a spec from its parsed TOML form (``in_memory``: its runs come as a DataFrame)."""
    _check_keys(where, raw, set(SECTIONS))
    for section, valid in SECTIONS.items():
        if valid is not None and section in raw:
            _check_keys(f"{where} [{section}]", raw[section], valid)
    analysis = raw.get("analysis", {})
    for key in ("name", "law"):
        if key not in analysis:
            raise SpecError(f"{where} [analysis]: '{key}' is required")
    if "data" not in raw:
        raise SpecError(f"{where}: a [data] section is required")
    try:
        priors = {name: Prior.from_mapping(table) for name, table in raw.get("priors", {}).items()}
        sampler = SamplerSpec(**raw.get("sampler", {}))
        calibration = CalibrationSpec(**raw["calibration"]) if "calibration" in raw else None
    except (ValueError, TypeError) as err:
        raise SpecError(f"{where}: {err}") from None
    name = str(analysis["name"])
    if not NAME_PATTERN.fullmatch(name) or ".." in name:
        raise SpecError(f"{where} [analysis]: name {name!r} must be a plain folder name (letters, digits, '.', '_', "
                        "'-'; no '/', no '..', at most 100 characters), e.g. name = \"my-runs\"")
    if sampler.geometry not in GEOMETRIES:
        raise SpecError(f"{where} [sampler]: geometry must be one of {', '.join(map(repr, GEOMETRIES))}, got "
                        f"{sampler.geometry!r}")
    if sampler.adaptation not in ADAPTATIONS:
        raise SpecError(f"{where} [sampler]: adaptation must be one of {', '.join(map(repr, ADAPTATIONS))}, got "
                        f"{sampler.adaptation!r}")
    references = analysis.get("references", [])
    if not isinstance(references, list) or not all(isinstance(key, str) for key in references):
        raise SpecError(f"{where} [analysis]: references must be a list of names, e.g. references = "
                        "[\"hoffmann-2022\", \"epoch-2024\"]")
    discrepancy = raw.get("discrepancy", {}).get("gp", law_default(str(analysis["law"]), "default_discrepancy"))
    if discrepancy not in DISCREPANCY_MODES:
        raise SpecError(f"{where} [discrepancy]: gp must be one of {', '.join(map(repr, DISCREPANCY_MODES))}, got "
                        f"{discrepancy!r}")
    budget_effect = raw.get("discrepancy", {}).get("budgets", "none")
    if budget_effect not in BUDGET_EFFECTS:
        raise SpecError(f"{where} [discrepancy]: budgets must be one of {', '.join(map(repr, BUDGET_EFFECTS))}, got "
                        f"{budget_effect!r} (\"auto\": a random offset per budget where the data have budgets)")
    budgets = raw.get("plan", {}).get("budgets", [])
    if (not isinstance(budgets, list) or not all(isinstance(b, int | float) and not isinstance(b, bool)
                                                 and 0 < b < float("inf") for b in budgets)):
        raise SpecError(f"{where} [plan]: budgets must be a list of positive FLOP counts, e.g. budgets = [1e22, 1e23]")
    return AnalysisSpec(
        references=tuple(references),
        plan_budgets=tuple(float(b) for b in budgets),
        discrepancy=discrepancy,
        budget_effect=budget_effect,
        name=name,
        law=str(analysis["law"]),
        title=str(analysis.get("title", "")),
        notes=" ".join(str(analysis.get("notes", "")).split()),
        data=data_spec_from_table(raw["data"], f"{where} [data]", base, in_memory=in_memory),
        likelihood=likelihood_for(discrepancy, raw.get("likelihood", {}).get("family"),
                                  law_default(str(analysis["law"]), "default_likelihood"), f"{where} [likelihood]"),
        priors=priors,
        sampler=sampler,
        path=None if base is None else where,
        sensitivity=variants_from_list(raw.get("sensitivity", []), where),
        calibration=calibration,
    )


def law_default(law: str, setting: str) -> str:
    """A law's default ``setting`` (``"default_likelihood"``, ``"default_discrepancy"``) unless a spec says otherwise;
    the base :class:`~bayes_scaling.laws.Law`'s for an unknown law, which
    :func:`bayes_scaling.sampling.run.prepare` reports."""
    try:
        return getattr(get_law(law), setting)
    except ValueError:
        return getattr(Law, setting)


def load_spec(path: str | Path) -> AnalysisSpec:
    """Read a spec TOML file."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: spec file not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{path}: not valid TOML ({err})") from None
    return spec_from_dict(raw, where=str(path), base=path.parent)
