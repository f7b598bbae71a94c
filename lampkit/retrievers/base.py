"""One interface for every retriever: rank a user's profile items for an input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from lampkit.data.layout import Example
from lampkit.tasks import Task

__all__ = ["Ranking", "Retriever", "order_by_scores"]


@dataclass(frozen=True)
class Ranking:
    """A retriever's answer for one input.

    ``order`` holds profile indices, best first (empty for no personalization); ``scores``
    holds one score per profile item, in profile order (what QPP predictors read).
    """

    order: np.ndarray
    scores: np.ndarray

    def top(self, k: int) -> np.ndarray:
        return self.order[:k]


class Retriever(Protocol):
    """Anything with a name that ranks the profile of an example."""

    name: str

    def rank(self, task: Task, example: Example) -> Ranking: ...

    def rank_many(self, task: Task, examples: Sequence[Example]) -> list[Ranking]: ...


def order_by_scores(scores: np.ndarray) -> np.ndarray:
    """Indices by descending score; equal scores keep profile order (lower index first)."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.argsort(-scores, kind="stable")
