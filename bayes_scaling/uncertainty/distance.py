r"""How far a point lies beyond the data, in decades of compute: the axis the extrapolation drift grows along.

.. math::

    d(x) = \max\big(0,\ \log_{10} c(x) - \log_{10} c_{max}\big)

with :math:`c` the compute of a point (``compute``, or N·D for a law of N and D: the same up to the factor 6; N or D
for a law of one of them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayes_scaling.laws.inputs import COMPUTE_INPUTS


def log10_scale(inputs: dict[str, Any]) -> np.ndarray:
    """log10 of the scale of each point, the axis the drift grows along: ``compute`` if given, else the product of
    the sizes given (N·D for a law of N and D, N or D alone for a law of one)."""
    names = ["compute"] if "compute" in inputs else [name for name in COMPUTE_INPUTS if name in inputs]
    if not names:
        raise ValueError(f"no compute, n_params or n_tokens among the inputs {sorted(inputs)}")
    return sum(np.log10(np.asarray(inputs[name], dtype=float)).ravel() for name in names)


def beyond(inputs: dict[str, Any], reference: float) -> np.ndarray:
    """Decades of compute beyond ``reference`` (log10 of the data's largest), 0 inside the data."""
    return np.maximum(log10_scale(inputs) - reference, 0.0)


def largest_scale(inputs: dict[str, Any]) -> float:
    """log10 of the largest scale (:func:`log10_scale`) among points: where "beyond the data" starts."""
    return float(np.max(log10_scale(inputs)))
