"""The rankers of the multistage pipeline, RankDocBySnpt's max aggregation and the 2,500-character cut."""

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from lampkit.longform.data import Document, LongformExample
from lampkit.longform.rankers import (MAX_CHARS, Entry, RankDocBM25, RankDocBySnpt, RankDocDense, RankSnippet,
                                      RecentDoc, concat_entries, make_rankers, max_by_document)

WORDS = ("apple", "pear", "plum")


class CountEncoder:
    """Embeds a text as the counts of three words: dot products are hand-computable."""

    model_id = "count-encoder"

    def __init__(self):
        self.calls = 0

    def encode(self, texts, batch_size=64, max_length=512, show_progress=False):
        self.calls += 1
        return np.array([[t.split().count(w) for w in WORDS] for t in texts], dtype=np.float32)


def _pad(sentence: str) -> str:
    """A sentence of 130 characters (two of them make a snippet) ending with a period."""
    return (sentence + " " + "z" * 130)[:129] + "."


def _example(past):
    return LongformExample("cur", "a", "2021-01-01", "apple pear pear", "rest", tuple(past))


PAST = (
    Document("a", "old", "2018-01-01", f"{_pad('apple')} {_pad('plum')}"),  # snippets: [apple+plum]
    Document("a", "mid", "2019-06-01", f"{_pad('plum')} {_pad('plum')} {_pad('pear pear')} {_pad('plum')}"),
    Document("a", "new", "2020-01-01", f"{_pad('apple pear')} {_pad('plum')}"),
)


def test_recent_doc_orders_newest_first_and_the_same_date_later_in_the_profile_first():
    past = [Document("a", "x", "2019-01-01", "x"), Document("a", "y", "2020", "y"),
            Document("a", "z", "2019-01-01", "z"), Document("a", "w", "2020-03-01", "w")]
    ranked = RecentDoc().rank_many([_example(past)])[0]
    assert [e.doc_id for e in ranked] == ["w", "y", "z", "x"]  # a bare year counts as the year's start
    assert [e.score for e in ranked] == [1.0, 0.5, 1 / 3, 0.25]


def test_bm25_ranks_documents_by_bm25okapi_scores_of_the_context():
    ranked = RankDocBM25().rank_many([_example(PAST)])[0]
    expected = BM25Okapi([d.text.split() for d in PAST]).get_scores("apple pear pear".split())
    assert [e.doc_id for e in ranked] == [PAST[i].id for i in np.argsort(-expected, kind="stable")]
    assert sorted(e.score for e in ranked) == pytest.approx(sorted(expected))


def test_dense_ranks_documents_by_dot_product():
    ranked = RankDocDense(CountEncoder()).rank_many([_example(PAST)])[0]
    # context = (1, 2, 0); old (1, 0, 1) -> 1, mid (0, 2, 3) -> 4, new (1, 1, 1) -> 3
    assert [(e.doc_id, e.score) for e in ranked] == [("mid", 4.0), ("new", 3.0), ("old", 1.0)]


def test_snippet_ranker_returns_snippets_and_doc_by_snippet_takes_their_maximum():
    ex = _example(PAST)
    snips = RankSnippet(CountEncoder()).rank_many([ex])[0]
    # snippets: old#0 (1,0,1) -> 1; mid#0 (0,0,2) -> 0; mid#1 (0,2,1) -> 4; new#0 (1,1,1) -> 3
    assert [(e.doc_id, e.score) for e in snips] == [("mid", 4.0), ("new", 3.0), ("old", 1.0), ("mid", 0.0)]
    assert all(len(e.text) <= 2 * 130 + 1 for e in snips)
    docs = RankDocBySnpt(CountEncoder()).rank_many([ex])[0]
    assert [(e.doc_id, e.score) for e in docs] == [("mid", 4.0), ("new", 3.0), ("old", 1.0)]
    assert docs[0].text == PAST[1].text  # whole documents, not snippets
    # a document's weak snippet does not pull it down: mean aggregation would put "new" (3) before "mid" (2)


def test_max_by_document_aggregates_only_the_retrieved_snippets():
    ids = ["a", "b", "a", "c", "b"]
    scores = [0.2, 0.9, 0.7, 0.1, 0.3]
    assert max_by_document(ids, scores) == {"a": 0.7, "b": 0.9, "c": 0.1}
    assert max_by_document(ids, scores, top=2) == {"b": 0.9, "a": 0.7}
    assert max_by_document(ids, scores, top=3) == {"b": 0.9, "a": 0.7}  # the third best (0.3) is b's again
    ranked = RankDocBySnpt(CountEncoder(), top_snippets=1).rank_many([_example(PAST)])[0]
    assert [e.doc_id for e in ranked] == ["mid"]


def test_one_encoder_call_embeds_every_example_of_a_batch():
    enc = CountEncoder()
    RankSnippet(enc).rank_many([_example(PAST), _example(PAST[:2])])
    assert enc.calls == 1


def test_concatenation_keeps_rank_order_and_cuts_at_2500_characters():
    entries = [Entry("d1", "a" * 2000, 1.0), Entry("d2", "b" * 2000, 0.5)]
    text = concat_entries(entries)
    assert MAX_CHARS == 2500 and len(text) == 2500
    assert text == "a" * 2000 + " " + "b" * 499
    assert concat_entries([Entry("d", "short", 1.0)]) == "short"


def test_make_rankers_names_and_needs_an_encoder_for_dense_ones():
    assert [r.name for r in make_rankers(None, ["RecentDoc", "RankDocBM25"])] == ["RecentDoc", "RankDocBM25"]
    with pytest.raises(ValueError, match="encoder"):
        make_rankers(None, ["RankSnippet"])
    with pytest.raises(KeyError, match="unknown"):
        make_rankers(None, ["Oracle"])
