"""LLM call counts and memory estimates of the real-thing page (lampkit.analysis.costs)."""

import pytest

from lampkit.analysis.costs import calls_table, llm_calls, weights_gib


def test_call_counts_by_hand():
    calls = llm_calls(train=10, dev=3, test=2, pool=6, l=16)
    assert calls == {"ROPG feedback (train x l)": 160, "RSPG feedback (train x pool)": 60,
                     "results (dev+test x pool+RRF)": 35, "total": 255}
    table = calls_table({"lamp1": {"train": 10, "dev": 3, "test": 2}, "lamp2": {"train": 1, "dev": 0, "test": 0}})
    assert table.loc["lamp1", "total"] == 255 and table.loc["lamp2", "total"] == 16 + 6


def test_bad_counts_are_refused():
    with pytest.raises(ValueError):
        llm_calls(-1, 0, 0)
    with pytest.raises(ValueError):
        llm_calls(1, 1, 1, pool=0)


def test_weights_memory():
    assert weights_gib(2**30) == 2.0
    assert weights_gib(2**30, bytes_per_parameter=4) == 4.0
