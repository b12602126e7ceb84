"""The laws' expressions rebuilt to read their inputs' logs (sampling/data_logs.py): the same numbers, no power or
log of an input left."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.graph.traversal import ancestors
from pytensor.scalar import Log, Pow
from pytensor.tensor.elemwise import Elemwise

from bayes_scaling.laws import LAWS, get_law
from bayes_scaling.sampling.data_logs import input_data, log_name, read_input_logs

#: Inputs of every law, positive and spread over the decades the published runs span.
RNG = np.random.default_rng(0)
COLUMNS = {"n_params": 10 ** RNG.uniform(6, 10, 50), "n_tokens": 10 ** RNG.uniform(8, 11, 50),
           "unique_tokens": 10 ** RNG.uniform(7, 9, 50), "steps": 10 ** RNG.uniform(3, 5, 50)}
COLUMNS["compute"] = 6 * COLUMNS["n_params"] * COLUMNS["n_tokens"]


def _draws(law) -> dict[str, float]:
    """A typical value of each parameter (the prior's), jittered so nothing sits on a special value."""
    return {name: float(prior.typical()) * 1.07 for name, prior in law.default_priors.items()}


def _reads(output, variables, kind) -> bool:
    """Whether ``output`` applies the scalar op ``kind`` directly to one of ``variables``."""
    for variable in ancestors([output]):
        owner = variable.owner
        if owner is not None and isinstance(owner.op, Elemwise) and isinstance(owner.op.scalar_op, kind):
            if any(parent in variables for parent in owner.inputs[:1]):
                return True
    return False


@pytest.mark.parametrize("name", sorted(LAWS))
def test_same_loss_without_powers_of_inputs(name):
    law = get_law(name)
    data = input_data(law.inputs, COLUMNS)
    inputs = {key: pytensor.shared(data[key], name=key) for key in law.inputs}
    logs = {inputs[key]: pytensor.shared(data[log_name(key)], name=log_name(key)) for key in law.inputs}
    params = {key: pt.dscalar(key) for key in law.parameters}
    law_graph = pt.log(law.loss(**inputs, **params))
    rebuilt = read_input_logs(law_graph, logs)
    values = _draws(law)
    args = [values[key] for key in law.parameters]
    before = pytensor.function(list(params.values()), law_graph, on_unused_input="ignore")(*args)
    after = pytensor.function(list(params.values()), rebuilt, on_unused_input="ignore")(*args)
    np.testing.assert_allclose(after, before, rtol=1e-12)
    assert np.all(np.isfinite(after))
    assert not _reads(rebuilt, set(inputs.values()), Log)
    if _reads(law_graph, set(inputs.values()), Pow):
        assert not _reads(rebuilt, set(inputs.values()), Pow)


def test_gradient_unchanged():
    """The derivative in each parameter is the same through the logs (Chinchilla's law, where both terms change)."""
    law = get_law("chinchilla")
    data = input_data(law.inputs, COLUMNS)
    inputs = {key: pytensor.shared(data[key]) for key in law.inputs}
    logs = {inputs[key]: pytensor.shared(data[log_name(key)]) for key in law.inputs}
    params = {key: pt.dscalar(key) for key in law.parameters}
    total = pt.sum(pt.log(law.loss(**inputs, **params)))
    rebuilt = read_input_logs(total, logs)
    args = [_draws(law)[key] for key in law.parameters]
    grads = [pytensor.function(list(params.values()), pytensor.grad(out, list(params.values())))(*args)
             for out in (total, rebuilt)]
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10)


def test_input_data_holds_each_column_and_its_log():
    data = input_data(("n_params",), {"n_params": [1e6, 1e9]})
    np.testing.assert_array_equal(data["log_n_params"], np.log([1e6, 1e9]))
    assert set(data) == {"n_params", "log_n_params"}
