"""The oracle of retriever selection and the success of a choice (paper section 6.5, Tables 4 and 5).

Both read an inputs x retrievers matrix of the task's main metric
(:func:`lampkit.analysis.winning.main_matrix`): the oracle picks, per input, the best (upper bound)
or the worst (lower bound) retriever of the pool; a choice succeeds on an input when the retriever
it picked is tied for the best there.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from lampkit.analysis.winning import winners

__all__ = ["OracleBounds", "oracle_bounds", "oracle_choices", "success_rate"]


class OracleBounds(NamedTuple):
    """Per input, the metric of the worst (``lower``) and the best (``upper``) retriever of the pool.

    "Lower" and "upper" follow the metric's direction: for an error such as MAE, ``lower`` is
    the largest error and ``upper`` the smallest.
    """

    lower: np.ndarray
    upper: np.ndarray


def oracle_bounds(matrix: np.ndarray, higher_is_better: bool = True) -> OracleBounds:
    """Oracle lower and upper bound per input of an inputs x retrievers metric ``matrix`` (Table 5)."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] == 0:
        raise ValueError(f"matrix must be inputs x retrievers with at least one retriever, got shape {m.shape}")
    worst, best = (m.min(axis=1), m.max(axis=1)) if higher_is_better else (m.max(axis=1), m.min(axis=1))
    return OracleBounds(worst, best)


def oracle_choices(matrix: np.ndarray, higher_is_better: bool = True, upper: bool = True) -> np.ndarray:
    """Per input, the pool index of the best (``upper``) or worst retriever; ties go to the first in the pool."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] == 0:
        raise ValueError(f"matrix must be inputs x retrievers with at least one retriever, got shape {m.shape}")
    pick = np.argmax if higher_is_better == upper else np.argmin
    return pick(m, axis=1).astype(np.int64)


def success_rate(chosen: Sequence[int], matrix: np.ndarray, higher_is_better: bool = True) -> float:
    """Share of inputs whose chosen retriever (a pool index) is tied for the best on that input (Table 4)."""
    m = np.asarray(matrix, dtype=np.float64)
    idx = np.asarray(chosen, dtype=np.int64)
    if m.ndim != 2 or idx.shape != (m.shape[0],):
        raise ValueError(f"need one choice per input: {idx.shape} choices for a matrix of shape {m.shape}")
    if idx.size == 0:
        raise ValueError("no inputs")
    if idx.min() < 0 or idx.max() >= m.shape[1]:
        raise ValueError(f"choices must be pool indices in [0, {m.shape[1]})")
    return float(winners(m, higher_is_better)[np.arange(len(idx)), idx].mean())
