r"""Parameter-count conventions: Kaplan et al. count non-embedding parameters, Hoffmann et al. all of them.

For a decoder-only transformer with ``n_layer`` blocks of width ``d_model`` (feed-forward width 4 d_model), Kaplan's
count is :math:`N = 12\, n_{layer} d_{model}^2` (eq. 2.1, biases and layer norms neglected); the embeddings add
:math:`V d_{model}` for a tied input/output matrix, :math:`2 V d_{model}` for untied ones, and :math:`n_{ctx}
d_{model}` for learned positions. At a fixed aspect ratio :math:`r = d_{model} / n_{layer}`, :math:`d_{model} =
(r N / 12)^{1/3}`, so the embeddings grow only as :math:`N^{1/3}`: at small scale they are a large part of the total
and a law fitted in one convention has another exponent in the other. If :math:`N \propto C^a`, then

.. math:: \frac{d \log N_{total}}{d \log C} = a\, \frac{N + N_{emb}/3}{N + N_{emb}},

smaller than a where the embeddings matter and tending to a at scale.
"""

from __future__ import annotations

#: Kaplan et al.'s BPE vocabulary (GPT-2's) and context length.
KAPLAN_VOCAB = 50257
KAPLAN_CONTEXT = 1024


def non_embedding_parameters(n_layer, d_model):
    """Kaplan's N = 12 n_layer d_model^2 (attention 4 d^2 and feed-forward 8 d^2 per block)."""
    return 12.0 * n_layer * d_model**2


def embedding_parameters(d_model, vocab: int, *, tied: bool = True, n_ctx: int = 0):
    """V d_model (tied) or 2 V d_model (untied), plus n_ctx d_model for learned positions."""
    return (1 if tied else 2) * vocab * d_model + n_ctx * d_model


def width_at_aspect_ratio(non_embedding, aspect_ratio: float):
    """d_model of a model with ``non_embedding`` parameters and d_model / n_layer = ``aspect_ratio``."""
    return (aspect_ratio * non_embedding / 12.0) ** (1.0 / 3.0)


def total_from_non_embedding(non_embedding, *, vocab: int, aspect_ratio: float, tied: bool = True, n_ctx: int = 0):
    """Hoffmann's count (all parameters) of a model with Kaplan's count ``non_embedding`` (numpy or xarray)."""
    d_model = width_at_aspect_ratio(non_embedding, aspect_ratio)
    return non_embedding + embedding_parameters(d_model, vocab, tied=tied, n_ctx=n_ctx)


def recounted_exponent(a, non_embedding, *, vocab: int, aspect_ratio: float, tied: bool = True, n_ctx: int = 0):
    """The local exponent d log N_total / d log C of an allocation N_opt ∝ C^a in Kaplan's count, at the model size
    ``non_embedding``."""
    d_model = width_at_aspect_ratio(non_embedding, aspect_ratio)
    embeddings = embedding_parameters(d_model, vocab, tied=tied, n_ctx=n_ctx)
    return a * (non_embedding + embeddings / 3.0) / (non_embedding + embeddings)
