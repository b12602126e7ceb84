"""Scaling laws, one small file each, and the registry that maps names to them."""

from __future__ import annotations

from bayes_scaling.laws.base import INPUT_UNITS, Law, LawNotApplicable, PowerTerm
from bayes_scaling.laws.chinchilla import ChinchillaLaw
from bayes_scaling.laws.isoflop import IsoFlopLaw
from bayes_scaling.laws.isoflop_power import IsoFlopPowerLaw
from bayes_scaling.laws.kaplan_compute import KaplanComputeLaw
from bayes_scaling.laws.kaplan_data import KaplanDataLaw
from bayes_scaling.laws.kaplan_joint import KaplanJointLaw
from bayes_scaling.laws.kaplan_params import KaplanParamsLaw

LAWS: dict[str, type[Law]] = {law.name: law for law in (
    ChinchillaLaw, KaplanParamsLaw, KaplanDataLaw, KaplanComputeLaw, KaplanJointLaw, IsoFlopLaw, IsoFlopPowerLaw,
)}


def get_law(name: str) -> Law:
    """The law registered under ``name``; an unknown name lists the valid ones."""
    try:
        return LAWS[name]()
    except KeyError:
        raise ValueError(f"unknown law {name!r}; valid: {', '.join(sorted(LAWS))}") from None


__all__ = ["INPUT_UNITS", "LAWS", "Law", "LawNotApplicable", "PowerTerm", "get_law"]
