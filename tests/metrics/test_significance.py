"""Significance tests and Table 3 markers on constructed per-example scores of known significance."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lampkit.analysis.methods import BASELINES
from lampkit.metrics import significance as sig
from lampkit.metrics.lamp import aggregate, per_example
from lampkit.tasks import LAMP2_TAGS, get_task


def correctness(both, a_only, b_only, neither):
    """Two correctness vectors with the given 2x2 table counts."""
    a = [1] * both + [1] * a_only + [0] * b_only + [0] * neither
    b = [1] * both + [0] * a_only + [1] * b_only + [0] * neither
    return np.array(a, dtype=np.float64), np.array(b, dtype=np.float64)


# ----- paired t-test ----------------------------------------------------------------------

def test_paired_ttest_matches_the_textbook_formula():
    rng = np.random.default_rng(0)
    a, b = rng.random(30), rng.random(30)
    d = a - b
    t = d.mean() / (d.std(ddof=1) / np.sqrt(len(d)))
    p = 2 * stats.t.sf(abs(t), df=len(d) - 1)
    stat, pv = sig.paired_ttest(a, b)
    assert stat == pytest.approx(t) and pv == pytest.approx(p)
    assert sig.paired_ttest(b, a) == (pytest.approx(-t), pytest.approx(p))


def test_identical_scores_give_p_one_without_warning():
    a = np.array([0.1, 0.5, 0.5, 0.9])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sig.paired_ttest(a, a.copy()) == (0.0, 1.0)
        # constant non-zero shift (exact in floating point): scipy's infinite statistic, p = 0
        stat, p = sig.paired_ttest(np.array([2.0, 3.0, 5.0]), np.array([1.0, 2.0, 4.0]))
    assert stat == np.inf and p == 0.0


def test_paired_ttest_rejects_bad_input():
    with pytest.raises(ValueError, match="length"):
        sig.paired_ttest([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="at least 2"):
        sig.paired_ttest([1.0], [2.0])


# ----- McNemar ----------------------------------------------------------------------------

def test_mcnemar_exact_matches_binomtest_and_is_chosen_for_few_discordant_pairs():
    a, b = correctness(50, 3, 10, 20)  # 13 discordant pairs
    expected = stats.binomtest(3, 13, 0.5).pvalue
    assert sig.mcnemar_test(a, b, exact=True) == pytest.approx(expected)
    assert sig.mcnemar_test(a, b) == pytest.approx(expected)
    chi2 = stats.chi2.sf((abs(3 - 10) - 1) ** 2 / 13, df=1)
    assert sig.mcnemar_test(a, b, exact=False) == pytest.approx(chi2)
    assert chi2 != pytest.approx(expected)


def test_mcnemar_chi_square_with_continuity_correction_for_many_discordant_pairs():
    a, b = correctness(40, 10, 30, 20)  # 40 discordant pairs
    chi2 = stats.chi2.sf((abs(10 - 30) - 1) ** 2 / 40, df=1)
    assert sig.mcnemar_test(a, b) == pytest.approx(chi2)
    assert sig.mcnemar_test(a, b, exact=True) == pytest.approx(stats.binomtest(10, 40, 0.5).pvalue)


@pytest.mark.parametrize("a_only,b_only,exact", [(10, 14, True), (10, 15, False)])
def test_mcnemar_threshold_is_25_discordant_pairs(a_only, b_only, exact):
    assert sig.EXACT_MCNEMAR_BELOW == 25
    a, b = correctness(5, a_only, b_only, 5)
    assert sig.mcnemar_test(a, b) == pytest.approx(sig.mcnemar_test(a, b, exact=exact))
    assert sig.mcnemar_test(a, b) != pytest.approx(sig.mcnemar_test(a, b, exact=not exact))


def test_mcnemar_without_discordant_pairs_is_one():
    a, b = correctness(7, 0, 0, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for exact in (None, True, False):
            assert sig.mcnemar_test(a, b, exact=exact) == 1.0


def test_mcnemar_rejects_non_binary_correctness():
    with pytest.raises(ValueError, match="0/1"):
        sig.mcnemar_test([1.0, 0.5], [1.0, 0.0])


# ----- which test, and who beats whom -----------------------------------------------------

def test_test_for_metric_covers_every_task_metric():
    expected = {"accuracy": "mcnemar", "f1": "mcnemar", "mae": "ttest", "rmse": "ttest",
                "rouge1": "ttest", "rougeL": "ttest"}
    for name in ("lamp1", "lamp2", "lamp3", "lamp4", "lamp5", "lamp6", "lamp7"):
        for metric in get_task(name).metrics:
            assert sig.test_for_metric(metric) == expected[metric]
    with pytest.raises(KeyError, match="bleu"):
        sig.test_for_metric("bleu")


def rouge_scores(offset, seed, n=200, base=None):
    rng = np.random.default_rng(seed)
    base = np.random.default_rng(99).uniform(0.2, 0.6, n) if base is None else base
    r1 = base + offset + rng.normal(0, 0.02, n)
    return {"rouge1": r1, "rougeL": r1 - 0.05}


def means(scores):
    return {k: float(np.mean(v)) for k, v in scores.items()}


def test_clearly_better_method_beats_and_worse_one_does_not():
    good, base = rouge_scores(0.2, 1), rouge_scores(0.0, 2)
    assert sig.p_value(good, base, "rouge1") < 1e-10
    assert sig.beats(good, base, means(good)["rouge1"], means(base)["rouge1"], "rouge1", True)
    # same tiny p-value, wrong direction: not marked
    assert sig.p_value(base, good, "rouge1") < 1e-10
    assert not sig.beats(base, good, means(base)["rouge1"], means(good)["rouge1"], "rouge1", True)
    assert not sig.beats(base, base, means(base)["rouge1"], means(base)["rouge1"], "rouge1", True)


def test_small_difference_is_not_significant():
    a, b = rouge_scores(0.0, 1), rouge_scores(0.0, 2)
    va, vb = means(a)["rouge1"], means(b)["rouge1"]
    better, worse = (a, b) if va > vb else (b, a)
    assert sig.p_value(better, worse, "rouge1") >= 0.05
    assert not sig.beats(better, worse, max(va, vb), min(va, vb), "rouge1", True)


def test_mae_lower_is_better():
    rng = np.random.default_rng(3)
    err = rng.uniform(0.5, 1.5, 200)
    low = {"abs_error": err - 0.3 + rng.normal(0, 0.05, 200)}
    high = {"abs_error": err}
    low["sq_error"], high["sq_error"] = low["abs_error"] ** 2, high["abs_error"] ** 2
    mae_low, mae_high = low["abs_error"].mean(), high["abs_error"].mean()
    assert sig.beats(low, high, mae_low, mae_high, "mae", higher_is_better=False)
    assert not sig.beats(high, low, mae_high, mae_low, "mae", higher_is_better=False)
    # the t-test for RMSE runs on squared errors
    assert sig.p_value(low, high, "rmse") == pytest.approx(
        stats.ttest_rel(low["sq_error"], high["sq_error"]).pvalue)


# ----- markers ----------------------------------------------------------------------------

def test_markers_list_beaten_baselines_in_order_and_skip_self():
    base = np.random.default_rng(99).uniform(0.2, 0.6, 200)
    per_method = {
        "none": rouge_scores(0.0, 10, base=base),
        "bm25": rouge_scores(0.0, 11, base=base),
        "recency": rouge_scores(0.2, 12, base=base),
        "dense": rouge_scores(0.0, 13, base=base),
        "rrf": rouge_scores(0.2, 14, base=base),
        "ropg": rouge_scores(0.2, 14, base=base),  # identical to rrf
        "worse": rouge_scores(-0.2, 15, base=base),
    }
    aggregates = {m: means(s) for m, s in per_method.items()}
    marks = sig.markers(per_method, aggregates, "lamp4", BASELINES)
    assert set(marks) == {(m, k) for m in per_method for k in ("rouge1", "rougeL")}
    for metric in ("rouge1", "rougeL"):
        assert marks[("ropg", metric)] == "1,2,4"
        assert marks[("rrf", metric)] == "1,2,4"  # never compared with itself
        assert marks[("recency", metric)] == "1,2,4"  # same level as rrf: not marked 5
        assert marks[("worse", metric)] == ""
        assert marks[("none", metric)] == ""


def test_markers_need_every_baseline():
    scores = {"rouge1": np.zeros(3), "rougeL": np.zeros(3)}
    with pytest.raises(KeyError, match="recency, dense, rrf"):
        sig.markers({"none": scores, "bm25": scores}, {"none": means(scores), "bm25": means(scores)}, "lamp4", BASELINES)


def test_markers_from_lampkit_metrics_for_accuracy_f1_and_errors():
    rng = np.random.default_rng(5)
    n = 200
    golds = [LAMP2_TAGS[i] for i in rng.integers(0, len(LAMP2_TAGS), n)]

    def predict(p_correct, seed):
        r = np.random.default_rng(seed)
        return [g if r.random() < p_correct else LAMP2_TAGS[(LAMP2_TAGS.index(g) + 1) % len(LAMP2_TAGS)]
                for g in golds]

    preds = {"none": predict(0.3, 1), "bm25": predict(0.3, 2), "recency": predict(0.3, 3),
             "dense": predict(0.3, 4), "rrf": predict(0.3, 5), "best": predict(0.9, 6)}
    per_method = {m: per_example("lamp2", p, golds) for m, p in preds.items()}
    aggregates = {m: aggregate("lamp2", p, golds) for m, p in preds.items()}
    marks = sig.markers(per_method, aggregates, "lamp2", BASELINES)
    assert marks[("best", "accuracy")] == "1,2,3,4,5"
    assert marks[("best", "f1")] == "1,2,3,4,5"
    assert marks[("none", "accuracy")] == ""

    gold_ratings = [str(r) for r in rng.integers(1, 6, n)]
    ratings = {m: [g if rng.random() < p else str(6 - int(g)) for g in gold_ratings]
               for m, p in (("none", 0.9), ("bm25", 0.5), ("recency", 0.5), ("dense", 0.5), ("rrf", 0.9))}
    per_method = {m: per_example("lamp3", p, gold_ratings) for m, p in ratings.items()}
    aggregates = {m: aggregate("lamp3", p, gold_ratings) for m, p in ratings.items()}
    marks = sig.markers(per_method, aggregates, "lamp3", BASELINES)
    assert aggregates["none"]["mae"] < aggregates["bm25"]["mae"]  # lower error is better
    assert marks[("none", "mae")] == "2,3,4" and marks[("none", "rmse")] == "2,3,4"
    assert marks[("bm25", "mae")] == ""


# ----- formatting -------------------------------------------------------------------------

def test_format_with_markers():
    assert sig.format_with_markers(0.41234, "1,2", bold=True) == "<b>0.412</b><sup>1,2</sup>"
    assert sig.format_with_markers(0.4, "", bold=False) == "0.400"
    assert sig.format_with_markers(0.4, "3", bold=False, digits=2) == "0.40<sup>3</sup>"
    html = pd.DataFrame({"ROUGE-1": [sig.format_with_markers(0.5, "1", True)]}).to_html(escape=False)
    assert "<td><b>0.500</b><sup>1</sup></td>" in html


def test_marker_tests_give_the_markers_and_holm_only_removes_marks():
    base = np.random.default_rng(7).uniform(0.2, 0.6, 200)
    per_method = {m: rouge_scores(shift, seed, base=base) for m, shift, seed in (
        ("none", 0.0, 1), ("bm25", 0.001, 2), ("recency", 0.002, 3), ("dense", 0.0, 4), ("rrf", 0.003, 5),
        ("ropg", 0.005, 6), ("far", 0.3, 7))}
    aggregates = {m: means(s) for m, s in per_method.items()}
    tests = sig.marker_tests(per_method, aggregates, "lamp4", BASELINES)
    # one test per method, metric and baseline other than itself
    assert len(tests) == 2 * (len(per_method) * len(BASELINES) - len(BASELINES))
    assert sig.markers_from_tests(tests) == sig.markers(per_method, aggregates, "lamp4", BASELINES)
    for row in tests:  # Holm's step-down value, written out
        family = sorted(r["p"] for r in tests if (r["method"], r["metric"]) == (row["method"], row["metric"]))
        steps = [(len(family) - i) * p for i, p in enumerate(family) if p <= row["p"]]
        assert row["p_holm"] == pytest.approx(min(1.0, max(steps)))
    raw, holm = sig.markers_from_tests(tests), sig.markers_from_tests(tests, adjusted=True)
    for key in raw:
        assert set(filter(None, holm[key].split(","))) <= set(filter(None, raw[key].split(",")))
    assert raw[("far", "rouge1")] == holm[("far", "rouge1")] == "1,2,3,4,5"  # p ~ 0 survives correction
    lost = [r for r in tests if r["better"] and r["p"] < 0.05 <= r["p_holm"]]
    assert lost  # these data hold marginal wins that the correction removes
    for r in lost:
        assert str(r["position"]) in raw[(r["method"], r["metric"])].split(",")
        assert str(r["position"]) not in holm[(r["method"], r["metric"])].split(",")
