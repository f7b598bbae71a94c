"""The settings every chapter takes, resolved once into a run context; the baseline pool and its runs.

:class:`Settings` is the core configuration (data, LLM, retrieval): a frozen
:class:`~lampkit.config.StageConfig`, so the same class gives the chapters' parameters, the
command line's flags and the cache keys. :class:`Context` resolves it once: the tasks, each split's
examples, the frozen LLM of each task, the encoder and the feedback store. Stages take a context
(or settings, which they resolve into one); tests hand a context their fakes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pandas loads on first use: `lampkit --help` stays fast
    import pandas as pd

from lampkit.analysis import methods
from lampkit.config import ConfigError, StageConfig
from lampkit.data.layout import Example, load_split, split_paths
from lampkit.data.sources import resolve_data_dir, resolve_scale
from lampkit.data.synth.settings import SCALES as _SCALES
from lampkit.feedback import FeedbackStore, pool_feedback
from lampkit.metrics.lamp import aggregate
from lampkit.store.report import TablesReport
from lampkit.tasks import Task, get_task, resolve_tasks

__all__ = ["BASELINES", "Settings", "Context", "context", "default_llm_path", "get_llm", "get_encoder",
           "baseline_pool", "load_examples", "tasks_without_test_golds", "resolve_eval_split", "run_pool", "metrics_by_retriever", "BaselineResults", "run_baselines"]

# the baseline columns of the paper's Table 3, in its order
BASELINES: tuple[str, ...] = methods.BASELINES


def default_llm_path() -> Path:
    """The embedded LLM: a small T5 trained from scratch by ``lampkit llm train`` (committed)."""
    return Path(str(resources.files("lampkit.resources").joinpath("models", "mini-t5")))


@dataclass(frozen=True)
class Settings(StageConfig):
    """Core settings: the data, the frozen LLM and the retrieval every chapter shares.

    The paper's own setting differs only in the models (FLAN-T5-XXL, Contriever), which the
    embedded defaults stand in for offline; so both presets are the dataclass defaults.
    """

    task: str = "all"
    data_dir: str | None = None
    scale: str | None = None  # None: $LAMPKIT_SCALE, else "default" (see lampkit.data.sources.resolve_scale)
    seed: int = 0
    llm: str | None = None  # None: the embedded small T5; else a HF name or folder (google/flan-t5-xxl)
    encoder: str | None = None  # None: the embedded MiniLM; else e.g. facebook/contriever
    k: int = 4
    beams: int = 4
    store: str | None = None  # feedback store file (default: in the artifact cache)
    show_progress: bool = True

    NOT_OPTIONS = frozenset({"show_progress"})
    HELP = {
        "task": "lamp1 .. lamp7, a comma-separated list, or all",
        "data_dir": "a folder of real LaMP files in the official layout (none: the embedded mini-LaMP)",
        "scale": "size of the embedded mini-LaMP and of training: tiny, small or default "
                 "(none: $LAMPKIT_SCALE, else default)",
        "seed": "mini-LaMP seed",
        "llm": "the frozen LLM: a Hugging Face seq2seq name or folder (none: the embedded small T5s)",
        "encoder": "the dense retriever's encoder: a Hugging Face name or folder (none: the embedded MiniLM)",
        "k": "profile items in each prompt",
        "beams": "beam size of the frozen LLM",
        "store": "feedback store file (none: in the artifact cache)",
    }
    CHOICES = {"scale": tuple(_SCALES)}

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", resolve_scale(self.scale))
        if self.scale not in _SCALES:
            raise ConfigError(f"scale must be one of {', '.join(_SCALES)}, got {self.scale!r}")
        if self.k < 1 or self.beams < 1:
            raise ConfigError(f"k and beams must be at least 1, got k={self.k}, beams={self.beams}")
        try:
            resolve_tasks(self.task)
        except (KeyError, ValueError) as err:
            raise ConfigError(str(err).strip("\"'")) from None

    @property
    def tasks(self) -> list[Task]:
        return resolve_tasks(self.task)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Context:
    """The settings resolved once: tasks, examples per task and split, the LLM per task, encoder, store.

    Each resource is resolved on first use and kept. ``llm`` (a generator for every task, or a
    function task -> generator), ``encoder`` and ``store`` replace the defaults: tests give fakes.
    """

    settings: Settings = field(default_factory=Settings)
    llm_for: Any = None
    encoder_override: Any = None
    store_override: FeedbackStore | None = None
    _examples: dict = field(default_factory=dict, repr=False)
    _llms: dict = field(default_factory=dict, repr=False)

    @property
    def tasks(self) -> list[Task]:
        return self.settings.tasks

    def llm(self, task: str | Task):
        """The frozen LLM of ``task``."""
        t = get_task(task)
        if t.name not in self._llms:
            given = self.llm_for
            self._llms[t.name] = (given(t) if callable(given) and not hasattr(given, "generate") else given) \
                if given is not None else get_llm(self.settings.llm, self.settings.beams, t)
        return self._llms[t.name]

    @property
    def encoder(self):
        """The dense retriever's encoder behind the persistent embedding cache."""
        return self.encoder_override if self.encoder_override is not None else get_encoder(self.settings.encoder)

    @property
    def store(self) -> FeedbackStore:
        if self.store_override is None:
            self.store_override = FeedbackStore(self.settings.store) if self.settings.store else FeedbackStore()
        return self.store_override

    def examples(self, task: str | Task, split: str) -> list[Example]:
        """The inputs of ``task``'s ``split`` (loaded once)."""
        t = get_task(task)
        if (t.name, split) not in self._examples:
            self._examples[(t.name, split)] = load_examples(self.settings, t, split)
        return self._examples[(t.name, split)]


def context(obj: Context | Settings | None = None, **overrides: Any) -> Context:
    """``obj`` as a run context (settings are resolved into a new one); ``overrides`` replace its resources."""
    ctx = obj if isinstance(obj, Context) else Context(obj if obj is not None else Settings())
    if overrides:
        ctx = Context(ctx.settings, **{**{"llm_for": ctx.llm_for, "encoder_override": ctx.encoder_override,
                                          "store_override": ctx.store_override}, **overrides})
    return ctx


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


def tasks_without_test_golds(settings: Settings) -> list[str]:
    """The tasks of ``settings`` whose test split has no outputs file (or no test split at all): the
    benchmark hides its test golds. The embedded mini-LaMP has them all. Only the files' presence is
    read (a present outputs file is checked against its questions when the split loads)."""
    if settings.data_dir is None:
        return []
    root = resolve_data_dir(settings.data_dir, settings.scale, settings.seed)
    return [t.name for t in settings.tasks if not all(p.is_file() for p in split_paths(root, t, "test"))]


def resolve_eval_split(settings: Settings, eval_split: str, say=print) -> str:
    """``eval_split``, with ``"auto"`` resolved: ``"test"`` where every task's test split has its golds,
    else ``"dev"``, and ``say`` (a function of one line) tells which tasks lack them."""
    if eval_split != "auto":
        return eval_split
    missing = tasks_without_test_golds(settings)
    if not missing:
        return "test"
    say(f"eval_split auto: the test split of {', '.join(missing)} has no gold outputs (LaMP hides them), so "
        f"this run evaluates on the dev split (set eval_split to dev or test to choose)")
    return "dev"


def load_examples(settings: Settings, task: str | Task, split: str) -> list[Example]:
    root = resolve_data_dir(settings.data_dir, settings.scale, settings.seed)
    return load_split(root, get_task(task), split)


def run_pool(ctx: Context | Settings, task: str | Task, split: str, retrievers: Sequence,
             examples: Sequence[Example] | None = None) -> pd.DataFrame:
    """Pool feedback (prompt, output, per-example metrics) of ``retrievers`` on one split."""
    ctx = context(ctx)
    t = get_task(task)
    examples = list(examples) if examples is not None else ctx.examples(t, split)
    return pool_feedback(t, examples, retrievers, ctx.llm(t), ctx.store, k=ctx.settings.k,
                         show_progress=ctx.settings.show_progress)


def metrics_by_retriever(df: pd.DataFrame, task: str | Task, examples: Sequence[Example]) -> pd.DataFrame:
    """Aggregate metrics per retriever (rows) from pool feedback, with the official semantics."""
    import pandas as pd

    t = get_task(task)
    golds = {str(ex.id): ex.output for ex in examples}
    rows = []
    for name, part in df.groupby("retriever", sort=False):
        preds = list(part["output"])
        gold = [golds[i] for i in part["example_id"]]
        rows.append({"retriever": name, **aggregate(t, preds, gold)})
    return pd.DataFrame(rows).set_index("retriever")


@dataclass
class BaselineResults(TablesReport):
    """Everything chapter 02 shows, per task: pool feedback, metrics, winning rates, checks.

    Its tables (:class:`~lampkit.store.report.Report`), per split run: ``metrics_<split>`` (rows
    task x metric, columns the pool), ``winning_rates_<split>`` and ``retrieval_matters_<split>``.
    """

    MODULES = ("lampkit.pipeline", "lampkit.analysis.winning", "lampkit.analysis.tables")

    retrievers: list[str]
    feedback: dict[str, dict[str, pd.DataFrame]]  # task -> split -> pool feedback
    metrics: dict[str, dict[str, pd.DataFrame]]  # task -> split -> (retriever x metric)
    examples: dict[str, dict[str, list[Example]]]

    def winning_rates(self, split: str = "test") -> pd.DataFrame:
        import pandas as pd

        from lampkit.analysis.winning import winning_rates

        frames = [winning_rates(per[split], t, self.retrievers).assign(task=t) for t, per in self.feedback.items()]
        return pd.concat(frames, ignore_index=True)

    def retrieval_matters(self, split: str = "dev") -> pd.DataFrame:
        import pandas as pd

        from lampkit.analysis.winning import retrieval_matters

        return pd.DataFrame([retrieval_matters(per[split], t, self.retrievers) for t, per in self.feedback.items()])

    @property
    def splits(self) -> list[str]:
        return list(dict.fromkeys(s for per in self.metrics.values() for s in per))

    def tables(self) -> dict[str, pd.DataFrame]:
        from lampkit.analysis.tables import results_table

        out = {}
        for split in self.splits:
            out[f"metrics_{split}"] = results_table({t: per[split] for t, per in self.metrics.items()},
                                                    self.retrievers)
            out[f"winning_rates_{split}"] = self.winning_rates(split)
            out[f"retrieval_matters_{split}"] = self.retrieval_matters(split)
        return out

    def titles(self) -> dict[str, str]:
        out = {}
        for split in self.splits:
            out[f"metrics_{split}"] = f"Metrics of the baseline pool ({split} split)"
            out[f"winning_rates_{split}"] = f"Winning rates ({split} split)"
            out[f"retrieval_matters_{split}"] = f"Retrieval matters ({split} split)"
        return out


def run_baselines(ctx: Context | Settings, splits: Sequence[str] = ("dev", "test")) -> BaselineResults:
    """The baseline pool (no personalization, BM25, recency, dense, RRF) on every task and split."""
    ctx = context(ctx)
    pool = baseline_pool(ctx.encoder)
    names = [r.name for r in pool]
    feedback: dict = {}
    metrics: dict = {}
    examples: dict = {}
    for t in ctx.tasks:
        feedback[t.name], metrics[t.name], examples[t.name] = {}, {}, {}
        for split in splits:
            exs = ctx.examples(t, split)
            df = run_pool(ctx, t, split, pool, exs)
            feedback[t.name][split] = df
            metrics[t.name][split] = metrics_by_retriever(df, t, exs)
            examples[t.name][split] = exs
    return BaselineResults(names, feedback, metrics, examples)
