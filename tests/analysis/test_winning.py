"""Winning rates (ties all win) and the retrieval-matters checks on constructed feedback."""

import numpy as np
import pandas as pd
import pytest

from lampkit.analysis.winning import retrieval_matters, winners, winning_rates


def frame(task_column, values, retrievers=("none", "bm25", "recency")):
    rows = []
    for i, per in enumerate(values):
        for r, v in zip(retrievers, per):
            rows.append({"example_id": f"q{i}", "retriever": r, task_column: v})
    return pd.DataFrame(rows)


def test_winners_ties_all_win_and_direction():
    m = np.array([[1, 1, 0], [0, 0, 0], [0.2, 0.5, 0.1]])
    assert winners(m).tolist() == [[True, True, False], [True, True, True], [False, True, False]]
    assert winners(m, higher_is_better=False)[2].tolist() == [False, False, True]


def test_relative_winning_rate_sums_to_one():
    df = frame("correct", [[1, 1, 0], [0, 0, 0], [0, 1, 0], [0, 0, 1]])
    rates = winning_rates(df, "lamp2", ["none", "bm25", "recency"])
    assert rates["wins"].tolist() == [2, 3, 2]
    np.testing.assert_allclose(rates["relative_rate"], [2 / 7, 3 / 7, 2 / 7])
    np.testing.assert_allclose(rates["win_share"], [0.5, 0.75, 0.5])


def test_retrieval_matters_for_errors_lower_is_better():
    # LaMP-3 main metric is MAE (abs_error): lower wins
    df = frame("abs_error", [[1, 0, 0], [1, 0, 1], [0, 1, 1], [2, 1, 0], [1, 1, 1]])
    res = retrieval_matters(df, "lamp3", ["none", "bm25", "recency"])
    assert res["no_personalization"] == pytest.approx(1.0)
    assert res["best_single"] == pytest.approx(0.6) and res["best_retriever"] == "bm25"
    assert res["oracle"] == pytest.approx((0 + 0 + 0 + 0 + 1) / 5)
    assert res["differing_share"] == pytest.approx(0.8)
    # wins: none 2 (rows 2, 4), bm25 3 (rows 0, 1, 4), recency 3 (rows 0, 3, 4) -> max 3/8
    assert res["max_relative_rate"] == pytest.approx(3 / 8)
    assert res["holds"]


def test_retrieval_matters_fails_when_one_retriever_dominates():
    df = frame("correct", [[0, 1, 0]] * 6 + [[0, 1, 1]] * 2)
    res = retrieval_matters(df, "lamp1", ["none", "bm25", "recency"])
    assert res["max_relative_rate"] > 0.4 and not res["holds"]


def test_retrieval_matters_summary_names_the_failed_conditions():
    from lampkit.analysis.tables import retrieval_matters_summary
    from lampkit.analysis.winning import failed_conditions

    ok = {"task": "lamp2", "metric": "accuracy", "no_personalization": 0.2, "best_single": 0.36,
          "best_retriever": "dense", "oracle": 0.58, "margin": 0.16, "differing_share": 0.52,
          "max_relative_rate": 0.22, "holds": True}
    bad = dict(ok, task="lamp1", best_single=0.61, oracle=0.61, margin=0.01, differing_share=0.04,
               max_relative_rate=0.45, holds=False)
    assert failed_conditions(ok) == []
    failed = failed_conditions(bad)
    assert len(failed) == 4 and "0.010 only" in failed[0] and "4.0% of inputs" in failed[2] and "45.0%" in failed[3]
    text = retrieval_matters_summary(pd.DataFrame([ok, bad]))
    assert "lamp2** (accuracy)" in text and "the condition holds." in text
    assert "does **not** hold (the best single retriever beats no personalization by 0.010 only" in text
