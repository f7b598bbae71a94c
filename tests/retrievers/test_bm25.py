"""BM25 by hand: scores of a 3-document corpus, ties, empty inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lampkit.retrievers.bm25 import BM25Scorer, bm25_scores, rank, tokenize

# N = 3 documents of lengths 2, 3, 1 (avgdl 2); "a" is in 2 of 3 documents, b, c, d in one each.
CORPUS = [["a", "b"], ["a", "c", "c"], ["d"]]


def test_three_document_corpus_by_hand():
    # idf(b) = idf(c) = idf(d) = log(2.5) - log(1.5) = log(5/3); idf(a) = log(1.5) - log(2.5) < 0,
    # so a gets epsilon * mean idf = 0.25 * (3 log(5/3) - log(5/3)) / 4 = log(5/3) / 8.
    # Length norms k1 * (1 - b + b * len / avgdl): 1.5, 2.0625, 0.9375.
    # doc 0: a once -> idf(a) * 2.5 / (1 + 1.5) = idf(a)
    # doc 1: a once -> idf(a) * 2.5 / 3.0625 = idf(a) * 40/49; c twice -> log(5/3) * 5 / 4.0625 = log(5/3) * 16/13
    # doc 2: nothing; "z" is in no document and adds nothing.
    unit = math.log(5 / 3)
    expected = [unit / 8, unit / 8 * 40 / 49 + unit * 16 / 13, 0.0]
    np.testing.assert_allclose(bm25_scores(CORPUS, ["a", "c", "z"]), expected, rtol=1e-12)
    assert rank(bm25_scores(CORPUS, ["a", "c", "z"])).tolist() == [1, 0, 2]


def test_parameters_change_the_hand_computed_value():
    # k1 = 1, b = 0 (no length norm), epsilon = 0.5: doc 1 scores idf(a) * 2/2 + log(5/3) * 4/3.
    unit = math.log(5 / 3)
    got = bm25_scores(CORPUS, ["a", "c"], k1=1.0, b=0.0, epsilon=0.5)
    np.testing.assert_allclose(got, [unit / 4, unit / 4 + unit * 4 / 3, 0.0], rtol=1e-12)


def test_repeated_query_token_counts_each_time():
    once = bm25_scores(CORPUS, ["c"])
    np.testing.assert_array_equal(bm25_scores(CORPUS, ["c", "c"]), 2 * once)
    assert once[1] > 0


def test_query_order_does_not_matter_beyond_rounding():
    np.testing.assert_allclose(bm25_scores(CORPUS, ["a", "c", "d"]), bm25_scores(CORPUS, ["d", "c", "a"]),
                               rtol=1e-15)


def test_rank_descending_with_ties_to_the_lower_index():
    assert rank(np.array([1.0, 3.0, 1.0, 3.0, 2.0])).tolist() == [1, 3, 4, 0, 2]
    assert rank(np.zeros(4)).tolist() == [0, 1, 2, 3]
    assert rank(np.array([])).tolist() == []
    scores = np.random.default_rng(0).integers(0, 4, size=300).astype(float)  # many ties
    assert rank(scores).tolist() == sorted(range(300), key=lambda i: (-scores[i], i))


def test_identical_documents_tie_and_keep_profile_order():
    corpus = [["y"], ["x", "q"], ["y"], ["x", "q"], ["z"]]
    scores = bm25_scores(corpus, ["x"])
    assert scores[1] == scores[3] > scores[0] == scores[2] == scores[4] == 0
    assert rank(scores).tolist() == [1, 3, 0, 2, 4]


def test_empty_query_gives_zeros():
    got = bm25_scores(CORPUS, [])
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(BM25Scorer().score(["a b", "c"], "   "), [0.0, 0.0])


def test_empty_corpus_and_empty_documents():
    empty = bm25_scores([], ["a"])
    assert empty.shape == (0,) and empty.dtype == np.float64
    np.testing.assert_array_equal(bm25_scores([[], [], []], ["a"]), [0.0, 0.0, 0.0])
    with_empty = bm25_scores([["a"], [], ["b"]], ["a"])
    assert with_empty[0] > 0 and with_empty[1] == with_empty[2] == 0


def test_query_must_be_tokens():
    with pytest.raises(TypeError, match="tokenize"):
        bm25_scores(CORPUS, "a c")


def test_tokenize_splits_on_whitespace_and_keeps_case():
    assert tokenize(" The  cat\tsat\non\u00a0Mat ") == ["The", "cat", "sat", "on", "Mat"]
    assert tokenize("") == []


def test_scorer_tokenises_and_does_not_lowercase():
    scorer = BM25Scorer()
    texts = ["a b", "a c c", "d"]
    np.testing.assert_array_equal(scorer.score(texts, "a c z"), bm25_scores(CORPUS, ["a", "c", "z"]))
    np.testing.assert_array_equal(scorer.score(["Apple pie", "apple"], "apple"),
                                  bm25_scores([["Apple", "pie"], ["apple"]], ["apple"]))
    assert scorer.score(["Apple pie", "apple"], "apple")[0] == 0
    assert BM25Scorer(k1=1.0, b=0.0, epsilon=0.5).score(texts, "a c")[1] == bm25_scores(
        CORPUS, ["a", "c"], k1=1.0, b=0.0, epsilon=0.5)[1]
