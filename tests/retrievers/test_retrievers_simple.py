"""No personalization, recency and RRF on hand-built profiles."""

import numpy as np

from lampkit.data.layout import Example
from lampkit.retrievers.base import order_by_scores
from lampkit.retrievers.rrf import RRF, rrf_scores
from lampkit.retrievers.simple import NoPersonalization, Recency
from lampkit.tasks import get_task

T = get_task("lamp7")


def ex(dates):
    return Example(id="q", input=T.make_input(text="x"), profile=[
        {"id": f"p{i}", "date": d, "text": f"t{i}"} for i, d in enumerate(dates)])


def test_no_personalization_retrieves_nothing_and_scores_zero():
    r = NoPersonalization().rank(T, ex(["2020-01-01", "2021-01-01"]))
    assert r.order.tolist() == [] and r.scores.tolist() == [0.0, 0.0]


def test_recency_newest_first_with_reciprocal_rank_scores():
    r = Recency().rank(T, ex(["2019-05-01", "2021-01-01", "2020", "2020-06-30"]))
    assert r.order.tolist() == [1, 3, 2, 0]
    np.testing.assert_allclose(r.scores, [1 / 4, 1, 1 / 3, 1 / 2])


def test_recency_ties_like_the_official_code():
    # stable ascending sort by date, read from the end: the later profile position comes first
    r = Recency().rank(T, ex(["2020-01-01", "2020-01-01", "2019-01-01"]))
    assert r.order.tolist() == [1, 0, 2]


def test_order_by_scores_is_stable_on_ties():
    assert order_by_scores(np.array([1.0, 3.0, 3.0, 2.0])).tolist() == [1, 2, 3, 0]


def test_rrf_scores_by_hand():
    s = rrf_scores([np.array([0, 1, 2]), np.array([2, 0])], n_items=3, k=60)
    np.testing.assert_allclose(s, [1 / 61 + 1 / 62, 1 / 62, 1 / 63 + 1 / 61])


def test_rrf_fuses_retrievers():
    e = ex(["2019-01-01", "2021-01-01", "2020-01-01"])
    fused = RRF([Recency(), Recency()], k=60).rank(T, e)
    assert fused.order.tolist() == [1, 2, 0]
    assert [r.order.tolist() for r in RRF([Recency()]).rank_many(T, [e, e])] == [[1, 2, 0]] * 2
