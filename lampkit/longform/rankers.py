"""Retrieve then rank the past documents of an author for the immediate context
(Li et al. 2023, the retrieval and ranking stages).

Five rankers, each turning an example into ranked *entries* (whole documents or snippets):

- ``RecentDoc``: past documents, newest first (the recency baseline);
- ``RankDocBM25``: documents by BM25 for the immediate context (lampkit's exact BM25Okapi:
  whitespace tokens, case kept, k1 1.5, b 0.75, epsilon 0.25);
- ``RankDocDense``: documents by the dot product of their embedding with the context's;
- ``RankSnippet``: snippets (see :mod:`lampkit.longform.snippets`) by the same dense score;
- ``RankDocBySnpt``: retrieve snippets densely, then rank their documents by the maximum score
  of their retrieved snippets (all snippets by default, or the best ``top_snippets``: a document
  without a retrieved snippet is left out).

Equal scores keep the order of the past documents (oldest first), as :func:`~lampkit.retrievers.base.order_by_scores`
does. :func:`concat_entries` joins the ranked entries and cuts them at 2,500 characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from lampkit.data.layout import parse_date
from lampkit.retrievers.embedding_cache import TextEncoder
from lampkit.retrievers.base import order_by_scores
from lampkit.retrievers.bm25 import BM25Scorer
from lampkit.retrievers.dense import dense_scores
from lampkit.longform.config import RANKERS  # (importable from here too)
from lampkit.longform.data import LongformExample
from lampkit.longform.snippets import SNIPPET_CHARS, Snippet, document_snippets

__all__ = ["MAX_CHARS", "Entry", "Ranker", "RecentDoc", "RankDocBM25", "RankDocDense", "RankSnippet",
           "RankDocBySnpt", "max_by_document", "concat_entries", "make_rankers"]

MAX_CHARS = 2500  # the ranked entries are concatenated and cut at this many characters


@dataclass(frozen=True)
class Entry:
    """One ranked entry: a past document or a snippet of one, with its ranker's score."""

    doc_id: str
    text: str
    score: float


class Ranker(Protocol):
    name: str

    @property
    def config(self) -> dict[str, object]: ...

    def rank_many(self, examples: Sequence[LongformExample]) -> list[list[Entry]]: ...


def _ranked(ids: Sequence[str], texts: Sequence[str], scores: np.ndarray) -> list[Entry]:
    return [Entry(ids[i], texts[i], float(scores[i])) for i in order_by_scores(scores)]


class RecentDoc:
    """Past documents newest first (by date; the same date: later in the file first); score 1/rank."""

    name = "RecentDoc"
    config = {"name": "RecentDoc"}

    def rank_many(self, examples: Sequence[LongformExample]) -> list[list[Entry]]:
        out = []
        for ex in examples:
            order = sorted(range(len(ex.past)), key=lambda i: (parse_date(ex.past[i].date), i), reverse=True)
            out.append([Entry(ex.past[i].id, ex.past[i].text, 1.0 / (r + 1)) for r, i in enumerate(order)])
        return out


class RankDocBM25:
    """Past documents by BM25 of their text for the immediate context."""

    name = "RankDocBM25"

    def __init__(self, scorer: BM25Scorer | None = None) -> None:
        self.scorer = scorer or BM25Scorer()

    @property
    def config(self) -> dict[str, object]:
        return {"name": self.name, "k1": self.scorer.k1, "b": self.scorer.b, "epsilon": self.scorer.epsilon}

    def rank_many(self, examples: Sequence[LongformExample]) -> list[list[Entry]]:
        out = []
        for ex in examples:
            texts = [d.text for d in ex.past]
            out.append(_ranked([d.id for d in ex.past], texts, self.scorer.score(texts, ex.context)))
        return out


class _DenseBase:
    """Embeds every context and candidate text of a batch of examples in one encoder call."""

    name = "dense"

    def __init__(self, encoder: TextEncoder, batch_size: int = 64, max_length: int = 512,
                 show_progress: bool = False) -> None:
        self.encoder = encoder
        self.batch_size = batch_size
        self.max_length = max_length
        self.show_progress = show_progress

    @property
    def config(self) -> dict[str, object]:
        return {"name": self.name, "encoder": self.encoder.model_id, "max_length": self.max_length}

    def _candidates(self, ex: LongformExample) -> tuple[list[str], list[str]]:
        """(document ids, texts) of the candidates of one example."""
        raise NotImplementedError

    def _scores(self, examples: Sequence[LongformExample]) -> list[tuple[list[str], list[str], np.ndarray]]:
        cands = [self._candidates(ex) for ex in examples]
        texts = [ex.context for ex in examples] + [t for _, ts in cands for t in ts]
        emb = self.encoder.encode(texts, batch_size=self.batch_size, max_length=self.max_length,
                                  show_progress=self.show_progress)
        out, start = [], len(examples)
        for i, (ids, ts) in enumerate(cands):
            out.append((ids, ts, dense_scores(emb[start:start + len(ts)], emb[i])))
            start += len(ts)
        return out


class RankDocDense(_DenseBase):
    """Past documents by the dot product of their embedding with the context's."""

    name = "RankDocDense"

    def _candidates(self, ex: LongformExample) -> tuple[list[str], list[str]]:
        return [d.id for d in ex.past], [d.text for d in ex.past]

    def rank_many(self, examples: Sequence[LongformExample]) -> list[list[Entry]]:
        return [_ranked(ids, ts, s) for ids, ts, s in self._scores(examples)]


class RankSnippet(_DenseBase):
    """Snippets of the past documents by the dot product of their embedding with the context's."""

    name = "RankSnippet"

    def __init__(self, encoder: TextEncoder, snippet_chars: int = SNIPPET_CHARS, **kw) -> None:
        super().__init__(encoder, **kw)
        self.snippet_chars = snippet_chars

    @property
    def config(self) -> dict[str, object]:
        return {**super().config, "snippet_chars": self.snippet_chars}

    def _snippets(self, ex: LongformExample) -> list[Snippet]:
        return document_snippets(ex.past, self.snippet_chars)

    def _candidates(self, ex: LongformExample) -> tuple[list[str], list[str]]:
        snips = self._snippets(ex)
        return [s.doc_id for s in snips], [s.text for s in snips]

    def rank_many(self, examples: Sequence[LongformExample]) -> list[list[Entry]]:
        return [_ranked(ids, ts, s) for ids, ts, s in self._scores(examples)]


def max_by_document(doc_ids: Sequence[str], scores: Sequence[float],
                    top: int | None = None) -> dict[str, float]:
    """Each document's maximum score over its retrieved snippets (the ``top`` best, or all).

    ``doc_ids[i]`` is the document of snippet ``i``; documents come in order of first appearance.
    """
    scores = np.asarray(scores, dtype=np.float64)
    retrieved = order_by_scores(scores)[:top] if top is not None else np.arange(len(scores))
    keep = set(int(i) for i in retrieved)
    best: dict[str, float] = {}
    for i, doc in enumerate(doc_ids):
        if i in keep and (doc not in best or scores[i] > best[doc]):
            best[doc] = float(scores[i])
    return best


class RankDocBySnpt(RankSnippet):
    """Documents ranked by the maximum dense score of their retrieved snippets."""

    name = "RankDocBySnpt"

    def __init__(self, encoder: TextEncoder, top_snippets: int | None = None, **kw) -> None:
        super().__init__(encoder, **kw)
        self.top_snippets = top_snippets

    @property
    def config(self) -> dict[str, object]:
        return {**super().config, "top_snippets": self.top_snippets}

    def rank_many(self, examples: Sequence[LongformExample]) -> list[list[Entry]]:
        out = []
        for ex, (ids, _, scores) in zip(examples, self._scores(examples)):
            best = max_by_document(ids, scores, self.top_snippets)
            docs = [d for d in ex.past if d.id in best]
            out.append(_ranked([d.id for d in docs], [d.text for d in docs], np.array([best[d.id] for d in docs])))
        return out


def concat_entries(entries: Sequence[Entry], max_chars: int = MAX_CHARS, sep: str = " ") -> str:
    """The entries' texts joined by ``sep``, in rank order, cut at ``max_chars`` characters."""
    return sep.join(e.text for e in entries)[:max_chars]




def make_rankers(encoder: TextEncoder | None, names: Sequence[str] = RANKERS) -> list[Ranker]:
    """The named rankers, in the given order (the dense ones share ``encoder``)."""
    build = {"RecentDoc": lambda: RecentDoc(), "RankDocBM25": lambda: RankDocBM25(),
             "RankDocDense": lambda: RankDocDense(encoder), "RankSnippet": lambda: RankSnippet(encoder),
             "RankDocBySnpt": lambda: RankDocBySnpt(encoder)}
    unknown = [n for n in names if n not in build]
    if unknown:
        raise KeyError(f"unknown ranker(s) {unknown}; expected some of {', '.join(RANKERS)}")
    if encoder is None and any(n in ("RankDocDense", "RankSnippet", "RankDocBySnpt") for n in names):
        raise ValueError("the dense rankers need an encoder")
    return [build[n]() for n in names]  # type: ignore[return-value]
