"""Significance markers of the paper's Table 3 (Salemi et al. section 6.3).

ROUGE-1, ROUGE-L, MAE and RMSE use a two-tailed paired t-test on per-example scores (absolute
errors for MAE, squared errors for RMSE); accuracy and F1 use McNemar's test on per-example
correctness, as the paper does for F1 too. A method beats a baseline when ``p < alpha``
(0.05) and its aggregate value is better in the metric's direction. Table 3 marks every
method with the 1-based indices of the baselines it beats: 1 no personalization, 2 BM25,
3 recency, 4 dense (Contriever), 5 RRF.
"""

from __future__ import annotations

import warnings
from typing import Mapping, Sequence

import numpy as np

from lampkit.tasks import Task, get_task
from lampkit.metrics.lamp import PER_EXAMPLE_COLUMN

__all__ = [
    "EXACT_MCNEMAR_BELOW",
    "paired_ttest",
    "mcnemar_test",
    "test_for_metric",
    "p_value",
    "beats",
    "markers",
    "marker_tests",
    "markers_from_tests",
    "format_with_markers",
    "holm",
]


# McNemar with exact=None: the exact binomial test while the discordant pairs b + c number fewer
# than this, else chi-square with continuity correction (the usual rule of thumb: the chi-square
# approximation is adequate from about 25 discordant pairs on)
EXACT_MCNEMAR_BELOW = 25

_TESTS = {"accuracy": "mcnemar", "f1": "mcnemar", "mae": "ttest", "rmse": "ttest",
          "rouge1": "ttest", "rougeL": "ttest"}


def _paired(a: Sequence[float] | np.ndarray,
            b: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"expected 1-D per-example scores, got shapes {x.shape} and {y.shape}")
    if len(x) != len(y):
        raise ValueError(f"paired scores differ in length: {len(x)} and {len(y)}")
    return x, y


def paired_ttest(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Two-tailed paired t-test (``scipy.stats.ttest_rel``): ``(statistic, p_value)``.

    Identical scores (every difference 0) give ``(0.0, 1.0)`` instead of scipy's ``nan``. A
    constant non-zero difference keeps scipy's ``(+-inf, 0.0)``. scipy's RuntimeWarnings for
    (nearly) constant differences (precision loss, division by zero) are silenced here on
    purpose: those cases are exactly the ones handled above or deliberately kept.
    """
    x, y = _paired(a, b)
    if len(x) < 2:
        raise ValueError(f"a paired t-test needs at least 2 examples, got {len(x)}")
    if np.all(x == y):
        return 0.0, 1.0
    from scipy.stats import ttest_rel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = ttest_rel(x, y)
    return float(result.statistic), float(result.pvalue)


def _correctness(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError("per-example correctness must be 0/1 (or booleans)")
    return arr.astype(bool)


def mcnemar_test(correct_a: Sequence[float] | np.ndarray, correct_b: Sequence[float] | np.ndarray,
                 exact: bool | None = None) -> float:
    """McNemar's p-value (``statsmodels``) on the 2x2 table of per-example correctness.

    ``exact=None`` picks the exact binomial test when the discordant pairs ``b + c`` number
    fewer than :data:`EXACT_MCNEMAR_BELOW` (25), else chi-square with continuity correction.
    No discordant pair gives 1.0 (statsmodels' chi-square would divide by zero).
    """
    from statsmodels.stats.contingency_tables import mcnemar

    x, y = _paired(correct_a, correct_b)
    x, y = _correctness(x), _correctness(y)
    table = np.array([[np.sum(x & y), np.sum(x & ~y)], [np.sum(~x & y), np.sum(~x & ~y)]])
    discordant = int(table[0, 1] + table[1, 0])
    if discordant == 0:
        return 1.0
    if exact is None:
        exact = discordant < EXACT_MCNEMAR_BELOW
    return float(mcnemar(table, exact=exact, correction=True).pvalue)


def test_for_metric(metric: str) -> str:
    """``"mcnemar"`` for accuracy and F1, ``"ttest"`` for MAE, RMSE, ROUGE-1 and ROUGE-L."""
    if metric not in _TESTS:
        raise KeyError(f"no significance test for metric {metric!r}; expected one of {', '.join(_TESTS)}")
    return _TESTS[metric]


# not a pytest test, despite its name
test_for_metric.__test__ = False  # type: ignore[attr-defined]


def p_value(per_example_a: Mapping[str, np.ndarray], per_example_b: Mapping[str, np.ndarray],
            metric: str) -> float:
    """The metric's test on two methods' per-example scores (:func:`lampkit.metrics.lamp.per_example`)."""
    column = PER_EXAMPLE_COLUMN[metric]
    if test_for_metric(metric) == "mcnemar":
        return mcnemar_test(per_example_a[column], per_example_b[column])
    return paired_ttest(per_example_a[column], per_example_b[column])[1]


def beats(per_example_a: Mapping[str, np.ndarray], per_example_b: Mapping[str, np.ndarray],
          value_a: float, value_b: float, metric: str, higher_is_better: bool, alpha: float = 0.05) -> bool:
    """Whether method a is significantly better than b on ``metric``.

    True when a's aggregate ``value_a`` is strictly better than ``value_b`` in the metric's
    direction and :func:`p_value` on the per-example scores is below ``alpha``. The direction
    comes from the aggregates, so for F1 (tested with McNemar on correctness) it is F1's.
    """
    better = value_a > value_b if higher_is_better else value_a < value_b
    return bool(better) and p_value(per_example_a, per_example_b, metric) < alpha


def markers(per_method: Mapping[str, Mapping[str, np.ndarray]], aggregates: Mapping[str, Mapping[str, float]],
            task: str | Task, baselines: Sequence[str],
            alpha: float = 0.05) -> dict[tuple[str, str], str]:
    """Table 3's markers for every method of ``per_method`` and every metric of the task.

    The value for ``(method, metric)`` lists, ascending and comma-separated, the 1-based
    positions in ``baselines`` of the baselines the method beats (e.g. ``"1,2,4"``; ``""`` for
    none). A baseline never beats itself (identical scores: p = 1, equal aggregates). Every
    baseline must be among the methods.
    """
    t = get_task(task)
    missing = [b for b in baselines if b not in per_method]
    if missing:
        raise KeyError(f"baselines missing from the methods: {', '.join(missing)}")
    out: dict[tuple[str, str], str] = {}
    for method, scores in per_method.items():
        for metric in t.metrics:
            higher = t.metric_higher_is_better(metric)
            beaten = [str(i + 1) for i, base in enumerate(baselines)
                      if beats(scores, per_method[base], aggregates[method][metric],
                                aggregates[base][metric], metric, higher, alpha)]
            out[(method, metric)] = ",".join(beaten)
    return out


def marker_tests(per_method: Mapping[str, Mapping[str, np.ndarray]], aggregates: Mapping[str, Mapping[str, float]],
                 task: str | Task, baselines: Sequence[str]) -> list[dict]:
    """Every test behind Table 3's markers, with Holm's correction beside the raw p-value.

    One record per method, metric and baseline other than the method itself: ``position`` (the
    baseline's 1-based marker), ``better`` (the method's aggregate is strictly better in the
    metric's direction), ``p`` (:func:`p_value`) and ``p_holm``: :func:`holm` over one family, the
    tests of one method against every baseline on one metric and task (the family a Table 3 cell's
    markers come from). :func:`markers` marks ``better and p < alpha``; :func:`markers_from_tests`
    with ``adjusted=True`` marks ``better and p_holm < alpha``.
    """
    t = get_task(task)
    missing = [b for b in baselines if b not in per_method]
    if missing:
        raise KeyError(f"baselines missing from the methods: {', '.join(missing)}")
    rows: list[dict] = []
    for method, scores in per_method.items():
        for metric in t.metrics:
            higher = t.metric_higher_is_better(metric)
            family = []
            for i, base in enumerate(baselines):
                if base == method:
                    continue
                a, b = aggregates[method][metric], aggregates[base][metric]
                family.append({"method": method, "metric": metric, "baseline": base, "position": i + 1,
                               "better": bool(a > b if higher else a < b),
                               "p": float(p_value(scores, per_method[base], metric))})
            for row, adjusted in zip(family, holm([r["p"] for r in family])):
                row["p_holm"] = float(adjusted)
            rows += family
    return rows


def markers_from_tests(tests: Sequence[Mapping], alpha: float = 0.05, adjusted: bool = False) -> dict[tuple[str, str], str]:
    """Table 3's markers from :func:`marker_tests` records: raw p-values, or Holm's (``adjusted``)."""
    column = "p_holm" if adjusted else "p"
    beaten: dict[tuple[str, str], list[int]] = {}
    for row in tests:
        marks = beaten.setdefault((row["method"], row["metric"]), [])
        if row["better"] and row[column] < alpha:
            marks.append(int(row["position"]))
    return {key: ",".join(str(i) for i in sorted(v)) for key, v in beaten.items()}


def format_with_markers(value: float, marker: str, bold: bool, digits: int = 3) -> str:
    """A table cell in HTML, e.g. ``<b>0.412</b><sup>1,2</sup>``.

    HTML rather than markdown because Jupyter Book renders a pandas table (``Styler`` or
    ``DataFrame.to_html(escape=False)``) as raw HTML, where ``**bold**`` would show literally.
    An empty marker adds no ``<sup>``.
    """
    text = f"{value:.{digits}f}"
    if bold:
        text = f"<b>{text}</b>"
    return f"{text}<sup>{marker}</sup>" if marker else text


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values of one family of tests (same order as ``p_values``).

    The i-th smallest p-value of m is multiplied by m - i + 1 (i from 1), made non-decreasing
    along that order and capped at 1; rejecting where the adjusted value is below alpha controls
    the family-wise error rate at alpha. NaN p-values stay NaN and do not count in m.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    if finite.size == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out
