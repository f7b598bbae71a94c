"""Pipeline configurations: which ranker feeds the generator, and which sections its input holds.

A :class:`PipelineConfig` names a ranker (or none: the immediate context alone), whether the
summary (Su) and the key elements (Sy) are added, and whether the generator is trained with the
author-distinction task (multitask). :func:`build_inputs` turns ranked entries into generator
inputs for one configuration. :func:`mixture` builds what pre-trains the base generator: every
input in a format drawn at random, with or without summary and key elements, plus some
author-distinction pairs, so that the base reads every section and knows both instructions
before any configuration is trained.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from lampkit.retrievers.base import order_by_scores
from lampkit.retrievers.bm25 import BM25Scorer
from lampkit.longform.data import LongformExample
from lampkit.longform.generator import author_pairs, build_input
from lampkit.longform.rankers import MAX_CHARS, RANKERS, Entry, RankDocBM25, RecentDoc, concat_entries
from lampkit.longform.snippets import document_snippets
from lampkit.longform.synthesis import SUMMARY_CHARS, DocumentFrequencies, key_elements, summarize, unigrams

__all__ = ["PipelineConfig", "chapter_configs", "build_inputs", "MIXTURE_FORMATS", "mixture"]


@dataclass(frozen=True)
class PipelineConfig:
    """One configuration of the pipeline; ``ranker`` None feeds the immediate context alone."""

    name: str
    ranker: str | None = None
    summary: bool = False
    keywords: bool = False
    multitask: bool = False

    def __post_init__(self) -> None:
        if self.ranker is not None and self.ranker not in RANKERS:
            raise ValueError(f"unknown ranker {self.ranker!r}; expected one of {', '.join(RANKERS)} or None")
        if self.ranker is None and (self.summary or self.keywords):
            raise ValueError(f"{self.name}: a summary or key elements need ranked entries (a ranker)")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def chapter_configs(ablation_ranker: str = "RankDocBySnpt") -> tuple[list[PipelineConfig], list[PipelineConfig]]:
    """The chapter's two tables: (no past passages, then every ranker alone) and the cumulative
    ablation on ``ablation_ranker`` (ranking only, + summary, + key elements, + multitask)."""
    rankers = [PipelineConfig("no past passages")] + [PipelineConfig(r, r) for r in RANKERS]
    ablation = [PipelineConfig(ablation_ranker, ablation_ranker),
                PipelineConfig("+ Su", ablation_ranker, summary=True),
                PipelineConfig("+ Su + Sy", ablation_ranker, summary=True, keywords=True),
                PipelineConfig("+ Su + Sy + multitask", ablation_ranker, summary=True, keywords=True, multitask=True)]
    return rankers, ablation


def _input(ex: LongformExample, entries: Sequence[Entry] | None, summary: bool, keywords: bool,
           dfs: DocumentFrequencies | None, max_chars: int, summary_chars: int) -> str:
    if entries is None:
        return build_input(ex.context)
    passages = concat_entries(entries, max_chars)
    su = summarize([e.text for e in entries], summary_chars) if summary else None
    if keywords and dfs is None:
        raise ValueError("key elements need the document frequencies of a reference collection")
    sy = key_elements(passages, dfs) if keywords and dfs is not None else None
    return build_input(ex.context, su, sy, passages)


def build_inputs(config: PipelineConfig, examples: Sequence[LongformExample],
                 entries: Sequence[Sequence[Entry]] | None, dfs: DocumentFrequencies | None = None,
                 max_chars: int = MAX_CHARS, summary_chars: int = SUMMARY_CHARS) -> list[str]:
    """The generator inputs of ``examples`` under ``config``; ``entries`` are its ranker's
    ranked entries per example (None for a configuration without a ranker)."""
    if (config.ranker is None) != (entries is None):
        raise ValueError(f"{config.name}: entries must be given exactly when the configuration has a ranker")
    if entries is not None and len(entries) != len(examples):
        raise ValueError(f"{len(entries)} entry lists for {len(examples)} examples")
    return [_input(ex, entries[i] if entries is not None else None, config.summary, config.keywords, dfs,
                   max_chars, summary_chars) for i, ex in enumerate(examples)]


# the formats of the base's pre-training inputs, with their weights
MIXTURE_FORMATS: dict[str, int] = {"none": 1, "RecentDoc": 1, "RankDocBM25": 1, "lexical documents": 2,
                                   "lexical snippets": 2, "random documents": 1, "random snippets": 1}


def _lexical(texts: Sequence[str], query: str) -> np.ndarray:
    """BM25 over lower-cased words (punctuation dropped): the base's cheap stand-in for a dense ranker."""
    def words(text: str) -> str:
        return " ".join(w.lower() for w in unigrams(text))

    return BM25Scorer().score([words(t) for t in texts], words(query))


def _mixture_entries(fmt: str, ex: LongformExample, rng: random.Random) -> list[Entry] | None:
    if fmt == "none":
        return None
    if fmt == "RecentDoc":
        return RecentDoc().rank_many([ex])[0]
    if fmt == "RankDocBM25":
        return RankDocBM25().rank_many([ex])[0]
    if fmt.endswith("documents"):
        cands = [Entry(d.id, d.text, 0.0) for d in ex.past]
    else:
        cands = [Entry(s.doc_id, s.text, 0.0) for s in document_snippets(ex.past)]
    if fmt.startswith("random"):
        return rng.sample(cands, len(cands))
    scores = _lexical([c.text for c in cands], ex.context)
    return [Entry(cands[i].doc_id, cands[i].text, float(scores[i])) for i in order_by_scores(scores)]


def mixture(examples: Sequence[LongformExample], dfs: DocumentFrequencies, seed: int = 0,
            author_share: float = 0.1, pair_chars: int = 300, max_chars: int = MAX_CHARS,
            summary_chars: int = SUMMARY_CHARS) -> tuple[list[str], list[str]]:
    """(inputs, targets) that pre-train the base generator.

    Each example is given in a format of :data:`MIXTURE_FORMATS` drawn by weight (no past
    passages; the newest documents first; BM25's documents; documents or snippets by BM25 over
    lower-cased words, standing in for the dense rankers; documents or snippets in random
    order), with the summary and the key elements each present with probability 1/2 when there
    are entries. Author-distinction pairs of the examples' documents are added, ``author_share``
    of the whole, so that the base knows both instructions before any configuration is trained.
    """
    rng = random.Random(seed)
    names, weights = list(MIXTURE_FORMATS), list(MIXTURE_FORMATS.values())
    inputs, targets = [], []
    for ex in examples:
        entries = _mixture_entries(rng.choices(names, weights)[0], ex, rng)
        summary, keywords = rng.random() < 0.5, rng.random() < 0.5
        inputs.append(_input(ex, entries, summary and entries is not None, keywords and entries is not None, dfs,
                             max_chars, summary_chars))
        targets.append(ex.target)
    docs = list({d.id: d for ex in examples for d in (*ex.past,)}.values())
    n_pairs = round(author_share / (1 - author_share) * len(examples)) if author_share > 0 else 0
    pairs = author_pairs(docs, n_pairs, seed=seed, max_chars=pair_chars) if n_pairs else []
    order = list(range(len(inputs) + len(pairs)))
    rng.shuffle(order)
    every = [*zip(inputs, targets), *pairs]
    return [every[i][0] for i in order], [every[i][1] for i in order]
