"""RSPG's selection: one task, one pool, every method's choice per input (paper section 5).

:func:`run_selection` runs it: pool feedback on the train and evaluation splits (through the
feedback store), the RSPG-Pre and RSPG-Post selectors of :mod:`lampkit.rspg.selector` trained on the
train split's EVAL and kept in the artifact cache, the QPP baselines of :mod:`lampkit.rspg.qpp`,
and the retriever each method chose for every evaluation input (:class:`Selection`), whose tables
:mod:`lampkit.rspg.report` writes. :mod:`lampkit.rspg.stage` runs it on every task and pool.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from lampkit.store.cache import ArtifactCache
from lampkit.data.layout import Example
from lampkit.retrievers.embedding_cache import EmbeddingCache, default_cache_path
from lampkit.rspg.config import MODES, RspgConfig  # (importable from here too)
from lampkit.store.deps import depends_on
from lampkit.store.digest import sha256_json
from lampkit.pipeline import Context, Settings, context, get_encoder, run_pool
from lampkit.retrievers import BM25, Dense, NoPersonalization, Recency
from lampkit.ropg.stage import RopgSetup, ropg_retrievers
from lampkit.feedback import eval_matrix
from lampkit.metrics.lamp import PER_EXAMPLE_COLUMN, aggregate
from lampkit.rspg.qpp import qpp_choices
from lampkit.rspg.selector import (OracleBounds, Selector, SelectorParts, entry_texts, input_coverage, input_fits,
                                   oracle_bounds, oracle_choices, predict, selector_text, success_rate, train_selector)
from lampkit.tasks import Task, get_task
from lampkit.analysis import methods
from lampkit.analysis.winning import main_matrix, winners

__all__ = ["POOL", "POOL_LABELS", "ORACLES", "selection_pool", "QPP_METHODS", "SELECTORS", "TABLE4_COLUMNS",
           "Selection", "selector_texts", "selector_parts", "selector_data", "fit_selector",
           "qpp_selections", "run_selection"]

QPP_METHODS = ("wig", "nqc", "sigma_max", "sigma_x")
SELECTORS = methods.SELECTORS
# the columns of the paper's Table 4 (success rates), in its order
TABLE4_COLUMNS = ("wig", "nqc", "sigma_max", "sigma_x", "rspg_pre", "rspg_post")
POOL_LABELS = {"full": "", "no-ropg": "_no_ropg"}  # pool -> suffix of its columns in Table 5
# code a trained selector depends on: the selector with what it imports, and this module (key and build)
SELECTOR_MODULES = depends_on("lampkit.rspg.selector") + ("lampkit.rspg.selection",)
ORACLES = ("oracle-upper", "oracle-lower")


# the retriever pool of RSPG, in the paper's order (Salemi et al. section 5)
POOL: tuple[str, ...] = methods.RSPG_POOL


def selection_pool(ctx: Context | Settings, task: str | Task, ropg: RopgSetup, with_ropg: bool = True) -> list:
    """The pool RSPG selects from, in :data:`POOL` order; ``with_ropg=False`` is the ablation's pool.

    The ROPG retrievers come from :func:`lampkit.ropg.stage.ropg_retrievers` with the setup
    ``ropg`` (trained once per task and setup, then loaded from the artifact cache).
    """
    ctx = context(ctx)
    pool = [NoPersonalization(), Recency(), BM25()]
    if not with_ropg:
        return pool + [Dense(ctx.encoder)]
    # dense, ropg-rl, ropg-kd: one pass of the frozen lower layers embeds a text for all three
    return pool + ropg_retrievers(ctx, task, ropg, methods=("rl", "kd"), with_initial=True)


def _wide(df: pd.DataFrame, pool: Sequence[str], column: str) -> np.ndarray:
    """Inputs x retrievers array (object) of ``column`` of pool feedback, inputs in the frame's order."""
    wide = df.pivot(index="example_id", columns="retriever", values=column)
    return wide.loc[list(dict.fromkeys(df["example_id"])), list(pool)].to_numpy(dtype=object)


def _per_input(task: Task, examples: Sequence[Example], feedback: pd.DataFrame, pool: Sequence[str], mode: str):
    """Per input (in the feedback's order): the example, per retriever its chosen profile items and,
    for ``post``, per retriever the LLM's output (None for ``pre``)."""
    if mode not in MODES:
        raise ValueError(f"unknown RSPG mode {mode!r}; expected one of {MODES}")
    by_id = {str(ex.id): ex for ex in examples}
    order = list(dict.fromkeys(feedback["example_id"]))
    missing = [i for i in order if i not in by_id]
    if missing:
        raise ValueError(f"pool feedback holds inputs that are not among the examples: {missing[:5]}")
    items = _wide(feedback, pool, "items")
    outputs = _wide(feedback, pool, "output") if mode == "post" else None
    for n, ex_id in enumerate(order):
        ex = by_id[ex_id]
        profile = {str(item["id"]): item for item in ex.profile}
        chosen = [[profile[str(i)] for i in items[n, j]] for j in range(len(pool))]
        yield ex, chosen, None if outputs is None else list(outputs[n])


def selector_texts(task: str | Task, examples: Sequence[Example], feedback: pd.DataFrame, pool: Sequence[str],
                   mode: str, tokenizer, max_length: int) -> list[list[str]]:
    """Per input (in the feedback's order), one text per retriever of ``pool``, as the linear head reads it.

    Each text is :func:`lampkit.rspg.texts.selector_text` of the input and the retriever's top
    items (the ``items`` column of pool feedback): the whole input, the entries sharing the rest of
    the ``max_length`` window, and for ``post`` the LLM's output.
    """
    t = get_task(task)
    return [[selector_text(t, ex.input, chosen[j], tokenizer, max_length,
                           output=None if outputs is None else outputs[j]) for j in range(len(pool))]
            for ex, chosen, outputs in _per_input(t, examples, feedback, pool, mode)]


def selector_parts(task: str | Task, examples: Sequence[Example], feedback: pd.DataFrame, pool: Sequence[str],
                   mode: str) -> list[SelectorParts]:
    """Per input (in the feedback's order), its :class:`~lampkit.rspg.texts.SelectorParts`, as the
    interaction head reads them: the input, per retriever of ``pool`` the entries of its top items
    (:func:`lampkit.rspg.texts.entry_texts`, the prompt's entries uncut) and for ``post`` the
    LLM's outputs."""
    t = get_task(task)
    return [SelectorParts(ex.input, tuple(entry_texts(t, items) for items in chosen),
                          None if outputs is None else tuple(str(o) for o in outputs))
            for ex, chosen, outputs in _per_input(t, examples, feedback, pool, mode)]


def selector_data(task: str | Task, examples: Sequence[Example], feedback: pd.DataFrame, pool: Sequence[str],
                  mode: str, tokenizer, config: "RspgConfig") -> list[list[str]] | list[SelectorParts]:
    """What ``config``'s head reads per input: :func:`selector_texts` or :func:`selector_parts`."""
    if config.head == "interaction":
        return selector_parts(task, examples, feedback, pool, mode)
    return selector_texts(task, examples, feedback, pool, mode, tokenizer, config.max_length)


def _digest(obj: object) -> str:
    return sha256_json(obj, ensure_ascii=False)


def fit_selector(texts: Sequence[Sequence[str]] | Sequence[SelectorParts], evals: np.ndarray,
                 config: RspgConfig = RspgConfig(),
                 artifacts: ArtifactCache | None = None, show_progress: bool = False) -> Selector:
    """A selector trained on ``texts`` and their ``evals`` with ``config``, through the artifact cache.

    ``texts`` is what ``config.head`` reads (:func:`selector_data`): per input one text per
    retriever for the linear head, one :class:`~lampkit.rspg.texts.SelectorParts` for the
    interaction head. The cache key is the content of those texts or parts and of EVAL, the
    encoder's identity and the training settings (the head among them), so the same training data
    gives back the same saved selector without training (a selector trained by this call is
    returned as trained, without reading it back).
    """
    artifacts = artifacts or ArtifactCache()
    evals = np.asarray(evals, dtype=np.float64)
    if config.head == "interaction":
        if not texts or not all(isinstance(p, SelectorParts) for p in texts):
            raise ValueError("the interaction head trains on SelectorParts (lampkit.rspg.selection.selector_parts)")
        data = {"parts": _digest([p.key() for p in texts])}
    else:
        data = {"texts": _digest([list(group) for group in texts])}
    key = {**data, "eval": _digest(evals.tolist()),
           "encoder": get_encoder(config.encoder).model_id, "settings": config.training()}

    trained: list[Selector] = []

    def build(folder) -> None:
        selector = train_selector(texts, evals, config.encoder, epochs=config.epochs, lr=config.lr,
                                  batch_size=config.batch_size, max_length=config.max_length, seed=config.seed,
                                  trainable_layers=config.trainable_layers, encoder_layers=config.encoder_layers,
                                  cache=EmbeddingCache(default_cache_path()), show_progress=show_progress,
                                  micro_batch_size=config.micro_batch_size, warmup_ratio=config.warmup_ratio,
                                  schedule=config.schedule, max_grad_norm=config.max_grad_norm,
                                  dev_share=config.dev_share, patience=config.patience, head=config.head)
        selector.save_pretrained(folder)
        trained.append(selector)

    folder = artifacts.get_or_build("rspg-selector", key, build, SELECTOR_MODULES)
    return trained[0] if trained else Selector.from_pretrained(folder)


def qpp_selections(task: str | Task, examples: Sequence[Example], pool: Sequence, k: int = 4,
                   x: float = 0.5) -> dict[str, np.ndarray]:
    """Per QPP predictor, the pool index it chooses for each of ``examples`` (ties: the first in the pool).

    Each retriever's scores over the profile are read as the predictors expect (recency's
    reciprocal ranks, no personalization's zeros); WIG's query length is the whitespace tokens
    of the input's query, which scales every retriever of an input alike and so never changes
    its choice.
    """
    t = get_task(task)
    rankings = {r.name: r.rank_many(t, examples) for r in pool}
    lengths = [max(1, len((t.query(ex.input) or "").split())) for ex in examples]
    return {"wig": qpp_choices(rankings, lengths, "wig", k=k), "nqc": qpp_choices(rankings, lengths, "nqc", k=k),
            "sigma_max": qpp_choices(rankings, lengths, "sigma_max"),
            "sigma_x": qpp_choices(rankings, lengths, "sigma_x", x=x)}


@dataclass
class Selection:
    """One task and one pool: the retriever each method chose for every evaluation input.

    ``choices`` maps a method (a QPP predictor, ``rspg-pre``, ``rspg-post``, ``oracle-upper``,
    ``oracle-lower``) to pool indices; ``matrix`` holds the main metric per input and retriever;
    ``history`` the selectors' training loss per epoch; ``dev_history`` their dev loss per epoch (when
    a dev set was held out); ``coverage`` per mode the share of evaluation texts whose whole input
    lies inside the selector's window: for the linear head, of the texts whose input lies whole
    among the first ``max_length`` tokens (:func:`lampkit.rspg.texts.input_coverage`); for the
    interaction head, which embeds each input alone truncated to ``max_length`` tokens, of the
    inputs that fit whole in ``max_length`` tokens (:func:`lampkit.rspg.texts.input_fits`).
    """

    task: str
    pool: list[str]
    split: str
    examples: list[Example]
    feedback: pd.DataFrame
    matrix: np.ndarray
    choices: dict[str, np.ndarray]
    history: dict[str, list[float]]
    coverage: dict[str, float] = dataclasses.field(default_factory=dict)
    dev_history: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    @property
    def higher_is_better(self) -> bool:
        return get_task(self.task).higher_is_better

    def bounds(self) -> OracleBounds:
        return oracle_bounds(self.matrix, self.higher_is_better)

    def methods(self) -> list[str]:
        return [m for m in (*QPP_METHODS, *SELECTORS, *ORACLES) if m in self.choices]

    def success_rates(self) -> dict[str, float]:
        """Share of inputs on which each retriever and each method picks a retriever tied for best."""
        n = len(self.matrix)
        fixed = {name: np.full(n, j, dtype=np.int64) for j, name in enumerate(self.pool)}
        picks = {**fixed, **{m: self.choices[m] for m in self.methods()}}
        return {m: success_rate(c, self.matrix, self.higher_is_better) for m, c in picks.items()}

    def picks(self, method: str) -> np.ndarray:
        """The pool index chosen for every input by ``method``, or a retriever of the pool's (constant)."""
        if method in self.pool:
            return np.full(len(self.matrix), self.pool.index(method), dtype=np.int64)
        return np.asarray(self.choices[method], dtype=np.int64)

    def successes(self, method: str) -> np.ndarray:
        """Per input, whether ``method``'s choice is tied for the best retriever (Table 4's success)."""
        return winners(self.matrix, self.higher_is_better)[np.arange(len(self.matrix)), self.picks(method)]

    def per_example(self, method: str) -> dict[str, np.ndarray]:
        """The per-example metric columns (:func:`lampkit.metrics.lamp.per_example`) of ``method``'s chosen outputs."""
        rows = np.arange(len(self.matrix))
        chosen = self.picks(method)
        columns = [c for c in PER_EXAMPLE_COLUMN.values() if c in self.feedback.columns]
        return {c: _wide(self.feedback, self.pool, c)[rows, chosen].astype(np.float64) for c in dict.fromkeys(columns)}

    def best_single(self) -> str:
        """The retriever with the best mean main metric on this split (ties: the first in the pool)."""
        means = self.matrix.mean(axis=0)
        return self.pool[int(np.argmax(means if self.higher_is_better else -means))]

    def metrics(self) -> pd.DataFrame:
        """The task's metrics (columns) of each retriever and of each method's chosen outputs (rows)."""
        outputs = _wide(self.feedback, self.pool, "output")
        golds = {str(ex.id): ex.output for ex in self.examples}
        gold = [golds[i] for i in dict.fromkeys(self.feedback["example_id"])]
        rows = np.arange(len(outputs))
        picks = {**{name: np.full(len(rows), j) for j, name in enumerate(self.pool)},
                 **{m: self.choices[m] for m in self.methods()}}
        return pd.DataFrame({m: aggregate(self.task, list(outputs[rows, c]), gold) for m, c in picks.items()}).T


def run_selection(ctx: Context | Settings, task: str | Task, pool: Sequence, config: RspgConfig = RspgConfig(),
                  eval_split: str = "test", modes: Sequence[str] = MODES,
                  examples: Mapping[str, Sequence[Example]] | None = None,
                  artifacts: ArtifactCache | None = None) -> Selection:
    """Train the selectors of ``modes`` on the train split and let every method choose on ``eval_split``.

    ``pool`` is a list of retrievers (names unique, in the order of the pool); ``examples``
    (split -> examples) defaults to the context's data.
    """
    ctx = context(ctx)
    t = get_task(task)
    names = [r.name for r in pool]
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"the pool needs distinct retriever names, got {names}")
    if eval_split == "train":
        raise ValueError("the selectors train on the train split: evaluate on dev or test")
    given = dict(examples or {})
    exs = {s: list(given[s]) if s in given else ctx.examples(t, s) for s in ("train", eval_split)}
    train = run_pool(ctx, t, "train", pool, exs["train"])
    test = run_pool(ctx, t, eval_split, pool, exs[eval_split])
    tokenizer = get_encoder(config.encoder).encoder.tokenizer
    evals = eval_matrix(train, names)
    choices: dict[str, np.ndarray] = {}
    history: dict[str, list[float]] = {}
    coverage: dict[str, float] = {}
    dev_history: dict[str, list[float]] = {}
    for mode in modes:
        texts = selector_data(t, exs["train"], train, names, mode, tokenizer, config)
        selector = fit_selector(texts, evals, config, artifacts, ctx.settings.show_progress)
        test_texts = selector_data(t, exs[eval_split], test, names, mode, tokenizer, config)
        choices[f"rspg-{mode}"] = predict(selector, test_texts, cache=EmbeddingCache(default_cache_path()))
        if config.head == "interaction":
            coverage[mode] = input_fits([p.input for p in test_texts], tokenizer, config.max_length)
        else:
            inputs = [ex.input for ex in exs[eval_split] for _ in names]
            coverage[mode] = input_coverage([x for row in test_texts for x in row], inputs, tokenizer,
                                            config.max_length)
        history[mode] = list(selector.history)
        dev_history[mode] = list(selector.dev_history)
    choices.update(qpp_selections(t, exs[eval_split], pool, config.qpp_k, config.qpp_x))
    matrix = main_matrix(test, t, names)
    choices["oracle-upper"] = oracle_choices(matrix, t.higher_is_better, upper=True)
    choices["oracle-lower"] = oracle_choices(matrix, t.higher_is_better, upper=False)
    return Selection(t.name, names, eval_split, exs[eval_split], test, matrix, choices, history, coverage, dev_history)
