"""QPP predictors against hand-computed values on small fixed score lists, and the choice among a pool."""

import math

import numpy as np
import pytest

from lampkit.rspg.qpp import nqc, qpp_choices, qpp_scores, qpp_select, sigma_max, sigma_x, wig
from lampkit.retrievers.base import Ranking, order_by_scores


def ranking(scores):
    s = np.asarray(scores, dtype=np.float64)
    return Ranking(order_by_scores(s), s)


# --- WIG -----------------------------------------------------------------------------------

def test_wig_hand_computed_in_any_order():
    # sorted 4 3 2 1 0, s_D = 2, top-4 deviations 2 1 0 -1 -> mean 0.5; sqrt(4) = 2
    assert wig(np.array([3, 1, 2, 0, 4]), query_length=4) == pytest.approx(0.25)
    assert wig(np.array([4, 3, 2, 1, 0]), query_length=4) == pytest.approx(0.25)
    # k = 2: deviations 2 1 -> 1.5; query of 9 tokens -> / 3
    assert wig(np.array([0, 1, 2, 3, 4]), query_length=9, k=2) == pytest.approx(0.5)


def test_wig_k_larger_than_profile_uses_all_items():
    # every item is in the top-k: deviations from the mean average to 0
    assert wig(np.array([1.0, 3.0]), query_length=1, k=4) == pytest.approx(0.0)
    assert wig(np.array([1.0, 3.0]), query_length=1, k=1) == pytest.approx(1.0)


def test_wig_ties_zero_mean_and_empty():
    # 2 2 2 2 0: s_D = 1.6, each of the top 4 is 0.4 above it
    assert wig(np.array([2, 0, 2, 2, 2]), query_length=1) == pytest.approx(0.4)
    # zero mean: sorted 1 0 -1, top-2 mean 0.5
    assert wig(np.array([-1, 1, 0]), query_length=1, k=2) == pytest.approx(0.5)
    assert wig(np.zeros(5), query_length=3) == 0.0
    assert wig(np.zeros(0), query_length=3) == 0.0
    with pytest.raises(ValueError):
        wig(np.ones(3), query_length=0)
    with pytest.raises(ValueError):
        wig(np.ones(3), query_length=2, k=0)


# --- NQC -----------------------------------------------------------------------------------

def test_nqc_hand_computed():
    # top-4 of 4 3 2 1 0 is 4 3 2 1: population variance 1.25; s_D = 2
    assert nqc(np.array([0, 4, 1, 3, 2])) == pytest.approx(math.sqrt(1.25) / 2)
    # negative scores: |s_D| = 2; top-2 -1 -2 -> std 0.5
    assert nqc(np.array([-1, -2, -3]), k=2) == pytest.approx(0.25)


def test_nqc_k_larger_than_profile_ties_and_zero_mean():
    # both items are the top-k: std of 3 1 is 1, s_D = 2
    assert nqc(np.array([1.0, 3.0]), k=4) == pytest.approx(0.5)
    # tied top-4 -> no spread
    assert nqc(np.array([2, 2, 0, 2, 2])) == 0.0
    # s_D = 0 -> defined as 0.0 (no personalization scores all zeros)
    assert nqc(np.array([1.0, -1.0, 0.0])) == 0.0
    assert nqc(np.zeros(4)) == 0.0
    assert nqc(np.zeros(0)) == 0.0


# --- sigma_max -----------------------------------------------------------------------------

def test_sigma_max_hand_computed():
    # prefixes of 4 3 2 1 0: stds 0.5, sqrt(2/3), sqrt(1.25), sqrt(2): the whole list wins
    assert sigma_max(np.array([1, 4, 0, 3, 2])) == pytest.approx(math.sqrt(2))
    # 10 0 0 0 0: prefix of two has std 5, the whole list only 4
    assert sigma_max(np.array([0, 0, 10, 0, 0])) == pytest.approx(5.0)


def test_sigma_max_edge_cases():
    assert sigma_max(np.array([3.0])) == 0.0
    assert sigma_max(np.zeros(0)) == 0.0
    assert sigma_max(np.full(4, 7.0)) == 0.0
    # ties at the top: prefix 5 5 has std 0, 5 5 1 has sqrt(32/9), 5 5 1 1 has 2
    assert sigma_max(np.array([1, 5, 1, 5])) == pytest.approx(2.0)


def test_sigma_max_matches_brute_force():
    rng = np.random.default_rng(3)
    for n in (2, 3, 7, 50):
        s = rng.normal(100.0, 0.01, size=n)  # large offset: the running sums must not cancel
        ranked = np.sort(s)[::-1]
        expected = max(np.std(ranked[:j]) for j in range(2, n + 1))
        assert sigma_max(s) == pytest.approx(expected, rel=1e-7)


# --- sigma_x -------------------------------------------------------------------------------

def test_sigma_x_hand_computed():
    # threshold 5 keeps 10 6 5 (the tie at 5 included): mean 7, variance 14/3
    assert sigma_x(np.array([4, 10, 1, 5, 6])) == pytest.approx(math.sqrt(14 / 3))
    # x = 0.7 -> threshold 7 keeps only 10
    assert sigma_x(np.array([4, 10, 1, 5, 6]), x=0.7) == 0.0
    # x = 0 keeps every non-negative score: 10 6 5 4 1
    assert sigma_x(np.array([4, 10, 1, 5, 6]), x=0.0) == pytest.approx(np.std([10, 6, 5, 4, 1]))
    # tied top: 4 4 kept, 1 dropped
    assert sigma_x(np.array([4, 1, 4])) == 0.0


def test_sigma_x_non_positive_top_score():
    assert sigma_x(np.zeros(4)) == 0.0
    assert sigma_x(np.array([-1.0, -3.0, -2.0])) == 0.0
    assert sigma_x(np.zeros(0)) == 0.0
    with pytest.raises(ValueError):
        sigma_x(np.ones(3), x=1.5)


def test_recency_reciprocal_rank_scores():
    s = 1.0 / np.arange(1, 6)  # 1, 1/2, ..., 1/5
    mean = s.mean()
    assert wig(s, query_length=1) == pytest.approx(np.mean(s[:4] - mean))
    # 1 and 1/2 are at least half of s_1
    assert sigma_x(s) == pytest.approx(0.25)


# --- choosing a retriever --------------------------------------------------------------------

def test_qpp_select_picks_highest_prediction():
    pool = {"none": ranking(np.zeros(4)), "recency": ranking(1.0 / np.arange(1, 5)),
            "bm25": ranking([0.0, 9.0, 0.0, 0.0])}
    scores = qpp_scores(pool, query_length=4, predictor="wig", k=1)
    assert list(scores) == ["none", "recency", "bm25"]
    assert scores["none"] == 0.0
    assert scores["bm25"] == pytest.approx((9 - 2.25) / 2)
    assert qpp_select(pool, 4, "wig", k=1) == "bm25"
    # sigma_x: bm25 keeps only 9 (std 0); recency keeps 1 and 1/2 (std 0.25)
    assert qpp_select(pool, 4, "sigma_x", x=0.5) == "recency"


def test_qpp_select_ties_go_to_pool_order():
    a, b = ranking([1.0, 0.0, 0.0]), ranking([0.0, 0.0, 1.0])  # same scores, other items
    assert qpp_select({"a": a, "b": b}, 2, "nqc") == "a"
    assert qpp_select({"b": b, "a": a}, 2, "nqc") == "b"
    # constant scores predict 0 everywhere: no personalization, first in the pool, wins the tie
    flat = ranking(np.ones(3))
    assert qpp_select({"none": ranking(np.zeros(3)), "flat": flat}, 2, "sigma_max") == "none"
    assert qpp_select({"flat": flat, "none": ranking(np.zeros(3))}, 2, "sigma_max") == "flat"


def test_qpp_choices_and_bad_input():
    pool = {"none": [ranking(np.zeros(2)), ranking(np.zeros(3))],
            "bm25": [ranking([0.0, 0.0]), ranking([3.0, 0.0, 0.0])]}
    assert qpp_choices(pool, [1, 1], "wig", k=1).tolist() == [0, 1]
    # with k >= the profile size every deviation from the mean cancels: WIG is 0 for all, first wins
    assert qpp_choices(pool, [1, 1], "wig").tolist() == [0, 0]
    with pytest.raises(ValueError):
        qpp_choices(pool, [1], "wig")
    with pytest.raises(ValueError):
        qpp_select({"none": ranking(np.zeros(2))}, 1, "clarity")
    with pytest.raises(ValueError):
        qpp_select({}, 1, "wig")
