"""Reciprocal rank fusion of other retrievers' rankings."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from lampkit.data.layout import Example
from lampkit.tasks import Task
from lampkit.retrievers.base import Ranking, Retriever, order_by_scores

__all__ = ["rrf_scores", "RRF"]


def rrf_scores(orders: Sequence[np.ndarray], n_items: int, k: int = 60) -> np.ndarray:
    """sum over rankings of 1 / (k + rank), ranks from 1; an item a ranking lacks gets nothing from it."""
    scores = np.zeros(n_items)
    for order in orders:
        order = np.asarray(order, dtype=np.int64)
        scores[order] += 1.0 / (k + np.arange(1, len(order) + 1))
    return scores


class RRF:
    """Fuses the rankings of ``retrievers`` with constant ``k`` (60 by default)."""

    def __init__(self, retrievers: Sequence[Retriever], k: int = 60, name: str = "rrf") -> None:
        self.retrievers = list(retrievers)
        self.k = k
        self.name = name

    @property
    def config(self) -> dict[str, object]:
        members = [dict(getattr(r, "config", None) or {"name": r.name}) for r in self.retrievers]
        return {"name": "rrf", "k": self.k, "members": members}

    def _fuse(self, rankings: Sequence[Ranking], n_items: int) -> Ranking:
        scores = rrf_scores([r.order for r in rankings], n_items, self.k)
        return Ranking(order_by_scores(scores), scores)

    def rank(self, task: Task, example: Example) -> Ranking:
        return self._fuse([r.rank(task, example) for r in self.retrievers], len(example.profile))

    def rank_many(self, task: Task, examples: Sequence[Example]) -> list[Ranking]:
        per = [r.rank_many(task, examples) for r in self.retrievers]
        return [self._fuse([p[i] for p in per], len(ex.profile)) for i, ex in enumerate(examples)]
