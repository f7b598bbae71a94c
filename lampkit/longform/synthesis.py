"""Summarize and synthesize the ranked entries (Li et al. 2023, the summarization and synthesis
stages, context-independent variants).

- **Key elements** (synthesis): at most 20 unigrams of the ranked entries that are not stop
  words (scikit-learn's English list), occur more than once in the entries and have an IDF of at
  least 1.5; IDF is ``ln(N / df)`` over a reference collection of N documents (the training
  split's documents; a word absent from it counts ``df = 1``). Unigrams are runs of letters
  (apostrophes inside a word kept), case kept; they are ordered by frequency in the entries,
  then by IDF, then by first appearance.
- **Summary**: Li et al. summarize with an LLM; lampkit uses a deterministic extractive stand-in:
  the sentences of the ranked entries scored by their centrality (the sum of their TF-IDF cosine
  similarities to every sentence of the entries, repeats included, so a habit the author repeats
  is central; TF-IDF over lower-cased words with scikit-learn's smooth IDF and L2 norm), the most
  central distinct sentences taken while they fit in :data:`SUMMARY_CHARS` characters, and given
  back in the order they first appear.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np

__all__ = ["MAX_KEYWORDS", "MIN_IDF", "SUMMARY_CHARS", "stop_words", "unigrams", "DocumentFrequencies",
           "key_elements", "summarize"]

MAX_KEYWORDS = 20
MIN_IDF = 1.5
SUMMARY_CHARS = 300
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")


def stop_words() -> frozenset[str]:
    """scikit-learn's English stop words (lower case)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def unigrams(text: str) -> list[str]:
    """The words of ``text`` (letters, inner apostrophes), case kept."""
    return _WORD.findall(text)


class DocumentFrequencies:
    """Document frequencies of words (compared in lower case) over a reference collection."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.df: Counter[str] = Counter()
        self.n = 0
        for text in texts:
            self.n += 1
            self.df.update({w.lower() for w in unigrams(text)})
        if self.n == 0:
            raise ValueError("the reference collection for IDF is empty")

    def idf(self, word: str) -> float:
        """``ln(N / df)``, with ``df`` at least 1."""
        return math.log(self.n / max(self.df[word.lower()], 1))


def key_elements(text: str, dfs: DocumentFrequencies, max_words: int = MAX_KEYWORDS,
                 min_idf: float = MIN_IDF) -> list[str]:
    """Up to ``max_words`` unigrams of ``text``: no stop word, frequency > 1, IDF >= ``min_idf``."""
    stops = stop_words()
    words = unigrams(text)
    freq = Counter(words)
    first = {}
    for i, w in enumerate(words):
        first.setdefault(w, i)
    keep = [w for w in freq if freq[w] > 1 and w.lower() not in stops and dfs.idf(w) >= min_idf]
    keep.sort(key=lambda w: (-freq[w], -dfs.idf(w), first[w]))
    return keep[:max_words]


def _tfidf(sentences: Sequence[str]) -> np.ndarray:
    """L2-normalised TF-IDF rows of lower-cased words, smooth IDF ``ln((1 + n) / (1 + df)) + 1``
    (scikit-learn's ``TfidfVectorizer`` defaults)."""
    tokens = [[w.lower() for w in unigrams(s)] for s in sentences]
    vocab = {w: i for i, w in enumerate(dict.fromkeys(w for ts in tokens for w in ts))}
    counts = np.zeros((len(sentences), len(vocab)))
    for row, ts in enumerate(tokens):
        for w in ts:
            counts[row, vocab[w]] += 1
    df = (counts > 0).sum(axis=0)
    weights = counts * (np.log((1 + len(sentences)) / (1 + df)) + 1)
    norms = np.linalg.norm(weights, axis=1, keepdims=True)
    return np.divide(weights, norms, out=np.zeros_like(weights), where=norms > 0)


@lru_cache(maxsize=8192)
def _summary(texts: tuple[str, ...], max_chars: int) -> str:
    from lampkit.longform.snippets import sentences

    sents = [s for t in texts for s in sentences(t)]
    if not sents:
        return ""
    matrix = _tfidf(sents)
    centrality = (matrix @ matrix.T).sum(axis=1)
    distinct: dict[str, int] = {}
    for i, s in enumerate(sents):
        distinct.setdefault(s, i)
    order = sorted(distinct, key=lambda s: (-round(float(centrality[distinct[s]]), 9), distinct[s]))
    chosen: list[str] = []
    length = 0
    for s in order:
        extra = len(s) + (1 if chosen else 0)
        if length + extra <= max_chars:
            chosen.append(s)
            length += extra
    chosen.sort(key=lambda s: distinct[s])
    return " ".join(chosen)


def summarize(texts: Sequence[str], max_chars: int = SUMMARY_CHARS) -> str:
    """An extractive summary of ``texts``: their most central sentences, up to ``max_chars``."""
    return _summary(tuple(texts), max_chars)
