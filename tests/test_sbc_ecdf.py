"""SBC ranks are judged by their PIT-ECDF against ArviZ's simultaneous band: uniform ranks stay inside it, ranks
of an over- or under-dispersed posterior (or a biased one) leave it."""

import numpy as np
import pytest

from bayes_scaling.validation.sbc import RANK_DRAWS, rank_ecdf


@pytest.mark.parametrize(("name", "ranks", "inside"), [
    ("uniform", np.random.default_rng(1).integers(0, RANK_DRAWS + 1, 200), True),
    ("biased (truth usually low)", np.random.default_rng(2).integers(0, RANK_DRAWS // 2, 200), False),
    ("posterior too narrow (U-shaped)",
     np.concatenate([np.full(60, 0), np.full(60, RANK_DRAWS),
                     np.random.default_rng(3).integers(0, RANK_DRAWS + 1, 80)]), False),
    ("posterior too wide (peaked)",
     np.random.default_rng(4).normal(RANK_DRAWS / 2, 0.075 * RANK_DRAWS, 200).clip(0, RANK_DRAWS).astype(int),
     False),
])
def test_rank_ecdf_band(name, ranks, inside):
    found = rank_ecdf(ranks, seed=0)
    assert found["inside"] is inside, name
    assert found["x"][0] == 0.0 and found["x"][-1] == 1.0 and len(found["ecdf"]) == len(found["lower"])
    assert all(lo <= hi for lo, hi in zip(found["lower"], found["upper"], strict=True))


def test_rank_ecdf_is_seeded():
    ranks = np.random.default_rng(5).integers(0, 200, 50)
    assert rank_ecdf(ranks, seed=3) == rank_ecdf(ranks, seed=3)


def test_ranks_saved_among_another_number_of_draws_are_judged_on_their_own_scale():
    """Results saved before session 14 counted ranks among 199 draws: read with that number, uniform ranks stay
    inside the band (read as ranks among today's 99 they would look biased)."""
    ranks = np.random.default_rng(6).integers(0, 200, 200)
    assert rank_ecdf(ranks, seed=0, rank_draws=199)["inside"]
    assert not rank_ecdf(ranks, seed=0, rank_draws=RANK_DRAWS)["inside"]
