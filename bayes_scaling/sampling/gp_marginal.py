r"""The two matrix terms of the in-model GP's marginal likelihood and their gradient, in one PyTensor Op.

With :math:`s` the basis functions' spectral scales (M), :math:`v = \sigma^2`, :math:`a = \Phi^T r` (M) and the
Gram matrix :math:`G = \Phi^T \Phi` (M x M, data):

.. math::

    B = I + D G D / v, \quad D = \mathrm{diag}(s), \qquad
    \ell = \log|B|, \qquad q = w^T B^{-1} w, \quad w = s \odot a,

and, with :math:`u = B^{-1} w`,

.. math::

    \partial\ell/\partial s = \tfrac{2}{v} (B^{-1} \odot G)\, s, \quad
    \partial\ell/\partial v = -(M - \mathrm{tr}\, B^{-1}) / v,

    \partial q/\partial s = 2\, u \odot a - \tfrac{2}{v}\, u \odot G (s \odot u), \quad
    \partial q/\partial v = (s \odot u)^T G (s \odot u) / v^2, \quad
    \partial q/\partial a = 2\, u \odot s.

PyTensor's own graph of the same terms goes through a Cholesky factor, triangular solves and the Cholesky's
gradient (two more solves against 64 x 64 right-hand sides); this Op computes the factor once, inverts it by one
forward substitution and forms everything above from :math:`B^{-1}`. The whole log density and gradient of
Chinchilla's law with the GP inside on Epoch AI's 240 runs (64 basis functions, session 16): 84 us against 132
(``benchmarks/bench_gp_marginal.py``). First derivatives only (NUTS needs no more).
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, grad_undefined
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch import basic as numba_basic
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

#: Outputs: the two terms, then their gradients (used by :meth:`GPMarginalTerms.pullback` only).
OUTPUTS = ("logdet", "quadratic", "logdet_ds", "logdet_dv", "quadratic_ds", "quadratic_dv", "quadratic_da")


def marginal_terms(s, v, a, gram):
    """(log|B|, q, dlog|B|/ds, dlog|B|/dv, dq/ds, dq/dv, dq/da) with plain loops and matrix products: compiled by
    numba inside the sampler's log density, and run as is (slowly) elsewhere."""
    m = s.shape[0]
    b = np.empty((m, m))
    for i in range(m):
        for j in range(m):
            b[i, j] = s[i] * gram[i, j] * s[j] / v
        b[i, i] += 1.0
    factor = np.linalg.cholesky(b)
    logdet = 0.0
    inverse_factor = np.zeros((m, m))
    for i in range(m):  # L^{-1} row by row (forward substitution against the identity)
        logdet += 2.0 * np.log(factor[i, i])
        for k in range(i):
            lik = factor[i, k]
            for j in range(k + 1):
                inverse_factor[i, j] -= lik * inverse_factor[k, j]
        diagonal = 1.0 / factor[i, i]
        for j in range(i):
            inverse_factor[i, j] *= diagonal
        inverse_factor[i, i] = diagonal
    inverse = inverse_factor.T @ inverse_factor
    w = s * a
    u = inverse @ w
    su = s * u
    g_su = gram @ su
    trace = 0.0
    for i in range(m):
        trace += inverse[i, i]
    return (logdet, w @ u, 2.0 / v * ((inverse * gram) @ s), -(m - trace) / v,
            2.0 * u * a - 2.0 / v * u * g_su, (su @ g_su) / v**2, 2.0 * u * s)


class GPMarginalTerms(Op):
    """``(s, v, a, gram) -> log|B|, q`` (and their gradients as extra outputs); see the module's equations."""

    __props__ = ()

    def make_node(self, s, v, a, gram):
        s, v, a, gram = (pt.as_tensor_variable(x).astype("float64") for x in (s, v, a, gram))
        if (s.ndim, v.ndim, a.ndim, gram.ndim) != (1, 0, 1, 2):
            raise TypeError("GPMarginalTerms takes s (vector), v (scalar), a (vector) and gram (matrix)")
        outputs = [pt.dscalar(), pt.dscalar(), pt.dvector(), pt.dscalar(), pt.dvector(), pt.dscalar(), pt.dvector()]
        return Apply(self, [s, v, a, gram], outputs)

    def perform(self, node, inputs, output_storage):
        values = marginal_terms(*(np.asarray(x, dtype=np.float64) for x in inputs))
        for storage, value in zip(output_storage, values, strict=True):
            storage[0] = np.asarray(value, dtype=np.float64)

    def infer_shape(self, node, shapes):
        s_shape = shapes[0]
        return [(), (), s_shape, (), s_shape, (), s_shape]

    def pullback(self, inputs, outputs, output_grads):
        for name, grad in zip(OUTPUTS[2:], output_grads[2:], strict=True):
            if not isinstance(grad.type, DisconnectedType):
                raise NotImplementedError(f"GPMarginalTerms: no second derivatives (asked through {name})")
        g_logdet, g_quadratic = (pt.zeros(()) if isinstance(g.type, DisconnectedType) else g
                                 for g in output_grads[:2])
        _, _, logdet_ds, logdet_dv, quadratic_ds, quadratic_dv, quadratic_da = outputs
        return [g_logdet * logdet_ds + g_quadratic * quadratic_ds,
                g_logdet * logdet_dv + g_quadratic * quadratic_dv,
                g_quadratic * quadratic_da,
                grad_undefined(self, 3, inputs[3], "the Gram matrix is data")]


gp_marginal_terms = GPMarginalTerms()


@register_funcify_default_op_cache_key(GPMarginalTerms)
def _numba_gp_marginal_terms(op, node, **kwargs):
    kernel = numba_basic.numba_njit(marginal_terms)

    @numba_basic.numba_njit
    def terms(s, v, a, gram):
        logdet, quadratic, logdet_ds, logdet_dv, quadratic_ds, quadratic_dv, quadratic_da = kernel(s, v[()], a, gram)
        return (np.asarray(logdet), np.asarray(quadratic), logdet_ds, np.asarray(logdet_dv), quadratic_ds,
                np.asarray(quadratic_dv), quadratic_da)

    cache_version = 1
    return terms, cache_version
