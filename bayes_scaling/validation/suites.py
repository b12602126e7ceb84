"""The development suites: every published set of runs the project has, as a user would fit them.

Each suite is one lab's sweep under one configuration (Epoch AI's digitised Chinchilla runs; each of Porian et al.
2024's five configurations on RefinedWeb and on OpenWebText2; Li et al. 2025's grid). They are what the
cross-suite extrapolation prior (:mod:`bayes_scaling.validation.extrapolation_learning`) is learned from and what
the leave-one-suite-out table scores. A suite is fitted the way ``bayes-scaling fit --law LAW`` fits a user's CSV:
the law's default likelihood and filters (:attr:`~bayes_scaling.laws.Law.default_filters`) plus the suite's own
data filters, the default sampler settings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bayes_scaling.data.source import DataSpec
from bayes_scaling.laws import get_law
from bayes_scaling.spec import AnalysisSpec, likelihood_for

#: Porian et al.'s configurations: (hparams, warmup, decay, param_count, val) by short name.
PORIAN_CONFIGURATIONS = {
    "tuned": {"hparams": "tuned", "warmup": "short", "decay": "const", "param_count": "standard", "val": "val"},
    "kaplan": {"hparams": "base", "warmup": "long", "decay": "kaplan", "param_count": "kaplan", "val": "train"},
    "flops": {"hparams": "base", "warmup": "long", "decay": "kaplan", "param_count": "standard", "val": "val"},
    "warmup": {"hparams": "base", "warmup": "short", "decay": "kaplan", "param_count": "standard", "val": "val"},
    "cosine": {"hparams": "base", "warmup": "short", "decay": "chinchilla", "param_count": "standard", "val": "val"},
}
#: Porian et al.'s two pre-training datasets and the registered file holding each.
PORIAN_DATASETS = {"rw": "porian2024-summary", "owt2": "porian2024-owt2"}


@dataclass(frozen=True)
class Suite:
    """One development suite: its runs (a data spec), the laws fitted to it, and whether it has IsoFLOP budgets."""

    name: str
    data: DataSpec
    laws: tuple[str, ...]
    lab: str
    notes: str = ""

    def spec(self, law: str, *, filters: dict | None = None, seed: int = 0,
             discrepancy: str = "after", budget_effect: str = "none") -> AnalysisSpec:
        """The analysis a user's ``fit --law [--discrepancy] [--budget-effect]`` would run on these runs, with
        ``filters`` added (a split)."""
        found = get_law(law)
        data = replace(self.data, filters={**found.default_filters, **self.data.filters, **(filters or {})})
        likelihood = likelihood_for(discrepancy, None, found.default_likelihood, self.name)
        spec = AnalysisSpec(name=f"{self.name}-{law}", law=law, data=data, likelihood=likelihood,
                            title=f"{law} law on {self.name}", discrepancy=discrepancy, budget_effect=budget_effect)
        return replace(spec, sampler=replace(spec.sampler, seed=seed))


def _porian(dataset: str, configuration: str) -> Suite:
    select = {"dataset": dataset, **PORIAN_CONFIGURATIONS[configuration]}
    return Suite(f"porian-{dataset}-{configuration}",
                 DataSpec(dataset=PORIAN_DATASETS[dataset], select=select, filters={"isoflop_loss_window": 0.1}),
                 ("chinchilla", "isoflop"), lab="Porian et al. 2024",
                 notes="the runs within 10% of their budget's lowest loss, as the shipped specs fit them: the far "
                 "tails (short runs of big models still in warm-up) follow no law")


SUITES: tuple[Suite, ...] = (
    Suite("epoch-chinchilla", DataSpec(dataset="epoch-chinchilla", filters={"drop_highest_loss": 5}),
          ("chinchilla", "isoflop"), lab="Hoffmann et al. 2022 (digitised by Epoch AI)"),
    *(_porian(dataset, configuration) for dataset in PORIAN_DATASETS for configuration in PORIAN_CONFIGURATIONS),
    Suite("li2025", DataSpec(dataset="li2025-final", filters={"best_of_repeats": 1}), ("chinchilla",),
          lab="Li et al. 2025", notes="a grid of N x D, not IsoFLOP budgets: the IsoFLOP law does not apply; the "
          "best learning rate of each cell; N counts embeddings"),
)


def get_suite(name: str) -> Suite:
    """The development suite called ``name``."""
    for suite in SUITES:
        if suite.name == name:
            return suite
    raise ValueError(f"unknown suite {name!r}; valid: {', '.join(s.name for s in SUITES)}")
