"""Retrievers of the pool, behind one interface (``rank`` / ``rank_many`` -> ``Ranking``)."""

from lampkit.retrievers.base import Ranking, Retriever, order_by_scores
from lampkit.retrievers.bm25 import BM25, BM25Scorer, bm25_scores
from lampkit.retrievers.dense import Dense
from lampkit.retrievers.rrf import RRF, rrf_scores
from lampkit.retrievers.simple import NoPersonalization, Recency

__all__ = ["Ranking", "Retriever", "order_by_scores", "BM25", "BM25Scorer", "bm25_scores", "Dense",
           "RRF", "rrf_scores", "NoPersonalization", "Recency"]
