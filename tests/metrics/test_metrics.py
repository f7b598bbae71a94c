"""Hand-computed checks of lampkit.metrics.lamp (the official LaMP evaluation)."""

from __future__ import annotations

import json
import math
from fractions import Fraction as F

import numpy as np
import pytest

from lampkit.metrics import lamp as metrics
from lampkit.data.layout import LampDataError
from lampkit.tasks import LAMP2_TAGS, all_tasks, get_task

# (worst - |y - y_hat|) / worst, worst = max(|1 - y|, |5 - y|); rows y = 1..5, columns
# y_hat = 1..5 then an unparsable output (which becomes the worst rating, so scores 0).
NORMALISED_TABLE = {
    1: [F(4, 4), F(3, 4), F(2, 4), F(1, 4), F(0, 4), F(0)],
    2: [F(2, 3), F(3, 3), F(2, 3), F(1, 3), F(0, 3), F(0)],
    3: [F(0, 2), F(1, 2), F(2, 2), F(1, 2), F(0, 2), F(0)],
    4: [F(0, 3), F(1, 3), F(2, 3), F(3, 3), F(2, 3), F(0)],
    5: [F(0, 4), F(1, 4), F(2, 4), F(3, 4), F(4, 4), F(0)],
}


@pytest.mark.parametrize("y", range(1, 6))
def test_normalised_rating_score_table(y):
    outputs = ["1", "2", "3", "4", "5", "five"]
    got = [metrics.normalised_rating_score(o, str(y)) for o in outputs]
    assert got == pytest.approx([float(v) for v in NORMALISED_TABLE[y]], abs=1e-15)


@pytest.mark.parametrize("gold,worst", [("1", 5.0), ("2", 5.0), ("3", 5.0), ("4", 1.0), ("5", 1.0)])
@pytest.mark.parametrize("pred", ["", "five", "3 stars", "4/5", "nan", "NaN", "inf", "-inf", "1e400"])
def test_unparsable_rating_becomes_worst(pred, gold, worst):
    assert metrics.parse_rating(pred, gold) == worst
    assert metrics.normalised_rating_score(pred, gold) == 0.0


@pytest.mark.parametrize("pred,value", [(" 4 ", 4.0), ("\t2\n", 2.0), ("4.5", 4.5), ("1e0", 1.0),
                                        ("7", 7.0), ("-2", -2.0)])
def test_parse_rating_uses_float(pred, value):
    assert metrics.parse_rating(pred, "3") == value


def test_out_of_range_rating_is_kept_like_the_official_code():
    # y = 1, y_hat = 9: worst = 4, |y - y_hat| = 8 -> (4 - 8) / 4
    assert metrics.normalised_rating_score("9", "1") == -1.0
    assert metrics.normalised_rating_score("4.5", "5") == pytest.approx(0.875)


@pytest.mark.parametrize("gold", ["", "five", "nan", "inf"])
def test_unparsable_gold_rating_raises(gold):
    with pytest.raises(ValueError, match="gold rating"):
        metrics.parse_rating("3", gold)


def test_exact_match_strips_and_is_case_sensitive():
    assert metrics.exact_match(" comedy\n", "comedy")
    assert not metrics.exact_match("Comedy", "comedy")
    assert not metrics.exact_match("[1]", "[2]")


def test_label_index():
    assert metrics.label_index(" [2] ", ("[1]", "[2]")) == 1
    assert metrics.label_index("2", ("[1]", "[2]")) == -1
    assert metrics.label_index("Comedy", LAMP2_TAGS) == -1
    assert metrics.label_index("true story", LAMP2_TAGS) == 14


def test_f1_macro_over_all_labels_with_absent_classes():
    golds = ["comedy", "comedy", "action"]
    preds = ["comedy", "action", "not a tag"]
    # comedy: tp 1, fp 0, fn 1 -> 2/3; action: tp 0 -> 0; 13 absent classes -> 0
    res = metrics.aggregate("lamp2", preds, golds)
    assert list(res) == ["accuracy", "f1"]
    assert res["accuracy"] == pytest.approx(1 / 3)
    assert res["f1"] == pytest.approx((2 / 3) / 15)


def test_f1_lamp1_by_hand():
    golds = ["[1]", "[1]", "[2]", "[2]"]
    preds = ["[1]", "[2]", "[2]", " [2]"]
    # [1]: tp 1, fp 0, fn 1 -> 2/3; [2]: tp 2, fp 1, fn 0 -> 4/5
    res = metrics.aggregate("lamp1", preds, golds)
    assert res == pytest.approx({"accuracy": 0.75, "f1": (2 / 3 + 4 / 5) / 2})


def test_accuracy_on_indices_counts_two_invalid_outputs_as_a_match():
    # The official code compares label indices, so -1 == -1 is a hit (golds are valid in practice).
    res = metrics.aggregate("lamp1", ["x"], ["y"])
    assert res == {"accuracy": 1.0, "f1": 0.0}
    assert metrics.per_example("lamp1", ["x"], ["y"])["eval"][0] == 0.0  # EVAL compares strings


def test_mae_rmse_by_hand():
    preds = ["1", "five", " 4 ", "nan"]
    golds = ["5", "2", "4", "3"]
    # y_hat = 1, 5 (worst for 2), 4, 5 (worst for 3): errors 4, 3, 0, 2
    res = metrics.aggregate("lamp3", preds, golds)
    assert list(res) == ["mae", "rmse"]
    assert res["mae"] == pytest.approx(9 / 4)
    assert res["rmse"] == pytest.approx(math.sqrt(29 / 4))


def test_rouge_by_hand():
    assert metrics.rouge1_f("a b c", "a b d") == pytest.approx(2 / 3)
    assert metrics.rouge1_f("Hello, World!", " hello world ") == 1.0  # default tokenizer lowercases
    assert metrics.rouge1_f("running", "run") == 0.0  # no stemmer
    assert metrics.rouge1_f("", "a b") == 0.0
    # "b a" vs "a b": ROUGE-1 1.0, longest common subsequence 1 -> ROUGE-L 0.5
    scores = metrics.per_example("lamp5", ["b a", "the cat sat"], ["a b", "the cat sat on the mat"])
    assert scores["rouge1"] == pytest.approx([1.0, 2 / 3])
    assert scores["rougeL"] == pytest.approx([0.5, 2 / 3])
    res = metrics.aggregate("lamp5", ["b a", "the cat sat"], ["a b", "the cat sat on the mat"])
    assert res == pytest.approx({"rouge1": (1 + 2 / 3) / 2, "rougeL": (0.5 + 2 / 3) / 2})
    assert list(res) == ["rouge1", "rougeL"]


def _fixture(task, n=5):
    if task.kind == "generation":
        golds = [f"word{i} shared text" for i in range(n)]
        preds = ["shared", "", "word0 text", "other", "  shared text  "][:n]
    else:
        golds = [task.labels[i % len(task.labels)] for i in range(n)]
        preds = [task.labels[(i * 2) % len(task.labels)] for i in range(n - 1)] + ["?"]
    return preds, golds


KEYS = {
    "classification": {"eval", "correct", "pred_index", "gold_index"},
    "rating": {"eval", "abs_error", "sq_error"},
    "generation": {"eval", "rouge1", "rougeL"},
}


@pytest.mark.parametrize("task", all_tasks(), ids=lambda t: t.name)
def test_per_example_keys_shapes_and_eval(task):
    preds, golds = _fixture(task)
    scores = metrics.per_example(task.name, preds, golds)
    assert set(scores) == KEYS[task.kind]
    for key, arr in scores.items():
        assert isinstance(arr, np.ndarray) and arr.shape == (5,)
        assert arr.dtype == (np.int64 if key.endswith("_index") else np.float64)
    expected_eval = [metrics.eval_signal(task, p, g) for p, g in zip(preds, golds)]
    np.testing.assert_array_equal(scores["eval"], expected_eval)
    agg = metrics.aggregate(task, preds, golds)
    assert tuple(agg) == task.metrics
    assert all(isinstance(v, float) for v in agg.values())


def test_per_example_classification_indices():
    scores = metrics.per_example("lamp2", ["comedy", "Comedy", " action "], ["comedy", "comedy", "classic"])
    np.testing.assert_array_equal(scores["pred_index"], [2, -1, 3])
    np.testing.assert_array_equal(scores["gold_index"], [2, 2, 7])
    np.testing.assert_array_equal(scores["correct"], [1.0, 0.0, 0.0])


def test_per_example_rating_errors():
    scores = metrics.per_example("lamp3", ["2", "", "4.5"], ["4", "2", "5"])
    np.testing.assert_array_equal(scores["abs_error"], [2.0, 3.0, 0.5])
    np.testing.assert_array_equal(scores["sq_error"], [4.0, 9.0, 0.25])
    np.testing.assert_allclose(scores["eval"], [1 / 3, 0.0, 0.875])


@pytest.mark.parametrize("fn", [metrics.per_example, metrics.aggregate])
def test_length_mismatch_and_empty_inputs(fn):
    with pytest.raises(ValueError, match="2 predictions but 1 golds"):
        fn("lamp1", ["[1]", "[2]"], ["[1]"])
    with pytest.raises(ValueError, match="empty"):
        fn("lamp4", [], [])
    with pytest.raises(TypeError, match="prediction 1"):
        fn("lamp3", ["1", None], ["1", "2"])


def test_task_object_and_name_are_equivalent():
    preds, golds = ["3", "x"], ["3", "4"]
    assert metrics.aggregate(get_task("lamp3"), preds, golds) == metrics.aggregate("LaMP_3", preds, golds)


# ----- evaluate_files ------------------------------------------------------------------


def _write(path, obj):
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def _outputs(task, pairs):
    return {"task": task, "golds": [{"id": i, "output": o} for i, o in pairs]}


@pytest.fixture
def gold_file(tmp_path):
    return _write(tmp_path / "golds.json", _outputs("LaMP_3", [("10", "5"), ("11", "1"), ("12", "3")]))


def test_evaluate_files_matches_aggregate_in_any_order(tmp_path, gold_file):
    preds = _write(tmp_path / "preds.json", _outputs("LaMP_3", [("12", "x"), ("10", "4"), ("11", " 1")]))
    res = metrics.evaluate_files("lamp3", gold_file, preds)
    # errors: 10 -> 1, 11 -> 0, 12 -> |3 - 5| = 2
    assert res == pytest.approx({"mae": 1.0, "rmse": math.sqrt(5 / 3)})


def _assert_error(excinfo, path, record=None, field=None):
    msg = str(excinfo.value)
    assert str(path) in msg
    assert excinfo.value.file == str(path)
    if record is not None:
        assert f"record {record}" in msg and excinfo.value.record == record
    if field is not None:
        assert repr(field) in msg and excinfo.value.field == field


def test_evaluate_files_missing_id(tmp_path, gold_file):
    preds = _write(tmp_path / "preds.json", _outputs("LaMP_3", [("10", "4"), ("12", "3")]))
    with pytest.raises(LampDataError, match="missing") as exc:
        metrics.evaluate_files("lamp3", gold_file, preds)
    _assert_error(exc, preds, "11", "id")


def test_evaluate_files_extra_id(tmp_path, gold_file):
    preds = _write(tmp_path / "preds.json",
                   _outputs("LaMP_3", [("10", "4"), ("11", "3"), ("12", "3"), ("99", "1")]))
    with pytest.raises(LampDataError, match="not among the golds") as exc:
        metrics.evaluate_files("lamp3", gold_file, preds)
    _assert_error(exc, preds, "99", "id")


@pytest.mark.parametrize("which", ["golds", "preds"])
def test_evaluate_files_duplicate_id(tmp_path, gold_file, which):
    pairs = [("10", "4"), ("11", "3"), ("12", "3"), ("11", "2")]
    path = _write(tmp_path / f"{which}_dup.json", _outputs("LaMP_3", pairs))
    args = (path, _write(tmp_path / "p.json", _outputs("LaMP_3", pairs[:3]))) if which == "golds" \
        else (gold_file, path)
    with pytest.raises(LampDataError, match="duplicate id") as exc:
        metrics.evaluate_files("lamp3", *args)
    _assert_error(exc, path, "11 (#3)", "id")


def test_evaluate_files_refuses_a_gold_outside_the_label_set_as_validate_does(tmp_path):
    """Was: gold "Comedy" (not a LaMP-2 tag) against prediction "no idea" scored accuracy 1.0, exit 0."""
    golds = _write(tmp_path / "golds.json", _outputs("LaMP_2", [("1", "comedy"), ("2", "Comedy")]))
    preds = _write(tmp_path / "preds.json", _outputs("LaMP_2", [("1", "comedy"), ("2", "no idea")]))
    with pytest.raises(LampDataError, match="not a LaMP_2 label") as exc:
        metrics.evaluate_files("lamp2", golds, preds)
    _assert_error(exc, golds, "2", "output")
    # a prediction outside the label set is a wrong answer, not bad input
    golds = _write(tmp_path / "golds.json", _outputs("LaMP_2", [("1", "comedy"), ("2", "comedy")]))
    assert metrics.evaluate_files("lamp2", golds, preds)["accuracy"] == 0.5


def test_evaluate_files_takes_integer_ids_as_validate_does(tmp_path):
    golds = _write(tmp_path / "golds.json", _outputs("LaMP_3", [(10, "5"), (11, "1")]))
    preds = _write(tmp_path / "preds.json", _outputs("LaMP_3", [("11", "1"), (10, "4")]))
    assert metrics.evaluate_files("lamp3", golds, preds) == pytest.approx({"mae": 0.5, "rmse": math.sqrt(0.5)})


def test_evaluate_files_wrong_task_name(tmp_path, gold_file):
    preds = _write(tmp_path / "preds.json", _outputs("LaMP_4", [("10", "4"), ("11", "3"), ("12", "3")]))
    with pytest.raises(LampDataError, match="'LaMP_4', expected 'LaMP_3'") as exc:
        metrics.evaluate_files("lamp3", gold_file, preds)
    _assert_error(exc, preds, field="task")
    with pytest.raises(LampDataError) as exc:
        metrics.evaluate_files("lamp4", gold_file, preds)
    _assert_error(exc, gold_file, field="task")


def test_evaluate_files_invalid_json(tmp_path, gold_file):
    preds = tmp_path / "preds.json"
    preds.write_text('{"task": "LaMP_3", "golds": [', encoding="utf-8")
    with pytest.raises(LampDataError, match="invalid JSON") as exc:
        metrics.evaluate_files("lamp3", gold_file, preds)
    _assert_error(exc, preds)


def test_evaluate_files_non_string_output(tmp_path, gold_file):
    preds = _write(tmp_path / "preds.json", _outputs("LaMP_3", [("10", 4), ("11", "3"), ("12", "3")]))
    with pytest.raises(LampDataError, match="must be a string, not int 4") as exc:
        metrics.evaluate_files("lamp3", gold_file, preds)
    _assert_error(exc, preds, "10", "output")


def test_evaluate_files_non_string_id_and_layout(tmp_path, gold_file):
    preds = _write(tmp_path / "preds.json", _outputs("LaMP_3", [(10.5, "4")]))  # an int id is the official layout's
    with pytest.raises(LampDataError, match="must be a non-empty string or an int") as exc:
        metrics.evaluate_files("lamp3", gold_file, preds)
    _assert_error(exc, preds, "#0", "id")
    preds = _write(tmp_path / "list.json", [{"id": "10", "output": "4"}])
    with pytest.raises(LampDataError, match="must hold an object") as exc:
        metrics.evaluate_files("lamp3", gold_file, preds)
    _assert_error(exc, preds)
    preds = _write(tmp_path / "empty.json", _outputs("LaMP_3", []))
    with pytest.raises(LampDataError, match="no records") as exc:
        metrics.evaluate_files("lamp3", gold_file, preds)
    _assert_error(exc, preds, field="golds")


def test_evaluate_files_bad_gold_rating(tmp_path):
    golds = _write(tmp_path / "golds.json", _outputs("LaMP_3", [("1", "4"), ("2", "four")]))
    preds = _write(tmp_path / "preds.json", _outputs("LaMP_3", [("1", "4"), ("2", "4")]))
    with pytest.raises(LampDataError, match=r"'four' is not a LaMP_3 label \(1, 2, 3, 4, 5\)") as exc:
        metrics.evaluate_files("lamp3", golds, preds)
    _assert_error(exc, golds, "2", "output")
