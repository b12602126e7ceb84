import numpy as np
import pytest

from bayes_scaling.study.param_count import (
    non_embedding_parameters,
    recounted_exponent,
    total_from_non_embedding,
    width_at_aspect_ratio,
)


def test_gpt2_small_counts():
    """GPT-2 small (12 layers, d_model 768, tied 50257-token embedding, 1024 positions): 85M non-embedding,
    about 124M in all."""
    n = non_embedding_parameters(12, 768)
    assert n == pytest.approx(84.9e6, rel=1e-3)
    total = total_from_non_embedding(n, vocab=50257, aspect_ratio=768 / 12, tied=True, n_ctx=1024)
    assert total == pytest.approx(124.4e6, rel=0.01)
    assert width_at_aspect_ratio(n, 64) == pytest.approx(768)


def test_recounted_exponent_matches_a_numerical_derivative():
    a, n0 = 0.73, 1e-6
    def total(c):
        return total_from_non_embedding(n0 * c**a, vocab=50257, aspect_ratio=64, tied=False)

    for c in (1e17, 1e20, 1e25):
        step = 1e-4
        numeric = (np.log(total(c * np.exp(step))) - np.log(total(c * np.exp(-step)))) / (2 * step)
        assert recounted_exponent(a, n0 * c**a, vocab=50257, aspect_ratio=64, tied=False) == pytest.approx(numeric,
                                                                                                          rel=1e-6)
    small = recounted_exponent(a, 1e6, vocab=50257, aspect_ratio=64)
    large = recounted_exponent(a, 1e12, vocab=50257, aspect_ratio=64)
    assert small < large < a and large == pytest.approx(a, abs=0.01)
