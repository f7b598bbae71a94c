"""A dense bi-encoder retriever: Contriever's scoring with any sentence encoder.

The query (``task.query`` of the input) and each profile item's index text are embedded by the
same encoder (mean pooling, unnormalised; see :mod:`lampkit.retrievers.encoders`) and an item scores the
dot product of its embedding with the query's (Salemi et al. section 6.2). Wrapping the encoder in a
:class:`lampkit.retrievers.embedding_cache.CachedEncoder` embeds each distinct text once.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from lampkit.data.layout import Example
from lampkit.retrievers.embedding_cache import TextEncoder
from lampkit.tasks import Task
from lampkit.retrievers.base import Ranking, order_by_scores

__all__ = ["Dense", "dense_scores"]


def dense_scores(doc_embeddings: np.ndarray, query_embedding: np.ndarray) -> np.ndarray:
    """Dot product of each document embedding with the query embedding (in float64)."""
    return np.asarray(doc_embeddings, dtype=np.float64) @ np.asarray(query_embedding, dtype=np.float64)


class Dense:
    """Ranks profile items by the dot product of their embedding with the query's.

    ``encoder`` is anything with ``encode(texts, batch_size=, max_length=, show_progress=)``:
    an :class:`lampkit.retrievers.encoders.Encoder`, or one behind a ``CachedEncoder``.
    """

    def __init__(self, encoder: TextEncoder, name: str = "dense", batch_size: int = 64,
                 max_length: int = 512, show_progress: bool = False) -> None:
        self.encoder = encoder
        self.name = name
        self.batch_size = batch_size
        self.max_length = max_length
        self.show_progress = show_progress

    @property
    def config(self) -> dict[str, object]:
        """Identity for cache keys: the encoder's weights and the input length."""
        return {"name": "dense", "encoder": self.encoder.model_id, "max_length": self.max_length}

    def rank(self, task: Task, example: Example) -> Ranking:
        return self.rank_many(task, [example])[0]

    def rank_many(self, task: Task, examples: Sequence[Example]) -> list[Ranking]:
        """Rankings of ``examples``; all queries and profile texts go to the encoder in one call."""
        queries = []
        for ex in examples:
            query = task.query(ex.input)
            if query is None:
                raise ValueError(f"example {ex.id!r}, field 'input': no {task.official} query in {ex.input[:80]!r}")
            queries.append(query)
        docs = [task.index_text(item) for ex in examples for item in ex.profile]
        emb = self.encoder.encode(queries + docs, batch_size=self.batch_size, max_length=self.max_length,
                                  show_progress=self.show_progress)
        rankings = []
        start = len(queries)
        for i, ex in enumerate(examples):
            end = start + len(ex.profile)
            scores = dense_scores(emb[start:end], emb[i])
            rankings.append(Ranking(order_by_scores(scores), scores))
            start = end
        return rankings
