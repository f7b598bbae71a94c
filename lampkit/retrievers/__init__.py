"""Retrievers of the pool, behind one interface (``rank`` / ``rank_many`` -> ``Ranking``)."""

from .base import Ranking, Retriever, order_by_scores
from .bm25 import BM25, BM25Scorer, bm25_scores
from .dense import Dense
from .rrf import RRF, rrf_scores
from .simple import NoPersonalization, Recency

__all__ = ["Ranking", "Retriever", "order_by_scores", "BM25", "BM25Scorer", "bm25_scores", "Dense",
           "RRF", "rrf_scores", "NoPersonalization", "Recency"]
