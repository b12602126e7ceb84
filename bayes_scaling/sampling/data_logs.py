"""Powers and logs of the runs' inputs read from their precomputed logs, so the log density does not take them again.

A law is written as it reads, ``A * N**-alpha`` or ``(C_c / C)**alpha_C``: evaluated per run and per gradient, each
power is a ``pow`` (a log and an exp inside, with its special cases) and its derivative in the exponent takes
``log N`` once more, although log N never changes while the sampler runs. :func:`read_input_logs` rebuilds the
law's expression with every such term in terms of ``log x``, held as data beside ``x``:

.. math::

    \\log x \\to \\ell_x,\\qquad x^y \\to e^{y \\ell_x},\\qquad (c / x)^y \\to e^{y (\\log c - \\ell_x)},\\qquad
    (x / c)^y \\to e^{y (\\ell_x - \\log c)}

(exact for x > 0, which every input of a law is: sizes, tokens, compute, steps). Everything else in the expression
is rebuilt unchanged. On Epoch AI's 240 runs a log density and gradient of Chinchilla's law and of Kaplan's L(N, D)
costs about 1.3x less (``benchmarks/bench_data_logs.py``, docs/performance.md); the IsoFLOP laws, written without a
power of an input, only read the logs of N and C."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

#: The name of the data holding the log of input ``name``.
LOG_PREFIX = "log_"


def log_name(name: str) -> str:
    """The data name of input ``name``'s log."""
    return f"{LOG_PREFIX}{name}"


def input_data(names, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The model data of the runs' inputs ``names``: each column and its log (see :func:`read_input_logs`)."""
    out = {}
    for name in names:
        values = np.asarray(columns[name], dtype=float)  # positive: the run table refuses any other
        out[name] = values
        out[log_name(name)] = np.log(values)
    return out


def read_input_logs(output, logs: Mapping):
    """``output`` (a PyTensor expression) rebuilt so that ``log(x)``, ``x**y``, ``(c / x)**y`` and ``(x / c)**y``
    of an input ``x`` read its log ``logs[x]`` instead (module docstring); ``logs`` maps each input variable to the
    variable holding its log. Nodes that do not depend on an input are kept as they are (a PyMC model's random
    variables stay the model's)."""
    import pytensor.tensor as pt
    from pytensor.scalar import Log, Pow, TrueDiv
    from pytensor.tensor.elemwise import Elemwise

    done: dict = {}

    def scalar_op(variable, kind):
        owner = variable.owner
        if owner is not None and isinstance(owner.op, Elemwise) and isinstance(owner.op.scalar_op, kind):
            return owner.inputs
        return None

    def log_of(variable):
        """The log of ``variable`` written with an input's log, or None if it is not of those forms."""
        if variable in logs:
            return logs[variable]
        parts = scalar_op(variable, TrueDiv)
        if parts is None:
            return None
        numerator, denominator = parts
        if denominator in logs:
            return pt.log(rebuild(numerator)) - logs[denominator]
        if numerator in logs:
            return logs[numerator] - pt.log(rebuild(denominator))
        return None

    def rebuild(variable):
        if variable in done:
            return done[variable]
        owner = variable.owner
        new = variable
        if owner is not None:
            log_parts = scalar_op(variable, Log)
            pow_parts = scalar_op(variable, Pow)
            if log_parts is not None and log_parts[0] in logs:
                new = logs[log_parts[0]]
            elif pow_parts is not None and (base_log := log_of(pow_parts[0])) is not None:
                new = pt.exp(rebuild(pow_parts[1]) * base_log)
            else:
                inputs = [rebuild(parent) for parent in owner.inputs]
                if any(a is not b for a, b in zip(inputs, owner.inputs, strict=True)):
                    new = owner.op.make_node(*inputs).outputs[variable.index]
        done[variable] = new
        return new

    return rebuild(output)
