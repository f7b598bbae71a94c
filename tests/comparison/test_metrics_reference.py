"""lampkit.metrics.lamp against reference libraries on seeded random fixtures.

References: scikit-learn (accuracy, macro F1 over all label indices, MAE, MSE), rouge_score used
directly (default tokenizer, no stemmer), and rouge_score's BootstrapAggregator, the aggregation
the official LaMP scripts report (through Hugging Face ``evaluate``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from rouge_score import rouge_scorer, scoring
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error

from lampkit.metrics import lamp as metrics
from lampkit.tasks import get_task

SEEDS = [0, 1, 2, 3]
N = 300


def _pick(rng, pool, n):
    return [pool[i] for i in rng.integers(0, len(pool), size=n)]


def _classification_fixture(task, seed):
    rng = np.random.default_rng(seed)
    labels = list(task.labels)
    invalid = ["", "   ", "\n", "none", labels[0].upper(), labels[-1] + ".", "[3]", "sci fi", "tag: comedy"]
    padded = [f" {lab} " for lab in labels] + [f"{lab}\n" for lab in labels]
    golds = _pick(rng, labels, N)
    preds = []
    for gold, r in zip(golds, rng.random(N)):
        if r < 0.35:
            preds.append(gold)
        elif r < 0.6:
            preds.append(_pick(rng, labels, 1)[0])
        elif r < 0.8:
            preds.append(_pick(rng, padded, 1)[0])
        else:
            preds.append(_pick(rng, invalid, 1)[0])
    return preds, golds


def _reference_index(text, labels):
    table = {lab: i for i, lab in enumerate(labels)}
    return table.get(text.strip(), -1)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["lamp1", "lamp2"])
def test_classification_against_sklearn(name, seed):
    task = get_task(name)
    preds, golds = _classification_fixture(task, seed)
    y_pred = [_reference_index(p, task.labels) for p in preds]
    y_true = [_reference_index(g, task.labels) for g in golds]
    assert -1 in y_pred  # the fixture exercises outputs outside the label set
    res = metrics.aggregate(task, preds, golds)
    assert res["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
    ref_f1 = f1_score(y_true, y_pred, labels=list(range(len(task.labels))), average="macro", zero_division=0)
    assert res["f1"] == pytest.approx(ref_f1, abs=1e-12)
    scores = metrics.per_example(task, preds, golds)
    np.testing.assert_array_equal(scores["pred_index"], y_pred)
    np.testing.assert_array_equal(scores["gold_index"], y_true)
    np.testing.assert_array_equal(scores["correct"], np.equal(y_pred, y_true).astype(float))
    # EVAL compares strings; with valid golds it agrees with the index comparison.
    np.testing.assert_array_equal(scores["eval"], scores["correct"])


def test_f1_with_absent_classes_against_sklearn():
    task = get_task("lamp2")
    rng = np.random.default_rng(7)
    few = list(task.labels[:4])  # 11 of the 15 classes never occur
    golds = _pick(rng, few, 60)
    preds = _pick(rng, few + ["", "unknown"], 60)
    y_pred = [_reference_index(p, task.labels) for p in preds]
    y_true = [_reference_index(g, task.labels) for g in golds]
    ref = f1_score(y_true, y_pred, labels=list(range(15)), average="macro", zero_division=0)
    assert metrics.aggregate(task, preds, golds)["f1"] == pytest.approx(ref, abs=1e-12)
    # ... which is not the macro F1 over the classes present only
    present = f1_score(y_true, y_pred, average="macro", zero_division=0)
    assert not math.isclose(ref, present)


RATING_POOL = ["1", "2", "3", "4", "5", " 4 ", "\t2\n", "4.0", "2.5", "0", "7", "1e0", "",
               "five", "3 stars", "4/5", "nan", "inf", "-inf", "   "]


def _reference_rating(pred, gold):
    y = float(gold.strip())
    try:
        value = float(pred.strip())
        if math.isfinite(value):
            return value
    except ValueError:
        pass
    return 1.0 if abs(1 - y) > abs(5 - y) else 5.0


@pytest.mark.parametrize("seed", SEEDS)
def test_rating_against_sklearn(seed):
    rng = np.random.default_rng(seed)
    golds = _pick(rng, ["1", "2", "3", "4", "5"], N)
    preds = _pick(rng, RATING_POOL, N)
    y_true = [float(g) for g in golds]
    y_pred = [_reference_rating(p, g) for p, g in zip(preds, golds)]
    res = metrics.aggregate("lamp3", preds, golds)
    assert res["mae"] == pytest.approx(mean_absolute_error(y_true, y_pred), abs=1e-12)
    assert res["rmse"] == pytest.approx(math.sqrt(mean_squared_error(y_true, y_pred)), abs=1e-12)
    scores = metrics.per_example("lamp3", preds, golds)
    diff = np.subtract(y_true, y_pred)
    np.testing.assert_allclose(scores["abs_error"], np.abs(diff), rtol=0, atol=0)
    np.testing.assert_allclose(scores["sq_error"], diff ** 2, rtol=0, atol=0)
    worst = np.maximum(np.abs(1 - np.array(y_true)), np.abs(5 - np.array(y_true)))
    np.testing.assert_allclose(scores["eval"], (worst - np.abs(diff)) / worst, rtol=0, atol=1e-15)


VOCAB = ["the", "The", "cat", "CAT", "sat", "on", "a", "mat", "news", "headline", "paper", "title",
         "deep", "learning", "learns", "learned", "2024", "x-ray", "e-mail", "café", "!", ",", "...", "#tag",
         "@user", "won't", "model's"]


def _text(rng, max_words):
    words = _pick(rng, VOCAB, int(rng.integers(0, max_words + 1)))
    seps = _pick(rng, [" ", "  ", "\t", "\n"], max(len(words) - 1, 0))
    text = "".join(w + s for w, s in zip(words, seps + [""]))
    return _pick(rng, ["", " ", "\n", "  "], 1)[0] + text + _pick(rng, ["", " ", "\n"], 1)[0]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["lamp4", "lamp5", "lamp6", "lamp7"])
def test_rouge_against_rouge_score(name, seed):
    rng = np.random.default_rng(seed)
    golds = [_text(rng, 12) or "the cat" for _ in range(N)]
    preds = [_text(rng, 12) for _ in range(N)]
    assert "" in [p.strip() for p in preds]  # empty predictions are exercised
    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=False)
    ref = [scorer.score(g.strip(), p.strip()) for p, g in zip(preds, golds)]
    ref1 = np.array([s["rouge1"].fmeasure for s in ref])
    refl = np.array([s["rougeL"].fmeasure for s in ref])
    scores = metrics.per_example(name, preds, golds)
    np.testing.assert_allclose(scores["rouge1"], ref1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(scores["rougeL"], refl, rtol=0, atol=1e-15)
    np.testing.assert_allclose(scores["eval"], ref1, rtol=0, atol=1e-15)
    res = metrics.aggregate(name, preds, golds)
    assert res["rouge1"] == pytest.approx(float(np.mean(ref1)), abs=1e-12)
    assert res["rougeL"] == pytest.approx(float(np.mean(refl)), abs=1e-12)
    assert [metrics.rouge1_f(p, g) for p, g in zip(preds[:50], golds[:50])] == pytest.approx(ref1[:50], abs=1e-15)


@pytest.fixture
def global_numpy_seed():
    """BootstrapAggregator draws from numpy's global generator: seed it, then restore it."""
    state = np.random.get_state()
    np.random.seed(12345)
    yield
    np.random.set_state(state)


def test_mean_approximates_the_official_bootstrap_median(global_numpy_seed):
    """The official scripts report the median of 1000 bootstrap means (rouge_score's
    BootstrapAggregator, 'mid'); our plain mean must lie within a few bootstrap standard errors
    of it, and inside its 95% interval."""
    rng = np.random.default_rng(11)
    golds = [_text(rng, 12) or "the cat" for _ in range(N)]
    preds = [g if rng.random() < 0.2 else _text(rng, 12) for g in golds]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=False)
    agg = scoring.BootstrapAggregator()
    for p, g in zip(preds, golds):
        agg.add_scores(scorer.score(g.strip(), p.strip()))
    boot = agg.aggregate()
    res = metrics.aggregate("lamp4", preds, golds)
    scores = metrics.per_example("lamp4", preds, golds)
    for key in ("rouge1", "rougeL"):
        sem = stats.sem(scores[key])  # standard error of the mean across examples
        mid = boot[key].mid.fmeasure
        # the median of 1000 resampled means deviates from the mean by about sem / sqrt(1000)
        assert abs(res[key] - mid) < 5 * sem / math.sqrt(1000) + 1e-9
        assert boot[key].low.fmeasure <= res[key] <= boot[key].high.fmeasure


def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    from lampkit.metrics.significance import holm

    rng = np.random.default_rng(7)
    for size in (1, 2, 5, 30):
        p = rng.uniform(0, 0.2, size)
        p[rng.integers(size)] = p[0]  # a tie
        np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=0, atol=1e-12)
    adjusted = holm([0.01, np.nan, 0.04, 0.03])
    assert np.isnan(adjusted[1])
    np.testing.assert_allclose(adjusted[[0, 2, 3]], multipletests([0.01, 0.04, 0.03], method="holm")[1])
