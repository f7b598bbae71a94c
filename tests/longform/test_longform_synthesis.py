"""Key elements (the keyword rule) and the extractive summary."""

import math

import pytest

from lampkit.longform.synthesis import (MAX_KEYWORDS, MIN_IDF, DocumentFrequencies, key_elements, stop_words,
                                        summarize, unigrams)


def _dfs(n_docs: int, counts: dict[str, int]) -> DocumentFrequencies:
    """A reference collection of ``n_docs`` documents where ``word`` occurs in ``counts[word]`` of them."""
    docs = [" ".join(w for w, c in counts.items() if i < c) or "filler" for i in range(n_docs)]
    return DocumentFrequencies(docs)


def test_idf_is_the_log_of_n_over_df_with_unknown_words_counting_one():
    dfs = _dfs(20, {"harbor": 4, "ship": 5})
    assert dfs.idf("harbor") == pytest.approx(math.log(20 / 4))
    assert dfs.idf("Harbor") == dfs.idf("harbor")
    assert dfs.idf("never") == pytest.approx(math.log(20))
    with pytest.raises(ValueError, match="empty"):
        DocumentFrequencies([])


def test_keywords_follow_the_rule_stop_words_frequency_and_idf():
    # 20 documents: idf(ship) = ln 20/4 = 1.609 >= 1.5, idf(sail) = ln 20/5 = 1.386 < 1.5
    dfs = _dfs(20, {"ship": 4, "sail": 5, "crew": 1})
    assert math.log(20 / 4) >= MIN_IDF > math.log(20 / 5)
    text = "The ship and the ship. Sail sail sail. Crew once. Harbor Harbor Harbor. The the the about about."
    assert key_elements(text, dfs) == ["Harbor", "ship"]
    # "the"/"about": stop words; "sail": IDF too low; "Crew", "once", "Sail": frequency 1; Harbor: 3 times


def test_keywords_keep_case_count_each_form_and_stop_at_twenty():
    dfs = _dfs(100, {})
    words = [f"word{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(30)]
    assert len(set(unigrams(" ".join(words)))) == 30
    text = " ".join(w for i, w in enumerate(words) for _ in range(2 + (i % 3)))
    got = key_elements(text, dfs)
    assert len(got) == MAX_KEYWORDS == 20
    assert got[:10] == [w for i, w in enumerate(words) if i % 3 == 2]  # 4 occurrences, in order of appearance
    assert key_elements("Ship ship", dfs) == []  # two forms, each once
    assert "would" in stop_words() and "ship" not in stop_words()


def test_the_summary_takes_central_sentences_within_the_budget_in_their_order():
    # TF-IDF (smooth idf, l2) cosine centralities, by hand: S1 "The ship is in the harbor." shares
    # the, ship, is with S2 (cos 0.634) and harbor with S3 (cos 0.211); S4 shares nothing. With the
    # self-similarity 1: S1 1.845 > S2 1.634 > S3 1.211 > S4 1.0.
    texts = ["Cats purr. The ship is big.", "The ship is in the harbor. A harbor."]
    assert summarize(texts, max_chars=30) == "The ship is in the harbor."
    assert summarize(texts, max_chars=45) == "The ship is big. The ship is in the harbor."
    assert summarize(texts, max_chars=60) == "The ship is big. The ship is in the harbor. A harbor."
    assert summarize(texts, max_chars=5) == ""
    assert summarize([]) == ""


def test_a_repeated_sentence_is_central_but_taken_once():
    texts = ["Stay curious. The harbor ship.", "Stay curious. A cat.", "Stay curious. A dog barked loudly."]
    assert summarize(texts, max_chars=14) == "Stay curious."
    assert summarize(texts, max_chars=40).count("Stay curious.") == 1


def test_centrality_uses_scikit_learns_tfidf():
    import random

    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from lampkit.longform.synthesis import _WORD, _tfidf

    rng = random.Random(0)
    words = "The ship harbor a cat Dog ran sat it's".split()
    sents = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 8))) + "." for _ in range(30)]
    ours = _tfidf(sents)
    theirs = TfidfVectorizer(token_pattern=_WORD.pattern).fit_transform(sents).toarray()
    np.testing.assert_allclose(ours @ ours.T, theirs @ theirs.T, atol=1e-12)
