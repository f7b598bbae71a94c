"""Query performance predictors (QPP): guess from a retriever's scores how good its result is.

The RSPG paper's QPP baselines (Table 4) score each retriever's result list for an input and
choose the retriever with the highest predicted quality (Salemi et al. section 6, Table 4). Each predictor reads
ONE retriever's scores over one user's profile, in any order; with s_1 >= s_2 >= ... those
scores sorted descending, top-k the first k of them (all of them when the profile is shorter)
and s_D the mean over the whole profile (the score of the "collection"):

- WIG = mean over top-k of (s_i - s_D), divided by sqrt(query length in tokens);
- NQC = standard deviation of the top-k scores divided by ``|s_D|`` (0.0 when s_D = 0);
- sigma_max = the largest standard deviation of a prefix s_1..s_j, j >= 2;
- sigma_x = standard deviation of the scores that are at least x * s_1 (0.0 when s_1 <= 0).

Every standard deviation is the population one (ddof = 0). NQC follows the RSPG paper
(Salemi et al. section 6, Table 4): the deviation
is taken around the mean of the top-k scores (Shtok et al. take it around s_D instead). An empty
profile predicts 0.0 everywhere. No personalization scores every item 0 and recency scores an
item by its reciprocal rank (:mod:`lampkit.retrievers.simple`), so both are read the same way.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np

from lampkit.retrievers.base import Ranking

__all__ = ["PREDICTORS", "wig", "nqc", "sigma_max", "sigma_x", "qpp_scores", "qpp_select", "qpp_choices"]


def _descending(scores: np.ndarray) -> np.ndarray:
    return np.sort(np.asarray(scores, dtype=np.float64).ravel())[::-1]


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def wig(scores: np.ndarray, query_length: int, k: int = 4) -> float:
    """Weighted information gain: mean of (s_i - s_D) over the top ``k``, over sqrt(``query_length``)."""
    if query_length < 1:
        raise ValueError(f"query_length must be at least 1, got {query_length}")
    _check_k(k)
    s = _descending(scores)
    if s.size == 0:
        return 0.0
    return float(np.mean(s[:k] - s.mean()) / math.sqrt(query_length))


def nqc(scores: np.ndarray, k: int = 4) -> float:
    """Normalised query commitment: population std of the top ``k`` scores over ``|s_D|``.

    When the mean s_D of all scores is 0 (e.g. no personalization's all-zero scores) the ratio
    is undefined and the prediction is 0.0: no evidence of quality.
    """
    _check_k(k)
    s = _descending(scores)
    if s.size == 0:
        return 0.0
    collection = abs(s.mean())
    if collection == 0.0:
        return 0.0
    return float(np.std(s[:k]) / collection)


def sigma_max(scores: np.ndarray) -> float:
    """The largest population std of a prefix s_1..s_j (j >= 2) of the descending scores; 0.0 below 2 items."""
    s = _descending(scores)
    if s.size < 2:
        return 0.0
    d = s - s[0]  # variance ignores a shift; shifting by s_1 keeps the running sums small
    j = np.arange(1, s.size + 1)
    var = np.cumsum(d * d) / j - (np.cumsum(d) / j) ** 2
    return float(math.sqrt(max(float(var[1:].max()), 0.0)))


def sigma_x(scores: np.ndarray, x: float = 0.5) -> float:
    """Population std of the scores at least ``x`` * s_1 (``x`` = 0.5 is the paper's sigma_50%).

    When the top score s_1 is not positive the threshold x * s_1 no longer keeps the top of the
    list (for s_1 < 0 it lies above s_1), so the prediction is 0.0.
    """
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must lie in [0, 1], got {x}")
    s = _descending(scores)
    if s.size == 0 or s[0] <= 0.0:
        return 0.0
    return float(np.std(s[s >= x * s[0]]))


PREDICTORS: dict[str, Callable[..., float]] = {"wig": wig, "nqc": nqc, "sigma_max": sigma_max, "sigma_x": sigma_x}


def qpp_scores(rankings: Mapping[str, Ranking], query_length: int, predictor: str,
               **settings: float) -> dict[str, float]:
    """Predicted quality of each retriever's ranking (name -> score), in the order of ``rankings``.

    ``predictor`` names one of :data:`PREDICTORS`; ``settings`` are its options (``k`` for WIG
    and NQC, ``x`` for sigma_x). ``query_length`` (tokens of the input's query) is read by WIG only.
    """
    if predictor not in PREDICTORS:
        raise ValueError(f"unknown predictor {predictor!r}; choose from {sorted(PREDICTORS)}")
    fn = PREDICTORS[predictor]
    extra = {"query_length": query_length} if predictor == "wig" else {}
    return {name: fn(r.scores, **extra, **settings) for name, r in rankings.items()}


def qpp_select(rankings: Mapping[str, Ranking], query_length: int, predictor: str, **settings: float) -> str:
    """The retriever with the highest predicted quality; ties go to the first in pool order."""
    if not rankings:
        raise ValueError("no rankings to choose from")
    predicted = qpp_scores(rankings, query_length, predictor, **settings)
    best = max(predicted.values())
    return next(name for name, value in predicted.items() if value == best)


def qpp_choices(rankings: Mapping[str, Sequence[Ranking]], query_lengths: Sequence[int], predictor: str,
                **settings: float) -> np.ndarray:
    """Per input, the pool index of :func:`qpp_select`'s choice (pool order = order of ``rankings``).

    ``rankings`` maps each retriever to its rankings of the same inputs, one per query length.
    """
    names = list(rankings)
    n = len(query_lengths)
    for name, per_input in rankings.items():
        if len(per_input) != n:
            raise ValueError(f"retriever {name!r} has {len(per_input)} rankings for {n} inputs")
    chosen = [qpp_select({name: rankings[name][i] for name in names}, query_lengths[i], predictor, **settings)
              for i in range(n)]
    return np.asarray([names.index(c) for c in chosen], dtype=np.int64)
