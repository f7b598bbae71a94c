"""BLEU against nltk and hand-computed values, ROUGE-1/2/L against rouge_score, significance markers."""

import math
import random

import pandas as pd
import pytest
from nltk.translate.bleu_score import SmoothingFunction
from nltk.translate.bleu_score import corpus_bleu as nltk_corpus_bleu
from nltk.translate.bleu_score import sentence_bleu as nltk_sentence_bleu
from rouge_score.rouge_scorer import RougeScorer

from lampkit.longform.metrics import (METRICS, aggregate, bleu_tokens, corpus_bleu, markers, ngram_stats,
                                      per_example, sentence_bleu)

WORDS = "the a cat dog sat on mat . , and ran".split()


def _texts(seed, n=40, lo=4, hi=18):
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi))) for _ in range(n)]


def test_tokens_split_punctuation_and_keep_case():
    assert bleu_tokens("Hello, world! It's 3.5") == ["Hello", ",", "world", "!", "It", "'", "s", "3", ".", "5"]


def test_a_hand_computed_bleu():
    hyp, ref = "the cat sat on the mat", "the cat sat on a mat today"
    # matches: 1-grams 5/6 (the twice, once in the reference), 2-grams 3/5, 3-grams 2/4, 4-grams 1/3
    assert list(ngram_stats(hyp.split(), ref.split())) == [5, 6, 3, 5, 2, 4, 1, 3, 6, 7]
    expected = math.exp(1 - 7 / 6) * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    assert corpus_bleu([hyp], [ref]) == pytest.approx(expected)
    smoothed = math.exp(1 - 7 / 6) * (5 / 6 * 4 / 6 * 3 / 5 * 2 / 4) ** 0.25
    assert sentence_bleu(hyp, ref) == pytest.approx(smoothed)
    assert corpus_bleu(["the"], ["the cat"]) == 0.0  # no 4-gram match
    assert corpus_bleu([""], ["the cat"]) == 0.0 and sentence_bleu("", "x") == 0.0


def test_corpus_bleu_equals_nltk():
    hyps, refs = _texts(1), _texts(2)
    hyps = [h + " the cat sat on the mat" for h in hyps]
    refs = [r + " the cat sat on the mat" for r in refs]
    ours = corpus_bleu(hyps, refs)
    theirs = nltk_corpus_bleu([[bleu_tokens(r)] for r in refs], [bleu_tokens(h) for h in hyps])
    assert 0 < ours < 1
    assert ours == pytest.approx(theirs, rel=1e-12)


def test_sentence_bleu_equals_nltk_add_one_smoothing():
    smooth = SmoothingFunction().method2
    for hyp, ref in zip(_texts(3, lo=1), _texts(4, lo=1)):
        theirs = nltk_sentence_bleu([bleu_tokens(ref)], bleu_tokens(hyp), smoothing_function=smooth)
        assert sentence_bleu(hyp, ref) == pytest.approx(theirs, rel=1e-12, abs=1e-15)


def test_rouge_equals_rouge_score_and_aggregate_pools_bleu():
    preds, refs = _texts(5), _texts(6)
    table = per_example(preds, refs)
    scorer = RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    for i in (0, 7, 19):
        s = scorer.score(refs[i], preds[i])
        assert [table.loc[i, m] for m in ("rouge1", "rouge2", "rougeL")] == [s[m].fmeasure for m in
                                                                           ("rouge1", "rouge2", "rougeL")]
    agg = aggregate(preds, refs)
    assert list(agg) == list(METRICS)
    assert agg["bleu"] == corpus_bleu(preds, refs)
    assert agg["rougeL"] == pytest.approx(table["rougeL"].mean())
    with pytest.raises(ValueError, match="references"):
        per_example(preds, refs[:-1])


def test_markers_need_a_higher_aggregate_and_a_significant_paired_test():
    from scipy.stats import ttest_rel

    jitter = pd.DataFrame({m: [0.0, 0.01, -0.01, 0.0, 0.01, -0.01] for m in METRICS})
    base = pd.DataFrame({m: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6] for m in METRICS})
    scores = {"base": base, "better": base + 0.1 + jitter, "worse": base - 0.1 + jitter,
              "noisy": base + pd.DataFrame({m: [0.3, -0.3, 0.2, -0.2, 0.1, -0.05] for m in METRICS})}
    aggregates = pd.DataFrame({n: s.mean() for n, s in scores.items()}).T
    assert ttest_rel(scores["better"]["bleu"], base["bleu"]).pvalue < 0.001
    assert ttest_rel(scores["better"]["bleu"], scores["noisy"]["bleu"]).pvalue > 0.05
    assert ttest_rel(scores["noisy"]["bleu"], base["bleu"]).pvalue > 0.05
    marks = markers(scores, aggregates, ["base", "noisy"])
    assert marks[("better", "rouge1")] == "1"  # beats base, not noisy (not significant)
    assert marks[("worse", "bleu")] == ""  # significant, but lower
    assert marks[("noisy", "bleu")] == ""  # higher mean (+0.0083), not significant
    assert marks[("base", "rougeL")] == ""  # never beats itself
    with pytest.raises(KeyError, match="missing"):
        markers(scores, aggregates, ["none"])
