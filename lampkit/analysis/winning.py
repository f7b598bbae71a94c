"""Which retriever wins on each input (Figure 3), and whether retrieval matters at all.

Per input, every retriever of the pool whose main metric (accuracy, MAE, ROUGE-1) equals the
best on that input wins (ties all win). The *relative* winning rate normalises the wins to sum
to one over the pool (Salemi et al. section 6.3, Figure 3).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from lampkit.feedback import eval_matrix
from lampkit.metrics.lamp import PER_EXAMPLE_COLUMN
from lampkit.tasks import Task, get_task

__all__ = ["main_matrix", "winners", "winning_rates", "differing_share", "rate_ranges", "retrieval_matters",
           "failed_conditions", "MIN_MARGIN", "MIN_DIFFERING_SHARE", "MAX_RELATIVE_RATE"]

# the retrieval-matters conditions (chapter 02 states them from these)
#: the best single retriever beats no personalization by at least this much (in the metric's direction)
MIN_MARGIN = 0.02
#: at least this share of the inputs do not get the same score from every retriever of the pool
MIN_DIFFERING_SHARE = 0.2
#: no retriever's relative winning rate is above this
MAX_RELATIVE_RATE = 0.4


def main_matrix(df: pd.DataFrame, task: str | Task, retrievers: Sequence[str]) -> np.ndarray:
    """Inputs x retrievers matrix of the task's main per-example metric from pool feedback."""
    t = get_task(task)
    return eval_matrix(df, retrievers, PER_EXAMPLE_COLUMN[t.main_metric])


def winners(matrix: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Boolean matrix: True where a retriever equals the best of its input (ties all win)."""
    m = np.asarray(matrix, dtype=np.float64)
    best = m.max(axis=1, keepdims=True) if higher_is_better else m.min(axis=1, keepdims=True)
    return m == best


def winning_rates(df: pd.DataFrame, task: str | Task, retrievers: Sequence[str]) -> pd.DataFrame:
    """Per retriever: wins, the share of inputs it wins, and the relative winning rate."""
    t = get_task(task)
    m = main_matrix(df, t, retrievers)
    w = winners(m, t.higher_is_better)
    wins = w.sum(axis=0)
    return pd.DataFrame({"retriever": list(retrievers), "wins": wins, "win_share": wins / len(m),
                         "relative_rate": wins / wins.sum()})


def differing_share(df: pd.DataFrame, task: str | Task, retrievers: Sequence[str]) -> float:
    """The share of inputs on which the retrievers' main metrics are not all equal (where a winner
    is more than a tie of everyone)."""
    m = main_matrix(df, task, retrievers)
    return float((m.max(axis=1) != m.min(axis=1)).mean()) if len(m) else float("nan")


def rate_ranges(rates: pd.DataFrame, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per retriever, the lowest and highest relative winning rate over the tasks of ``rates``
    (:func:`winning_rates` frames with a ``task`` column, concatenated) and, from ``paper`` (columns
    retriever, low, high: the ranges the paper quotes), the paper's range and whether this build's
    range lies inside it; retrievers the paper gives no range for are left empty there."""
    out = rates.groupby("retriever", sort=False)["relative_rate"].agg(low="min", high="max")
    if paper is not None:
        ranges = paper.set_index("retriever")
        out["paper_low"] = ranges["low"].reindex(out.index)
        out["paper_high"] = ranges["high"].reindex(out.index)
        known = out["paper_low"].notna()
        inside = (out["low"] >= out["paper_low"]) & (out["high"] <= out["paper_high"])
        out["inside_paper_range"] = inside.where(known, other=pd.NA).astype("boolean")
    return out


def retrieval_matters(df: pd.DataFrame, task: str | Task, retrievers: Sequence[str],
                      none: str = "none", min_margin: float = MIN_MARGIN) -> dict[str, object]:
    """The retrieval-matters checks for one task on pool feedback.

    Returns the main metric of no personalization, of the best single retriever and of the
    per-input oracle over the pool; the share of inputs where the pool's retrievers do not all
    score the same; the largest relative winning rate; and whether every condition holds:
    best single beats no personalization by ``min_margin`` (in the metric's direction), the
    oracle beats the best single, at least ``MIN_DIFFERING_SHARE`` of inputs differ, no rate above
    ``MAX_RELATIVE_RATE``.
    """
    t = get_task(task)
    m = main_matrix(df, t, retrievers)
    sign = t.sign
    means = m.mean(axis=0)
    best = int(np.argmax(sign * means))
    oracle = (m.max(axis=1) if t.higher_is_better else m.min(axis=1)).mean()
    none_value = float(means[list(retrievers).index(none)])
    differing = float((m.max(axis=1) != m.min(axis=1)).mean())
    rates = winning_rates(df, t, retrievers)["relative_rate"]
    margin = sign * (means[best] - none_value)
    result = {
        "task": t.name, "metric": t.main_metric, "no_personalization": none_value,
        "best_single": float(means[best]), "best_retriever": retrievers[best], "oracle": float(oracle),
        "margin": float(margin), "differing_share": differing, "max_relative_rate": float(rates.max()),
    }
    result["holds"] = not failed_conditions(result, min_margin)
    return result


def failed_conditions(row: Mapping[str, object], min_margin: float = MIN_MARGIN) -> list[str]:
    """The retrieval-matters conditions a :func:`retrieval_matters` result (or a row of their frame) misses,
    in words; none missed: the conditions hold."""
    failed = []
    if float(row["margin"]) < min_margin:
        failed.append(f"the best single retriever beats no personalization by {float(row['margin']):.3f} only, "
                      f"less than {min_margin}")
    if float(row["oracle"]) == float(row["best_single"]):  # the oracle is never worse than a retriever
        failed.append("the oracle does not beat the best single retriever")
    if float(row["differing_share"]) < MIN_DIFFERING_SHARE:
        failed.append(f"the retrievers differ on {100 * float(row['differing_share']):.1f}% of inputs only, "
                      f"less than {MIN_DIFFERING_SHARE:.0%}")
    if float(row["max_relative_rate"]) > MAX_RELATIVE_RATE:
        failed.append(f"one retriever's relative winning rate is {100 * float(row['max_relative_rate']):.1f}%, "
                      f"above {MAX_RELATIVE_RATE:.0%}")
    return failed
