"""Retrievers that need no model: no personalization and recency."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from lampkit.data.layout import Example, parse_date
from lampkit.tasks import Task
from lampkit.retrievers.base import Ranking

__all__ = ["NoPersonalization", "Recency"]


class NoPersonalization:
    """k = 0: nothing is retrieved; every item scores 0 (as the QPP baselines read it)."""

    name = "none"
    config = {"name": "none"}

    def rank(self, task: Task, example: Example) -> Ranking:
        return Ranking(np.zeros(0, dtype=np.int64), np.zeros(len(example.profile)))

    def rank_many(self, task: Task, examples: Sequence[Example]) -> list[Ranking]:
        return [self.rank(task, ex) for ex in examples]


class Recency:
    """Newest first by date; the score of an item is the reciprocal of its rank.

    Items with the same date come in reverse profile order, as in the official code
    (a stable ascending sort by date, read from the end).
    """

    name = "recency"
    config = {"name": "recency"}

    def rank(self, task: Task, example: Example) -> Ranking:
        dates = [parse_date(str(item["date"])) for item in example.profile]
        ascending = sorted(range(len(dates)), key=lambda i: dates[i])
        order = np.asarray(ascending[::-1], dtype=np.int64)
        scores = np.zeros(len(dates))
        scores[order] = 1.0 / np.arange(1, len(dates) + 1)
        return Ranking(order, scores)

    def rank_many(self, task: Task, examples: Sequence[Example]) -> list[Ranking]:
        return [self.rank(task, ex) for ex in examples]
