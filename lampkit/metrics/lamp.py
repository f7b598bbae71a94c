"""The official LaMP metrics (the LaMP benchmark's evaluation, as Salemi et al. section 6.2 uses it),
per example and aggregated.

Classification (LaMP-1/2): outputs are stripped and mapped to their index in the task's label
set (exact, case-sensitive; -1 outside it). Accuracy compares indices, as the official code
does (so -1 == -1 counts as a match; golds are valid labels in practice). F1 is macro over all
label indices, an absent class scoring 0, like ``sklearn.metrics.f1_score(labels=range(n),
average="macro", zero_division=0)``.

Rating (LaMP-3): ``float()`` of the stripped output; an unparsable output becomes the worst
rating for its gold (1 if ``|1 - y| > |5 - y|`` else 5). MAE and RMSE.

Generation (LaMP-4..7): ROUGE-1 and ROUGE-L F-measure of ``rouge_score`` (its default tokenizer,
no stemmer) on stripped texts, averaged over examples. The official scripts report the median of
a 1000-sample bootstrap instead, which approximates this mean.

EVAL (the training signal of ROPG and RSPG): accuracy, the normalised rating score or ROUGE-1.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from lampkit.data.layout import LampDataError, load_outputs
from lampkit.tasks import Task, get_task

__all__ = [
    "PER_EXAMPLE_COLUMN",
    "rouge_scorer_for",
    "eval_signal",
    "exact_match",
    "parse_rating",
    "normalised_rating_score",
    "rouge1_f",
    "label_index",
    "per_example",
    "aggregate",
    "evaluate_files",
]

_ROUGE_TYPES = ("rouge1", "rougeL")


@lru_cache(maxsize=None)
def rouge_scorer_for(rouge_types: tuple[str, ...]):
    """One ``RougeScorer`` per set of ROUGE types, built on first use."""
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(list(rouge_types), use_stemmer=False)

# the per-example column behind each aggregate metric
PER_EXAMPLE_COLUMN = {"accuracy": "correct", "f1": "correct", "mae": "abs_error", "rmse": "sq_error",
                      "rouge1": "rouge1", "rougeL": "rougeL"}


def exact_match(prediction: str, gold: str) -> bool:
    """Whether the stripped prediction equals the stripped gold (case-sensitive)."""
    return prediction.strip() == gold.strip()


def label_index(text: str, labels: Sequence[str]) -> int:
    """Index of the stripped ``text`` in ``labels``; -1 when it is not one of them."""
    text = text.strip()
    for i, label in enumerate(labels):
        if label == text:
            return i
    return -1


def _finite_float(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _gold_rating(gold: str) -> float:
    value = _finite_float(gold)
    if value is None:
        raise ValueError(f"gold rating {gold!r} is not a finite number")
    return value


def parse_rating(prediction: str, gold: str) -> float:
    """The rating a prediction stands for: ``float()`` of the stripped text.

    An unparsable prediction becomes the worst rating for ``gold``: 1 if ``|1 - y| > |5 - y|``
    else 5, as in the official code. Values outside 1..5 are kept, as the official code keeps
    them. Deliberate deviation: ``float()`` accepts ``nan`` and ``inf``, which would make MAE
    and RMSE ``nan`` or infinite; they are treated as unparsable (the worst rating) instead.
    A gold that is not a finite number raises ``ValueError``.
    """
    y = _gold_rating(gold)
    value = _finite_float(prediction)
    if value is not None:
        return value
    return 1.0 if abs(1.0 - y) > abs(5.0 - y) else 5.0


def normalised_rating_score(prediction: str, gold: str) -> float:
    """EVAL for LaMP-3: ``(worst - |y - y_hat|) / worst`` with ``worst = max(|1 - y|, |5 - y|)``.

    1 for the correct rating and 0 for the worst one (an unparsable prediction scores 0).
    ``y_hat`` comes from :func:`parse_rating`, so a prediction outside 1..5 can score below 0.
    """
    y = _gold_rating(gold)
    worst = max(abs(1.0 - y), abs(5.0 - y))
    return (worst - abs(y - parse_rating(prediction, gold))) / worst


def rouge1_f(prediction: str, gold: str) -> float:
    """ROUGE-1 F-measure of the stripped texts (``rouge_score``, no stemmer)."""
    return rouge_scorer_for(("rouge1",)).score(gold.strip(), prediction.strip())["rouge1"].fmeasure


def _check_inputs(predictions: Sequence[str], golds: Sequence[str]) -> None:
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions but {len(golds)} golds")
    if len(golds) == 0:
        raise ValueError("no examples to evaluate: predictions and golds are empty")
    for name, values in (("prediction", predictions), ("gold", golds)):
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise TypeError(f"{name} {i} is {type(v).__name__}, not str")


def per_example(task: str | Task, predictions: Sequence[str],
                golds: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-example scores, one array per key, in input order.

    Every task has ``eval`` (float64, :func:`eval_signal`). Classification adds
    ``correct`` (float64, 0/1 on label indices), ``pred_index`` and ``gold_index`` (int64, -1
    outside the label set); rating adds ``abs_error`` and ``sq_error`` (float64); generation
    adds ``rouge1`` and ``rougeL`` (float64 F-measures).
    """
    t = get_task(task)
    _check_inputs(predictions, golds)
    out: dict[str, np.ndarray] = {
        "eval": np.array([eval_signal(t, p, g) for p, g in zip(predictions, golds)], dtype=np.float64)
    }
    if t.kind == "classification":
        labels = t.labels or ()
        pred_index = np.array([label_index(p, labels) for p in predictions], dtype=np.int64)
        gold_index = np.array([label_index(g, labels) for g in golds], dtype=np.int64)
        out["correct"] = (pred_index == gold_index).astype(np.float64)
        out["pred_index"] = pred_index
        out["gold_index"] = gold_index
    elif t.kind == "rating":
        y_hat = np.array([parse_rating(p, g) for p, g in zip(predictions, golds)], dtype=np.float64)
        y = np.array([_gold_rating(g) for g in golds], dtype=np.float64)
        out["abs_error"] = np.abs(y - y_hat)
        out["sq_error"] = (y - y_hat) ** 2
    else:
        scorer = rouge_scorer_for(_ROUGE_TYPES)
        scores = [scorer.score(g.strip(), p.strip()) for p, g in zip(predictions, golds)]
        for key in _ROUGE_TYPES:
            out[key] = np.array([s[key].fmeasure for s in scores], dtype=np.float64)
    return out


def _macro_f1(pred_index: np.ndarray, gold_index: np.ndarray, n_labels: int) -> float:
    """Macro F1 over label indices ``0..n_labels-1``; a class with no support and no
    prediction scores 0; index -1 only ever counts as a miss."""
    f1 = np.zeros(n_labels, dtype=np.float64)
    for c in range(n_labels):
        tp = np.sum((pred_index == c) & (gold_index == c))
        fp = np.sum((pred_index == c) & (gold_index != c))
        fn = np.sum((pred_index != c) & (gold_index == c))
        denom = 2 * tp + fp + fn
        f1[c] = 2 * tp / denom if denom else 0.0
    return float(np.mean(f1))


def aggregate(task: str | Task, predictions: Sequence[str], golds: Sequence[str]) -> dict[str, float]:
    """The task's metrics (``Task.metrics``, in that order) over all examples."""
    t = get_task(task)
    scores = per_example(t, predictions, golds)
    values: dict[str, float] = {}
    if t.kind == "classification":
        values["accuracy"] = float(np.mean(scores["correct"]))
        values["f1"] = _macro_f1(scores["pred_index"], scores["gold_index"], len(t.labels or ()))
    elif t.kind == "rating":
        values["mae"] = float(np.mean(scores["abs_error"]))
        values["rmse"] = float(np.sqrt(np.mean(scores["sq_error"])))
    else:
        for key in _ROUGE_TYPES:
            values[key] = float(np.mean(scores[key]))
    return {m: values[m] for m in t.metrics}


def evaluate_files(task: str | Task, golds_path: str | Path, preds_path: str | Path) -> dict[str, float]:
    """Score an outputs file of predictions against an outputs file of golds.

    Both files use the official layout ``{"task": "LaMP_N", "golds": [{"id", "output"}]}``, read by
    :func:`lampkit.data.layout.load_outputs` with the rules of ``lampkit validate`` (ids strings or
    ints, unique; each gold one of the task's labels where it has a label set); the task must match
    and the two files must hold exactly the same ids.
    """
    t = get_task(task)
    golds_path, preds_path = Path(golds_path), Path(preds_path)
    # the golds pass validate's checks (a gold outside the label set is bad input); a prediction
    # outside it is a wrong answer, scored as one
    golds = load_outputs(golds_path, t, check_labels=True)
    preds = load_outputs(preds_path, t, check_labels=False)
    for path, records in ((golds_path, golds), (preds_path, preds)):
        if not records:
            raise LampDataError(path, "no records to evaluate", field="golds")
    for rid in golds:
        if rid not in preds:
            raise LampDataError(preds_path, f"id missing from predictions (present in {golds_path})",
                                record=rid, field="id")
    for rid in preds:
        if rid not in golds:
            raise LampDataError(preds_path, f"id not among the golds of {golds_path}", record=rid, field="id")
    ids = list(golds)
    return aggregate(t, [preds[i] for i in ids], [golds[i] for i in ids])


def eval_signal(task: str | Task, prediction: str, gold: str) -> float:
    """EVAL used as a training signal: accuracy, normalised rating score, or ROUGE-1."""
    t = get_task(task)
    if t.kind == "classification":
        return float(exact_match(prediction, gold))
    if t.kind == "rating":
        return float(normalised_rating_score(prediction, gold))
    return float(rouge1_f(prediction, gold))
