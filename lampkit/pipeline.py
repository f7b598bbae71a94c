"""The building blocks every chapter shares: settings, the LLM, the encoder, the pool, results.

Chapters stay thin: a parameters cell, then calls into this module and the analysis modules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Sequence

import pandas as pd

from lampkit.data.layout import Example, load_split
from lampkit.data.sources import resolve_data_dir
from lampkit.feedback import FeedbackStore, pool_feedback
from lampkit.metrics.lamp import aggregate
from lampkit.tasks import Task, get_task, resolve_tasks

__all__ = ["BASELINES", "Settings", "default_llm_path", "get_llm", "get_encoder", "baseline_pool",
           "load_examples", "run_pool", "metrics_by_retriever"]

# the baseline columns of the paper's Table 3, in its order
BASELINES: tuple[str, ...] = ("none", "bm25", "recency", "dense", "rrf")


def default_llm_path() -> Path:
    """The embedded LLM: a small T5 trained from scratch by ``lampkit llm train`` (committed)."""
    return Path(str(resources.files("lampkit.resources").joinpath("models", "mini-t5")))


@dataclass(frozen=True)
class Settings:
    """The core parameters every chapter takes, plus the models it runs."""

    task: str = "all"
    data_dir: str | None = None
    scale: str | None = None  # None: $LAMPKIT_SCALE, else "default" (see datasets.resolve_scale)
    seed: int = 0
    llm: str | None = None  # None: the embedded small T5; else a HF name or folder (google/flan-t5-xxl)
    encoder: str | None = None  # None: the embedded MiniLM; else e.g. facebook/contriever
    k: int = 4
    beams: int = 4
    store: str | None = None  # feedback store file (default: in the artifact cache)
    show_progress: bool = True
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from lampkit.data.sources import resolve_scale

        object.__setattr__(self, "scale", resolve_scale(self.scale))

    @property
    def tasks(self) -> list[Task]:
        return resolve_tasks(self.task)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


def get_llm(name: str | None = None, beams: int = 4, task: str | Task | None = None):
    """The frozen LLM for ``task`` (loaded once per process).

    ``name``: a HF seq2seq name or folder; None is the embedded mini-t5, a folder of per-task models
    (see :func:`lampkit.llm.seq2seq.model_for_task`); one model such as FLAN-T5 serves every task.
    """
    from lampkit.llm.seq2seq import model_for_task

    task_name = get_task(task).name if task is not None else None
    return _load_llm(model_for_task(name or default_llm_path(), task_name), beams)


@lru_cache(maxsize=8)
def _load_llm(path: str, beams: int):
    from lampkit.llm.seq2seq import Seq2SeqLLM

    return Seq2SeqLLM.load(path, beams=beams)


@lru_cache(maxsize=4)
def get_encoder(name: str | None = None):
    """The dense encoder behind the persistent embedding cache (loaded once per process)."""
    from lampkit.retrievers.embedding_cache import CachedEncoder, EmbeddingCache, default_cache_path
    from lampkit.retrievers.encoders import load_encoder

    return CachedEncoder(load_encoder(name), EmbeddingCache(default_cache_path()))


def baseline_pool(encoder) -> list:
    """no personalization, BM25, recency, dense and RRF over BM25, recency and dense."""
    from lampkit.retrievers import BM25, RRF, Dense, NoPersonalization, Recency

    bm25, recency, dense = BM25(), Recency(), Dense(encoder)
    return [NoPersonalization(), bm25, recency, dense, RRF([bm25, recency, dense])]


def load_examples(settings: Settings, task: str | Task, split: str) -> list[Example]:
    root = resolve_data_dir(settings.data_dir, settings.scale, settings.seed)
    return load_split(root, get_task(task), split)


def run_pool(settings: Settings, task: str | Task, split: str, retrievers: Sequence, llm=None,
             examples: Sequence[Example] | None = None) -> pd.DataFrame:
    """Pool feedback (prompt, output, per-example metrics) of ``retrievers`` on one split."""
    t = get_task(task)
    llm = llm or get_llm(settings.llm, settings.beams, t)
    examples = list(examples) if examples is not None else load_examples(settings, t, split)
    store = FeedbackStore(settings.store) if settings.store else FeedbackStore()
    return pool_feedback(t, examples, retrievers, llm, store, k=settings.k, show_progress=settings.show_progress)


def metrics_by_retriever(df: pd.DataFrame, task: str | Task, examples: Sequence[Example]) -> pd.DataFrame:
    """Aggregate metrics per retriever (rows) from pool feedback, with the official semantics."""
    t = get_task(task)
    golds = {str(ex.id): ex.output for ex in examples}
    rows = []
    for name, part in df.groupby("retriever", sort=False):
        preds = list(part["output"])
        gold = [golds[i] for i in part["example_id"]]
        rows.append({"retriever": name, **aggregate(t, preds, gold)})
    return pd.DataFrame(rows).set_index("retriever")


@dataclass
class BaselineResults:
    """Everything chapter 02 shows, per task: pool feedback, metrics, winning rates, checks."""

    retrievers: list[str]
    feedback: dict[str, dict[str, pd.DataFrame]]  # task -> split -> pool feedback
    metrics: dict[str, dict[str, pd.DataFrame]]  # task -> split -> (retriever x metric)
    examples: dict[str, dict[str, list[Example]]]

    def winning_rates(self, split: str = "test") -> pd.DataFrame:
        from lampkit.analysis.winning import winning_rates

        frames = [winning_rates(per[split], t, self.retrievers).assign(task=t) for t, per in self.feedback.items()]
        return pd.concat(frames, ignore_index=True)

    def retrieval_matters(self, split: str = "dev") -> pd.DataFrame:
        from lampkit.analysis.winning import retrieval_matters

        return pd.DataFrame([retrieval_matters(per[split], t, self.retrievers) for t, per in self.feedback.items()])


def run_baselines(settings: Settings, splits: Sequence[str] = ("dev", "test")) -> BaselineResults:
    """The baseline pool (no personalization, BM25, recency, dense, RRF) on every task and split."""
    pool = baseline_pool(get_encoder(settings.encoder))
    names = [r.name for r in pool]
    feedback: dict = {}
    metrics: dict = {}
    examples: dict = {}
    for t in settings.tasks:
        feedback[t.name], metrics[t.name], examples[t.name] = {}, {}, {}
        for split in splits:
            exs = load_examples(settings, t, split)
            df = run_pool(settings, t, split, pool, get_llm(settings.llm, settings.beams, t), exs)
            feedback[t.name][split] = df
            metrics[t.name][split] = metrics_by_retriever(df, t, exs)
            examples[t.name][split] = exs
    return BaselineResults(names, feedback, metrics, examples)
