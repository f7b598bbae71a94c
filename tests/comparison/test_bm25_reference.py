"""lampkit's BM25 against rank_bm25.BM25Okapi 0.2.2 on seeded random profiles and queries."""

from __future__ import annotations

import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from lampkit.retrievers.bm25 import BM25Scorer, bm25_scores, rank, tokenize

N_CASES = 300
PARAMS = [(1.5, 0.75, 0.25), (1.2, 0.75, 0.25), (2.0, 0.0, 0.25), (0.5, 1.0, 0.5), (1.5, 0.3, 0.0)]


def make_case(seed: int) -> dict:
    """A profile of 1..300 documents over a small vocabulary, a query of 0..20 tokens."""
    rng = random.Random(seed)
    vocab = [f"t{i}" for i in range(rng.randint(2, 40))]
    n_docs = rng.choice([1, 1, 2, 3, rng.randint(4, 20), rng.randint(20, 300)])
    p_empty = rng.choice([0.0, 0.0, 0.1, 0.5])
    common = rng.sample(vocab, k=min(2, len(vocab)))  # terms put into most documents
    corpus: list[list[str]] = []
    for _ in range(n_docs):
        if corpus and rng.random() < 0.15:
            corpus.append(list(rng.choice(corpus)))  # an identical document: tied scores
        elif rng.random() < p_empty:
            corpus.append([])
        else:
            doc = [rng.choice(vocab) for _ in range(rng.randint(1, 30))]
            doc += [t for t in common if rng.random() < 0.7]
            rng.shuffle(doc)
            corpus.append(doc)
    if not any(corpus):
        corpus[0] = [rng.choice(vocab)]  # rank_bm25 divides by zero on an all-empty corpus
    pool = vocab + [f"absent{i}" for i in range(5)]
    query = [rng.choice(pool) for _ in range(rng.randint(0, 20))]
    if query and rng.random() < 0.5:
        query += rng.choices(query, k=rng.randint(1, 4))  # repeated tokens
        rng.shuffle(query)
    k1, b, epsilon = PARAMS[0] if seed % 3 else rng.choice(PARAMS)
    return {"corpus": corpus, "query": query, "k1": k1, "b": b, "epsilon": epsilon}


def reference(case: dict) -> BM25Okapi:
    return BM25Okapi(case["corpus"], k1=case["k1"], b=case["b"], epsilon=case["epsilon"])


# b = 1 makes an empty document's length norm 0: both implementations compute 0/0 (NaN).
NAN_WARNING = "ignore:invalid value encountered in divide:RuntimeWarning"


@pytest.mark.filterwarnings(NAN_WARNING)
@pytest.mark.parametrize("seed", range(N_CASES))
def test_scores_equal_rank_bm25(seed):
    case = make_case(seed)
    expected = reference(case).get_scores(case["query"])
    got = bm25_scores(case["corpus"], case["query"], case["k1"], case["b"], case["epsilon"])
    assert got.dtype == np.float64 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(got, expected)  # bit-for-bit (NaN where NaN): same operations


@pytest.mark.filterwarnings(NAN_WARNING)
def test_random_cases_cover_the_edge_cases():
    """The generator above really produces the situations the comparison is meant to cover."""
    seen = dict.fromkeys(["one doc", "300ish docs", "empty doc", "empty query", "absent token",
                          "repeated token", "negative idf", "tied scores", "other params", "NaN"], 0)
    for seed in range(N_CASES):
        case = make_case(seed)
        corpus, query = case["corpus"], case["query"]
        model = reference(case)
        negative = [t for t in query if t in model.idf and model.idf[t] == model.epsilon * model.average_idf]
        scores = model.get_scores(query)
        seen["one doc"] += len(corpus) == 1
        seen["300ish docs"] += len(corpus) > 200
        seen["empty doc"] += any(len(d) == 0 for d in corpus)
        seen["empty query"] += not query
        seen["absent token"] += any(t not in model.idf for t in query)
        seen["repeated token"] += len(set(query)) < len(query)
        seen["negative idf"] += bool(negative)
        seen["tied scores"] += len(np.unique(scores)) < len(scores) and scores.max() > 0
        seen["other params"] += (case["k1"], case["b"], case["epsilon"]) != PARAMS[0]
        seen["NaN"] += bool(np.isnan(scores).any())
    assert min(seen.values()) >= 3, seen


def test_degenerate_parameters_give_nan_like_rank_bm25():
    corpus, query = [["a", "b"], [], ["b", "c", "c"]], ["c", "zz"]
    for k1, b in [(1.5, 1.0), (0.0, 0.75)]:  # empty document with b = 1; k1 = 0
        with pytest.warns(RuntimeWarning, match="invalid value"):
            got = bm25_scores(corpus, query, k1=k1, b=b)
        with pytest.warns(RuntimeWarning, match="invalid value"):
            expected = BM25Okapi(corpus, k1=k1, b=b).get_scores(query)
        assert np.isnan(got).any()
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("tokens", [
    ["Apple", "apple", "APPLE"],  # no lowercasing
    ["a\x00b", "a\x00c", "a"],  # NUL inside a token
    ["naïve", "naive", "e\u0301", "\u00e9", "日本", "😀"],  # non-ASCII, unnormalised
    ["\ud800", "\udfff", "x"],  # lone surrogates
    ["nan", "NaN", "None", "null", ""],  # strings that look missing
])
def test_unusual_tokens_are_distinct_terms(tokens):
    rng = random.Random(len(tokens))
    corpus = [[rng.choice(tokens) for _ in range(rng.randint(0, 6))] for _ in range(12)] + [tokens]
    for query in (tokens, tokens[::-1] + tokens[:1]):
        np.testing.assert_array_equal(bm25_scores(corpus, query), BM25Okapi(corpus).get_scores(query))


def test_scorer_on_texts_matches_rank_bm25_on_split_texts():
    texts = ["The cat  sat\ton the mat date: 2020-01-01", "the Cat\nsat date: 2019",
             "dogs\u00a0and cats\u2003 date: 2021-05-05", "", "   ", "the the the date: 2018"]
    query = "the cat sat\u00a0date:"
    expected = BM25Okapi([t.split() for t in texts]).get_scores(query.split())
    np.testing.assert_array_equal(BM25Scorer().score(texts, query), expected)
    np.testing.assert_array_equal(BM25Scorer(1.2, 0.5, 0.1).score(texts, query),
                                  BM25Okapi([tokenize(t) for t in texts], k1=1.2, b=0.5, epsilon=0.1)
                                  .get_scores(tokenize(query)))


def test_rank_breaks_ties_toward_the_lower_index_unlike_get_top_n():
    corpus = [["x", "y"], ["y", "z"], ["x", "y"], ["z", "w"], ["y", "z"]]
    query = ["x", "z"]
    model = BM25Okapi(corpus)
    scores = bm25_scores(corpus, query)
    assert scores[0] == scores[2] and scores[1] == scores[4]  # two tied pairs
    ours = rank(scores).tolist()
    theirs = model.get_top_n(query, list(range(len(corpus))), n=len(corpus))
    # Same order of score values, reversed within each tie.
    assert [scores[i] for i in ours] == [scores[i] for i in theirs]
    assert ours != theirs
    assert ours.index(0) < ours.index(2) and theirs.index(2) < theirs.index(0)
    assert ours.index(1) < ours.index(4) and theirs.index(4) < theirs.index(1)


def test_rank_bm25_fails_where_lampkit_returns_a_defined_answer():
    with pytest.raises(ZeroDivisionError):
        BM25Okapi([])
    assert bm25_scores([], ["a"]).shape == (0,)
    with pytest.raises(ZeroDivisionError):
        BM25Okapi([[], []])
    np.testing.assert_array_equal(bm25_scores([[], []], ["a"]), [0.0, 0.0])
