"""Published values an analysis can be compared with, by key. An analysis declares the ones that belong to it
(``[analysis] references = ["hoffmann-2022", "epoch-2024"]``); its pages show exactly those, for the laws they
have values for, and nothing on runs of a user's own unless the user asks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bayes_scaling.study import published


@dataclass(frozen=True)
class Reference:
    """One publication's values.

    ``parameters`` maps a law's name to the paper's values of its parameters (natural scale, FLOP), ``intervals``
    likewise to published 95% intervals; ``exponents`` are rows ``(label, (a, low, high), (b, low, high))`` of
    allocation exponents (None where no interval); ``headline_exponent`` is ``(label, (low, high))``, an interval of
    a whose posterior probability a page states; ``allocation_points`` are compute-optimal ``(C, N, D)`` points;
    ``allocation_line`` gives ``{"n_params", "n_tokens"}`` of a published allocation at budgets C; ``where`` says
    where in the paper the parameter values are, per law; ``note`` is a caveat shown beside them; ``short`` is the
    label for table headers and legends.
    """

    key: str
    label: str
    short: str
    parameters: dict[str, dict[str, float]] = field(default_factory=dict)
    intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)
    exponents: tuple[tuple[str, tuple, tuple], ...] = ()
    headline_exponent: tuple[str, tuple[float, float]] | None = None
    allocation_points: tuple[tuple[float, float, float], ...] = ()
    allocation_line: Callable[[Any], dict[str, Any]] | None = None
    note: str = ""

    def parameters_for(self, law) -> dict[str, float]:
        """The paper's values of ``law``'s parameters (empty if it published none for this law)."""
        return self.parameters.get(law.name, {})

    def intervals_for(self, law) -> dict[str, tuple[float, float]]:
        return self.intervals.get(law.name, {})

    def where_for(self, law) -> str:
        """Where in the paper the values for ``law`` are ("" if not said)."""
        return self.where.get(law.name, "")


def _table2_rows(names) -> tuple:
    return tuple((f"Hoffmann Table 2: {label}", values["a"], values["b"])
                 for label, values in published.HOFFMANN_TABLE2.items() if label in names)


_EPOCH_A, _EPOCH_SE = published.EPOCH_A_EXPONENT
REFERENCES: dict[str, Reference] = {ref.key: ref for ref in (
    Reference(
        "hoffmann-2022", "Hoffmann et al. 2022 (approach 3)", "Hoffmann",
        parameters={"chinchilla": published.HOFFMANN_APPROACH3},
        where={"chinchilla": "approach 3"},
        exponents=_table2_rows(tuple(published.HOFFMANN_TABLE2)),
        headline_exponent=("Hoffmann et al.'s approach-3",
                           published.HOFFMANN_TABLE2["Approach 3 (parametric loss)"]["a"][1:]),
        allocation_points=tuple((c, n, d) for n, (c, d) in published.HOFFMANN_TABLE3.items()),
    ),
    Reference(
        "hoffmann-2022-isoflop", "Hoffmann et al. 2022 (approach 2)", "Hoffmann (approach 2)",
        exponents=_table2_rows(("Approach 2 (IsoFLOP profiles)",)),
    ),
    Reference(
        "epoch-2024", "Epoch AI refit (Besiroglu et al. 2024)", "Epoch AI",
        parameters={"chinchilla": published.EPOCH_ESTIMATE}, intervals={"chinchilla": published.EPOCH_CI95},
        where={"chinchilla": "estimate"},
        exponents=(("Epoch AI refit (estimate ± SE)", (_EPOCH_A, _EPOCH_A - _EPOCH_SE, _EPOCH_A + _EPOCH_SE),
                    (1 - _EPOCH_A, 1 - _EPOCH_A - _EPOCH_SE, 1 - _EPOCH_A + _EPOCH_SE)),),
    ),
    Reference(
        "kaplan-2020", "Kaplan et al. 2020", "Kaplan et al. 2020",
        parameters={law: values for law, (_, values) in published.KAPLAN_2020.items()},
        where={law: where for law, (where, _) in published.KAPLAN_2020.items()},
        exponents=(("Kaplan et al. 2020 (Table 6)", *(published.HOFFMANN_TABLE2["Kaplan et al. 2020"][k]
                                                       for k in ("a", "b"))),),
        allocation_line=published.kaplan_allocation,
        note=("Kaplan et al. fitted WebText2 with a 50257-token BPE, counted non-embedding parameters and measured "
              "compute in PF-days (1 PF-day = 8.64e19 FLOP; this package works in FLOP and shows the compute scales "
              "in PF-days too). Tokenizer and dataset differ here, so scales (N_c, D_c, C_c) compare loosely; "
              "exponents compare closely."),
    ),
)}


def declared(keys) -> list[Reference]:
    """The references named by ``keys``; an unknown key lists the valid ones."""
    unknown = [key for key in keys if key not in REFERENCES]
    if unknown:
        raise ValueError(f"unknown reference(s) {unknown}; valid: {', '.join(REFERENCES)}")
    return [REFERENCES[key] for key in keys]
