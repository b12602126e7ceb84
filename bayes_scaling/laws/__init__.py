"""Scaling laws, one small file each. Every module in this package is imported here, and each law registers itself
under its name when its class is defined (:meth:`~bayes_scaling.laws.base.Law.__init_subclass__`): a new law is a
new file."""

from __future__ import annotations

import importlib
import pkgutil

from bayes_scaling.laws.base import INPUT_UNITS, LAWS, Law, LawNotApplicable, PowerTerm

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def get_law(name: str) -> Law:
    """The law registered under ``name``; an unknown name lists the valid ones."""
    try:
        return LAWS[name]()
    except KeyError:
        raise ValueError(f"unknown law {name!r}; valid: {', '.join(sorted(LAWS))}") from None


__all__ = ["INPUT_UNITS", "LAWS", "Law", "LawNotApplicable", "PowerTerm", "get_law"]
