"""How numbers are written for people, the same on the command line and the pages: three significant figures,
counts with a suffix (``70.6B``), and an interval's bounds with the same decimals as its median (``1.95 [1.90,
2.00]``, not ``1.95 [1.9, 2]``)."""

from __future__ import annotations

import math

#: Suffixes of counts (parameters, tokens).
SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))
#: Plain decimals are used between these magnitudes; outside them, scientific notation.
PLAIN_RANGE = (1e-3, 1e5)


def fmt(value: float | None, digits: int = 4) -> str:
    """A number with ``digits`` significant figures (``–`` for missing)."""
    if value is None:
        return "–"
    return f"{value:.{digits}g}"


def count(value: float | None, digits: int = 3) -> str:
    """A parameter or token count with a suffix: ``70.6B``, ``1.41T`` (``–`` for missing)."""
    if value is None:
        return "–"
    for scale, suffix in SUFFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"


def _decimals(reference: float, digits: int) -> int | None:
    """Decimals that give ``reference`` ``digits`` significant figures, or None where scientific notation reads
    better (outside :data:`PLAIN_RANGE`)."""
    size = abs(reference)
    if size == 0 or not PLAIN_RANGE[0] <= size < PLAIN_RANGE[1]:
        return None
    return max(0, digits - 1 - math.floor(math.log10(size)))


def same_decimals(values: list[float | None], digits: int = 3) -> list[str]:
    """The numbers written with the decimals the first needs for ``digits`` significant figures (scientific
    notation with ``digits`` figures outside :data:`PLAIN_RANGE`); ``–`` for missing."""
    reference = next((v for v in values if v is not None), None)
    places = None if reference is None else _decimals(reference, digits)
    if places is None:
        return [fmt(v, digits) if v is None or not math.isfinite(v) else f"{v:.{digits - 1}e}" for v in values]
    return ["–" if v is None else f"{v:.{places}f}" for v in values]


def interval_text(s: dict, digits: int = 3, style=None) -> str:
    """``median [lower, upper]`` from a planning summary dict; ``style`` (e.g. :func:`count`) formats each number,
    by default the bounds take the median's decimals."""
    if s["median"] is None:
        return "unreachable"
    if style is None or style is fmt:
        median, lower, upper = same_decimals([s["median"], s["lower"], s["upper"]], digits)
    else:
        median, lower, upper = (style(s[key], digits) for key in ("median", "lower", "upper"))
    return f"{median} [{lower}, {upper}]"
