"""Porian et al. 2024's ladder from Kaplan's setup to a Chinchilla-like one, read off the fits of a report: for each
dataset, the fit of each rung's configuration beside Porian et al.'s own a."""

from __future__ import annotations

from bayes_scaling.study.published import PORIAN_LADDER

#: The law whose fits form the ladder: the IsoFLOP model, as Porian et al. fitted their profiles.
LADDER_LAW = "isoflop"


def porian_ladder(fits) -> dict[str, list]:
    """``{dataset: [(step, fit or None, Porian's a or None)]}`` from the fits of :data:`LADDER_LAW` to Porian's
    configurations among ``fits`` (a mapping of name to fit)."""
    found: dict[str, dict] = {}
    for fit in fits.values():
        config = fit.attr_json("data_source").get("configuration") or {}
        if fit.law.name != LADDER_LAW or "dataset" not in config:
            continue
        for step, _, fields in PORIAN_LADDER:
            if all(config.get(k) == v for k, v in fields.items()):
                found.setdefault(config["dataset"], {})[step] = fit
    ladder = {}
    for dataset, by_step in sorted(found.items(), reverse=True):
        rungs = []
        for step, _, _ in PORIAN_LADDER:
            fit = by_step.get(step)
            porian = None if fit is None else fit.attr_json("data_source")["configuration"].get("published_a")
            rungs.append((step, fit, porian))
        ladder[dataset] = rungs
    return ladder
