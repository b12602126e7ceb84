"""The in-model GP's fused marginal-likelihood Op: its terms are log|B| and w^T B^{-1} w, its gradients agree with
finite differences, and compiled by numba (as nutpie runs it) it gives the value and gradient of PyTensor's own
Cholesky graph of the same density."""

import numpy as np
import pytest

from bayes_scaling.sampling.gp_marginal import gp_marginal_terms, marginal_terms

M, N = 16, 40


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(N, M))
    return {"s": rng.uniform(0.001, 0.05, M), "v": 2e-5, "a": rng.normal(size=M), "gram": basis.T @ basis}


def _direct(s, v, a, gram):
    b = np.eye(M) + s[:, None] * gram * s[None, :] / v
    return np.linalg.slogdet(b)[1], (s * a) @ np.linalg.solve(b, s * a)


def test_terms_are_the_log_determinant_and_the_quadratic_form(case):
    logdet, quadratic, *_ = marginal_terms(**case)
    expected = _direct(**case)
    assert logdet == pytest.approx(expected[0], rel=1e-12)
    assert quadratic == pytest.approx(expected[1], rel=1e-10)


def test_gradients_agree_with_central_differences(case):
    _, _, logdet_ds, logdet_dv, quadratic_ds, quadratic_dv, quadratic_da = marginal_terms(**case)
    for j in (0, 7, M - 1):
        for name, analytic in (("s", (logdet_ds[j], quadratic_ds[j])), ("a", (None, quadratic_da[j]))):
            step = 1e-7 * max(abs(case[name][j]), 1e-3)
            up, down = ({**case, name: case[name] + sign * step * np.eye(M)[j]} for sign in (1, -1))
            numeric = (np.subtract(_direct(**up), _direct(**down))) / (2 * step)
            for value, expected in zip(analytic, numeric, strict=True):
                if value is not None:
                    assert value == pytest.approx(expected, rel=1e-5, abs=1e-12)
    step = 1e-6 * case["v"]
    numeric = np.subtract(_direct(**{**case, "v": case["v"] + step}), _direct(**{**case, "v": case["v"] - step}))
    assert logdet_dv == pytest.approx(numeric[0] / (2 * step), rel=1e-5)
    assert quadratic_dv == pytest.approx(numeric[1] / (2 * step), rel=1e-5)


def test_numba_value_and_gradient_equal_pytensors_cholesky_graph(case):
    """The log density term and its gradient, compiled by numba as the sampler compiles them, against the same
    terms written with PyTensor's Cholesky and triangular solve (the graph this Op replaced)."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.tensor.linalg import cholesky, solve_triangular

    s, v, a = pt.dvector("s"), pt.dscalar("v"), pt.dvector("a")
    gram = pt.constant(case["gram"])
    logdet, quadratic = gp_marginal_terms(s, v, a, gram)[:2]
    ours = logdet - quadratic / v**2
    factor = cholesky(pt.eye(M) + s[:, None] * gram * s[None, :] / v, lower=True)
    z = solve_triangular(factor, s * a, lower=True)
    theirs = 2 * pt.sum(pt.log(pt.diag(factor))) - pt.sum(z**2) / v**2
    with pytensor.config.change_flags(numba__fastmath=False):
        f_ours, f_theirs = (pytensor.function([s, v, a], [out, *pytensor.grad(out, [s, v, a])], mode="NUMBA")
                            for out in (ours, theirs))
    rng = np.random.default_rng(1)
    for _ in range(5):
        point = (case["s"] * rng.uniform(0.5, 2, M), case["v"] * rng.uniform(0.5, 2), rng.normal(size=M))
        for mine, reference in zip(f_ours(*point), f_theirs(*point), strict=True):
            np.testing.assert_allclose(mine, reference, rtol=1e-8, atol=1e-10 * np.max(np.abs(reference)))
