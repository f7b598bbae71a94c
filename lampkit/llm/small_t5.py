"""The embedded default LLM: a small T5 trained from scratch on mini-LaMP, one model for all tasks.

Like FLAN-T5 it is a single multitask model: training steps take turns over the seven tasks
(a batch holds prompts of one task). Each prompt holds 0 to ``k_max`` profile entries chosen by one of five strategies, so the
model meets prompts like those of every retriever of the pool and learns to read the entries:

- ``none``: the bare input (no personalization);
- ``random``: random profile items;
- ``recent``: the newest items;
- ``bm25``: BM25's top items for the input's query;
- ``relevant``: items the generator marked as relevant to the input (``Example.extra``), topped
  up with random items; skipped for data without such marks (real LaMP).

The training examples come from mini-LaMP builds of other seeds than the one the pipeline
evaluates on (``data_seeds``, all three splits): the LLM is a pretrained model that has never
seen the evaluation users, and its feedback on the training inputs of the evaluation data (the
signal of ROPG and RSPG) is not that of a model that memorised their answers. Given real LaMP
files (``data_dir``) it trains on their train split.

Prompts are built by :meth:`lampkit.tasks.Task.build_prompt` with the model's own tokenizer, exactly as the
pipeline builds them. The tokenizer is a BPE over whitespace-separated words with punctuation
split off (``tokenizers``), trained on the training text with every printable ASCII character
in its alphabet so that any ASCII text round-trips; it is saved as a
``PreTrainedTokenizerFast`` next to the model, so ``AutoTokenizer`` and
``AutoModelForSeq2SeqLM`` load the folder as they load FLAN-T5.

The model is a T5 (relative position buckets, RMS norm, tied embeddings) small enough to train
on two CPU cores in well under an hour; a few attention heads start with a positional role (see
:func:`init_positional_heads`), without which such a small T5 takes far longer to learn to copy
from its input. The forward pass runs under bfloat16 autocast (weights stay float32).

The folder also holds a model card (``README.md``) and ``training.json``: the command, seed,
data fingerprint, hyperparameters, the loss log and the dev metrics per task. Training is
deterministic: same data, seed, configuration and thread count give the same bytes on the same
kind of processor.
"""

from __future__ import annotations

import dataclasses
import json
import math
import string
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from lampkit.store.digest import tree_sha256
from lampkit.data.layout import SPLITS, Example, load_split
from lampkit.store.io import atomic_write_json
from lampkit.tasks import Task, get_task, resolve_tasks

__all__ = ["STRATEGIES", "TrainConfig", "warmup_cosine", "build_tokenizer", "build_model", "init_reader_heads", "reader_head_parameters",
           "relevant_indices",
           "select_items", "training_data", "dev_data", "train_small_llm", "train_per_task", "evaluate_dev",
           "train_cli"]

STRATEGIES: tuple[str, ...] = ("none", "random", "recent", "bm25", "relevant")
RELEVANT_KEY = "relevant_profile_ids"  # Example.extra key: ids of the profile items behind the output
SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")  # ids 0, 1, 2 as in T5


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of the embedded LLM (model shape, optimisation, prompt mix)."""

    steps: int = 1000
    batch_size: int = 16
    data_seeds: tuple[int, ...] = (1, 2, 3, 4)  # mini-LaMP builds to train on (not the eval seed)
    lr: float = 2e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    vocab_size: int = 4000
    d_model: int = 128
    d_ff: int = 384
    d_kv: int = 16
    num_heads: int = 8
    num_layers: int = 2
    num_decoder_layers: int = 2
    dropout: float = 0.0
    feed_forward: str = "gated-silu"  # T5Config.feed_forward_proj
    positional_bias: float = 4.0  # start of the neighbour heads' bias (0: plain T5 initialisation)
    bf16: bool = True  # bfloat16 autocast of the forward pass on the CPU (weights stay float32)
    max_input_length: int = 512  # prompt budget, as in evaluation
    max_target_length: int = 32
    k_max: int = 4
    strategy_weights: tuple[float, ...] = (0.15, 0.15, 0.15, 0.25, 0.30)  # in STRATEGIES order
    log_every: int = 100
    eval_examples: int = 100  # dev inputs per task for the model card's metrics
    eval_beams: int = 4
    threads: int = 1
    reader_heads: bool = False  # two fixed heads that compare the references with the profile (init_reader_heads)

    @classmethod
    def quick(cls) -> "TrainConfig":
        """A few dozen steps of a tiny model: for tests."""
        return cls(steps=24, batch_size=8, data_seeds=(1,), warmup_steps=4, vocab_size=400, d_model=32, d_ff=64, d_kv=8,
                   num_heads=2, num_layers=1, num_decoder_layers=1, max_target_length=16, log_every=8,
                   eval_examples=4, eval_beams=2, threads=1)

    def __post_init__(self) -> None:
        if len(self.strategy_weights) != len(STRATEGIES) or min(self.strategy_weights) < 0:
            raise ValueError(f"strategy_weights needs {len(STRATEGIES)} non-negative weights ({STRATEGIES})")
        if self.steps < 1 or self.batch_size < 1 or self.k_max < 1:
            raise ValueError("steps, batch_size and k_max must be at least 1")


# ----- tokenizer and model ---------------------------------------------------------------------
def build_tokenizer(texts: Iterable[str], vocab_size: int):
    """A BPE tokenizer over words and punctuation, trained on ``texts``, as PreTrainedTokenizerFast.

    Ids 0, 1, 2 are ``<pad>``, ``</s>`` (appended to every encoded text) and ``<unk>``; the
    alphabet holds every printable ASCII character, so ASCII text decodes back to itself up to
    runs of whitespace.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()])
    tok.decoder = decoders.Metaspace()
    alphabet = sorted(set(string.printable) - set(string.whitespace))
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=alphabet, min_frequency=2, show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                       special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>")


def build_model(config: TrainConfig, vocab_size: int, marker_ids: Sequence[int] = ()):
    """A T5 with tied embeddings, ``config.feed_forward`` and positional heads (:func:`init_positional_heads`);
    with ``config.reader_heads`` also the found and marker heads (:func:`init_reader_heads`, which needs
    the token ids of the reference markers, ``marker_ids``)."""
    from transformers import T5Config, T5ForConditionalGeneration

    t5 = T5Config(vocab_size=vocab_size, d_model=config.d_model, d_kv=config.d_kv, d_ff=config.d_ff,
                  num_layers=config.num_layers, num_decoder_layers=config.num_decoder_layers,
                  num_heads=config.num_heads, dropout_rate=config.dropout, feed_forward_proj=config.feed_forward,
                  tie_word_embeddings=True, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    model = T5ForConditionalGeneration(t5)
    init_positional_heads(model, config.positional_bias)
    if config.reader_heads:
        init_reader_heads(model, marker_ids)
    return model


def _relative_offsets(attention, bidirectional: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Every relative offset within the attention's maximum distance, and T5's bucket of each."""
    offsets = torch.arange(-attention.relative_attention_max_distance, attention.relative_attention_max_distance + 1)
    buckets = attention._relative_position_bucket(
        offsets, bidirectional=bidirectional, num_buckets=attention.relative_attention_num_buckets,
        max_distance=attention.relative_attention_max_distance)
    return offsets, buckets


# the reader heads' reserved coordinates of the residual stream, counted from its end
_CONSTANT, _SINK, _FOUND, _MARKER = 1, 2, 3, 4
FOUND_HEAD, MARKER_HEAD = 5, 6  # encoder heads of the first block (after the positional heads 0-4)


def init_reader_heads(model, marker_ids: Sequence[int], seed: int = 1234) -> None:
    """Give the encoder's first block two heads that LaMP-1's reading needs and that a small model,
    trained from scratch, does not find on its own (measured: 1,000 steps, even on prompts whose
    entries always back the gold, left it at chance; with them it reads the profile).

    - *found* (head 5): does this token occur anywhere else in the prompt? Its query and key
      project every token onto the same 15 coordinates of its embedding (set to one norm for every
      token), so a token meets its own copies with a score above a *sink*: every query also
      scores a fixed amount against the end-of-input token ``</s>``, which wins when the token
      has no copy. The value is 1 for every token but ``</s>`` (0), so the head writes "found"
      (about 4) or "not found" (about 0) into one reserved coordinate of the residual stream.
    - *marker* (head 6): which numbered reference is this token in? Every token looks at the
      nearest digit token among ``marker_ids`` ("1", "2") before it (a bias that falls with the
      distance) and copies part of its embedding.

    What to do with the two (that a reference's words were found in the profile entries, that
    they belong to reference [1]) is left to training. The coordinates these heads use are
    returned by :func:`reader_head_parameters` and kept fixed during training.
    """
    import math

    emb = model.shared.weight
    d = emb.shape[1]
    att = model.encoder.block[0].layer[0].SelfAttention
    dk = att.key_value_proj_dim
    if att.n_heads <= MARKER_HEAD or d < 2 * dk + 8:
        raise ValueError(f"reader heads need at least {MARKER_HEAD + 1} heads and d_model >= {2 * dk + 8}")
    m = dk - 1
    const, sink_dim, found, marker = (d - i for i in (_CONSTANT, _SINK, _FOUND, _MARKER))
    free = d - 4  # coordinates [0, free) are ordinary
    eos = model.config.eos_token_id
    generator = torch.Generator().manual_seed(seed)
    offsets, buckets = _relative_offsets(att, bidirectional=True)
    q, k, v, o = att.q.weight, att.k.weight, att.v.weight, att.o.weight
    bias = att.relative_attention_bias.weight
    with torch.no_grad():
        emb.normal_(0.0, 1.0, generator=generator)
        emb[:, :m] *= math.sqrt(m) / emb[:, :m].norm(dim=1, keepdim=True)
        rest = emb[:, m:free]
        rest *= math.sqrt(rest.shape[1]) / rest.norm(dim=1, keepdim=True)
        emb[:, free:] = 0.0
        emb[:, const] = 1.0
        emb[eos, const] = 0.0
        emb[eos, sink_dim] = 1.0
        emb[eos, :m] = 0.0
        emb[eos, m:free] *= math.sqrt(free / (free - m))  # keeps the norm of the zeroed coordinates
        for t in marker_ids:
            emb[t, marker] = 1.0
        # found: copies score 8 * 15 = 120, the sink 0.88 of that, unrelated tokens about 0 +- 31
        rows = slice(FOUND_HEAD * dk, (FOUND_HEAD + 1) * dk)
        q[rows] = 0.0
        k[rows] = 0.0
        v[rows] = 0.0
        o[:, rows] = 0.0
        o[found, :] = 0.0
        alpha2 = 8.0
        for i in range(m):
            q[rows.start + i, i] = math.sqrt(alpha2)
            k[rows.start + i, i] = math.sqrt(alpha2)
        sink = math.sqrt(0.88 * alpha2 * m)
        q[rows.start + m, const] = sink
        k[rows.start + m, sink_dim] = sink
        v[rows.start, const] = 1.0
        o[found, rows.start] = 4.0
        bias[:, FOUND_HEAD] = 0.0
        bias[buckets[offsets == 0].unique(), FOUND_HEAD] = -60.0  # not the token itself
        # marker: the nearest digit before the token; copies 16 coordinates of its embedding
        rows = slice(MARKER_HEAD * dk, (MARKER_HEAD + 1) * dk)
        q[rows] = 0.0
        k[rows] = 0.0
        v[rows] = 0.0
        o[:, rows] = 0.0
        q[rows.start, const] = math.sqrt(30.0)
        k[rows.start, marker] = math.sqrt(30.0)
        basis, _ = torch.linalg.qr(torch.randn(free, dk, generator=generator))
        v[rows, :free] = basis.T
        o[:free, rows] = basis
        bias[:, MARKER_HEAD] = -60.0
        for off, b in zip(offsets.tolist(), buckets.tolist()):
            if off < 0:
                bias[b, MARKER_HEAD] = -3.0 * math.log2(-off)


def reader_head_parameters(model) -> list[tuple[torch.nn.Parameter, torch.Tensor, torch.Tensor]]:
    """(parameter, mask, values) of everything :func:`init_reader_heads` set that training must keep:
    the two heads' projections and position biases, and the embedding coordinates they read."""
    emb = model.shared.weight
    d = emb.shape[1]
    att = model.encoder.block[0].layer[0].SelfAttention
    dk = att.key_value_proj_dim
    kept = []

    def keep(param, index) -> None:
        mask = torch.zeros_like(param, dtype=torch.bool)
        mask[index] = True
        kept.append((param, mask, param.detach()[mask].clone()))

    keep(emb, (slice(None), list(range(dk - 1)) + [d - i for i in (_CONSTANT, _SINK, _FOUND, _MARKER)]))
    for head in (FOUND_HEAD, MARKER_HEAD):
        rows = slice(head * dk, (head + 1) * dk)
        for w in (att.q.weight, att.k.weight, att.v.weight):
            keep(w, (rows, slice(None)))
        keep(att.o.weight, (slice(None), rows))
        keep(att.relative_attention_bias.weight, (slice(None), head))
    return kept


def init_positional_heads(model, strength: float) -> None:
    """Start a few attention heads with a positional or matching role (bias +-``strength``).

    T5 learns positions only through a per-head bias over relative-distance buckets, initialised
    near zero; from there a small model takes thousands of steps to find the heads that look at a
    word's neighbours, which copying a span of the input needs. Here the encoder's heads 0 and 1
    start looking at the previous and the next token, heads 2 and 3 at everything before and
    everything after (a summary of the context on each side), head 4 at earlier occurrences of the
    same token (its query and key project onto one shared random subspace, so a token meets its
    own copies; the bias hides the token itself and what follows it: does this word of a
    reference appear in the profile above?), and the decoder's head 0 at its previous token;
    every other head keeps its random start. All of them stay trainable.
    """
    if strength <= 0:
        return
    roles_by_stack = ((model.encoder, ("previous", "next", "before", "after", "match")), (model.decoder, ("previous",)))
    for stack, roles in roles_by_stack:
        attention = stack.block[0].layer[0].SelfAttention
        weight = attention.relative_attention_bias.weight  # [buckets, heads]
        offsets, buckets = _relative_offsets(attention, bidirectional=not attention.is_decoder)
        wanted = {"previous": offsets == -1, "next": offsets == 1, "before": offsets < 0, "after": offsets > 0,
                  "match": offsets < 0}
        with torch.no_grad():
            for head, role in enumerate(roles[: weight.shape[1]]):
                weight[:, head] = -strength * (3.0 if role == "match" else 1.0)
                weight[buckets[wanted[role]].unique(), head] = 0.0 if role == "match" else strength
                if role == "match":
                    d_kv = attention.key_value_proj_dim
                    rows = slice(head * d_kv, (head + 1) * d_kv)
                    generator = torch.Generator().manual_seed(head)
                    basis, _ = torch.linalg.qr(torch.randn(attention.d_model, d_kv, generator=generator))
                    attention.q.weight[rows] = basis.T
                    attention.k.weight[rows] = basis.T


# ----- which profile items a training prompt holds ---------------------------------------------
def relevant_indices(example: Example) -> list[int]:
    """Profile indices the data generator marked as behind the output (``Example.extra``)."""
    ids = example.extra.get(RELEVANT_KEY) or []
    wanted = {str(i) for i in ids}
    return [j for j, item in enumerate(example.profile) if str(item["id"]) in wanted]


class _Rankers:
    """Recency's and BM25's orders of each profile (lampkit's retrievers), computed once per example."""

    def __init__(self) -> None:
        from lampkit.retrievers.bm25 import BM25
        from lampkit.retrievers.simple import Recency

        self.retrievers = {"recent": Recency(), "bm25": BM25()}
        self._orders: dict[tuple[str, str, int], list[int]] = {}

    def order(self, strategy: str, key: tuple[str, int], task: Task, ex: Example) -> list[int]:
        full = (strategy, *key)
        if full not in self._orders:
            self._orders[full] = [int(i) for i in self.retrievers[strategy].rank(task, ex).order]
        return self._orders[full]


def select_items(strategy: str, k: int, task: Task, ex: Example, key: tuple[str, int], rng: np.random.Generator,
                 rankers: _Rankers) -> list[int]:
    """Profile indices (in prompt order) of one training prompt with at most ``k`` entries.

    ``relevant`` puts between one and all of the marked items (at most ``k``) among random
    others, in random order; without marked items it falls back to random items.
    """
    n = len(ex.profile)
    k = min(k, n)
    if strategy == "none" or k == 0:
        return []
    if strategy in ("recent", "bm25"):
        return rankers.order(strategy, key, task, ex)[:k]
    if strategy == "relevant":
        rel = relevant_indices(ex)
        if rel:
            n_rel = int(rng.integers(1, min(k, len(rel)) + 1))
            chosen = [int(i) for i in rng.permutation(rel)[:n_rel]]
            others = [int(i) for i in rng.permutation(n) if int(i) not in chosen][: k - n_rel]
            mixed = chosen + others
            return [mixed[int(i)] for i in rng.permutation(len(mixed))]
        strategy = "random"
    if strategy == "random":
        return [int(i) for i in rng.choice(n, size=k, replace=False)]
    raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")


# ----- data --------------------------------------------------------------------------------------
def training_data(tasks: Sequence[Task], data_dir: str | Path | None, scale: str,
                  data_seeds: Sequence[int]) -> tuple[dict[str, tuple[Task, list[Example]]], dict[str, Any]]:
    """Training examples per task and a description of where they come from (with fingerprints).

    Without ``data_dir``: every split of the mini-LaMP builds ``data_seeds`` at ``scale``;
    with it: the train split of the LaMP files there.
    """
    data: dict[str, tuple[Task, list[Example]]] = {}
    if data_dir is None:
        from lampkit.data import synth

        for task in tasks:
            examples = []
            for s in data_seeds:
                splits = synth.generate_task(task, scale, s)
                examples += [ex for split in SPLITS for ex in splits[split]]
            data[task.name] = (task, examples)
        source = {"source": f"mini-LaMP scale {scale}, seeds {list(data_seeds)}, splits {list(SPLITS)}",
                  "fingerprints": {str(s): _fingerprint(s, scale, tasks) for s in data_seeds}}
    else:
        for task in tasks:
            data[task.name] = (task, load_split(data_dir, task, "train"))
        source = {"source": str(data_dir), "fingerprints": {"files": tree_sha256(data_dir)}}
    for name, (_, examples) in data.items():
        if not examples:
            raise ValueError(f"no training examples for {name} ({source['source']})")
    source["train_examples"] = {name: len(exs) for name, (_, exs) in data.items()}
    return data, source


def _fingerprint(seed: int, scale: str, tasks: Sequence[str | Task] | None = None) -> str:
    """The fingerprint of the files of ``tasks`` (default: all, the build's own fingerprint) in the mini-LaMP
    build ``seed``, from its manifest (generated once into the artifact cache). A model trained on one task
    records that task's, so a change in another task's data does not touch its card."""
    from lampkit.data.sources import mini_lamp_dir
    from lampkit.data.synth import MANIFEST
    from lampkit.data.synth.writer import tasks_fingerprint

    manifest = json.loads((mini_lamp_dir(scale, seed) / MANIFEST).read_text(encoding="utf-8"))
    return str(manifest["fingerprint"]) if tasks is None else tasks_fingerprint(manifest, tasks)


def dev_data(tasks: Sequence[Task], data_dir: str | Path | None, scale: str, eval_seed: int,
             limit: int) -> dict[str, list[Example]]:
    """The first ``limit`` dev inputs per task: of the evaluation mini-LaMP, or of ``data_dir``."""
    if data_dir is None:
        from lampkit.data import synth

        return {t.name: synth.generate_task(t, scale, eval_seed)["dev"][:limit] for t in tasks}
    return {t.name: load_split(data_dir, t, "dev")[:limit] for t in tasks}


def _training_texts(data: dict[str, tuple[Task, list[Example]]]) -> Iterator[str]:
    for task, examples in data.values():
        for ex in examples:
            yield ex.input
            yield ex.output or ""
            for item in ex.profile:
                yield task.entry(item)
        yield task.fixed_suffix


def _plan(data: dict[str, tuple[Task, list[Example]]], config: TrainConfig,
          rng: np.random.Generator) -> list[tuple[str, int, str, int]]:
    """(task, example index, strategy, k) of every training prompt, in training order.

    Tasks take turns batch by batch (equal share whatever their size; a batch holds prompts of
    one task, so of similar length); each task walks through its examples in a fresh random
    order per epoch.
    """
    weights = np.asarray(config.strategy_weights, dtype=np.float64)
    has_relevant = {name: any(relevant_indices(ex) for ex in exs) for name, (_, exs) in data.items()}
    names = list(data)
    orders = {name: [] for name in names}
    plan = []
    for n in range(config.steps * config.batch_size):
        name = names[(n // config.batch_size) % len(names)]
        if not orders[name]:
            orders[name] = [int(i) for i in rng.permutation(len(data[name][1]))]
        w = weights.copy()
        if not has_relevant[name]:
            w[STRATEGIES.index("relevant")] = 0.0
        strategy = STRATEGIES[int(rng.choice(len(STRATEGIES), p=w / w.sum()))]
        k = int(rng.integers(1, config.k_max + 1))
        plan.append((name, orders[name].pop(), strategy, k))
    return plan


# ----- training ----------------------------------------------------------------------------------
def warmup_cosine(step: int, peak: float, warmup_steps: int, steps: int) -> float:
    """The small T5's learning rate at ``step`` (0-based) of ``steps``: a linear warm-up to ``peak``
    over ``warmup_steps``, then cosine decay to a tenth of the peak (used by the long-form generator too)."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, steps - warmup_steps)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _lr_at(step: int, config: TrainConfig) -> float:
    return warmup_cosine(step, config.lr, config.warmup_steps, config.steps)


def train_small_llm(out_dir: str | Path, data_dir: str | Path | None = None, scale: str = "default",
                    seed: int = 0, config: TrainConfig | None = None, tasks: str | Sequence[str] = "all",
                    eval_seed: int = 0, command: str | None = None, evaluate: bool = True,
                    log: Callable[[str], None] | None = print, **overrides: Any) -> Path:
    """Train the embedded LLM and save it, with its tokenizer and model card, in ``out_dir``.

    ``data_dir``: real LaMP files (default: mini-LaMP builds of ``config.data_seeds`` at
    ``scale``); the model card's dev metrics use the dev split of ``data_dir`` or of the
    mini-LaMP of ``eval_seed``. ``overrides`` replace fields of ``config`` (e.g. ``steps=100``).
    """
    config = dataclasses.replace(config or TrainConfig(), **overrides)
    if data_dir is None and eval_seed in config.data_seeds:
        raise ValueError(f"data_seeds {config.data_seeds} include the evaluation seed {eval_seed}: "
                         "the LLM would be trained on the users it is evaluated on")
    task_list = resolve_tasks(tasks)
    say = log or (lambda _msg: None)
    data, source = training_data(task_list, data_dir, scale, config.data_seeds)

    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        tokenizer = build_tokenizer(_training_texts(data), config.vocab_size)
        torch.manual_seed(seed)
        model = build_model(config, len(tokenizer), [tokenizer.convert_tokens_to_ids(t) for t in ("1", "2")])
        n_params = sum(p.numel() for p in model.parameters())
        say(f"T5 with {n_params:,} parameters, vocabulary {len(tokenizer):,}; {config.steps} steps of "
            f"{config.batch_size} prompts over {len(data)} task(s), "
            f"{sum(source['train_examples'].values()):,} training inputs")
        loss_log, lengths = _train(model, tokenizer, data, config, seed, say)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        record: dict[str, Any] = {
            "command": command or "lampkit.llm.small_t5.train_small_llm",
            "seed": seed,
            "data": source,
            "config": dataclasses.asdict(config),
            "parameters": n_params,
            "vocab_size": len(tokenizer),
            "prompt_tokens": lengths,
            "log": loss_log,
        }
        if evaluate:
            dev = dev_data(task_list, data_dir, scale, eval_seed, config.eval_examples)
            record["dev"] = {"source": f"{data_dir or f'mini-LaMP scale {scale} seed {eval_seed}'} dev",
                             "metrics": evaluate_dev(out, dev, config)}
    finally:
        torch.set_num_threads(threads)
    atomic_write_json(out / "training.json", record)
    (out / "README.md").write_text(_model_card(record), encoding="utf-8")
    say(f"saved to {out}")
    return out


def train_per_task(out_dir: str | Path, tasks: str | Sequence[str] = "all", jobs: int = 1,
                   log: Callable[[str], None] | None = print, **kwargs: Any) -> Path:
    """One small T5 per task in ``out_dir/<task>`` (each by :func:`train_small_llm` with ``kwargs``),
    and an index model card ``out_dir/README.md`` with every task's dev metrics.

    ``jobs`` > 1 trains that many tasks at once in separate processes (each with
    ``config.threads`` threads; results do not depend on ``jobs``).
    """
    out = Path(out_dir)
    names = [t.name for t in resolve_tasks(tasks)]
    if jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(train_small_llm, out / name, tasks=name, log=None, **kwargs) for name in names]
            for name, future in zip(names, futures):
                future.result()
                if log:
                    log(f"{name}: saved to {out / name}")
    else:
        for name in names:
            train_small_llm(out / name, tasks=name, log=log, **kwargs)
    records = {name: json.loads((out / name / "training.json").read_text(encoding="utf-8"))
               for name in sorted(p.parent.name for p in out.glob("*/training.json"))}
    (out / "README.md").write_text(_index_card(records), encoding="utf-8")
    return out


def _index_card(records: dict[str, dict[str, Any]]) -> str:
    lines = ["# mini-t5: lampkit's embedded frozen LLM, one small T5 per task", "",
             "Each folder holds a T5 trained from scratch by lampkit on one task's training prompts "
             "(see its README.md for the command, seed, data fingerprints, hyperparameters and loss log). "
             "`lampkit.pipeline.get_llm(None, beams, task)` loads the task's folder through "
             "`AutoModelForSeq2SeqLM.from_pretrained`, as it loads FLAN-T5.", "",
             "| task | parameters | steps | loss (last) | dev: no profile | dev: BM25 top 4 |", "|---|---|---|---|---|---|"]
    for name, r in records.items():
        dev = r.get("dev", {}).get("metrics", {}).get(name, {})
        first = lambda d: ", ".join(f"{m} {v:.4f}" for m, v in list(d.items())[:1])  # noqa: E731
        lines.append(f"| {name} | {r['parameters']:,} | {r['config']['steps']} | {r['log'][-1]['loss']:.4f} | "
                     f"{first(dev.get('none', {}))} | {first(dev.get('bm25', {}))} |")
    lines.append("")
    return "\n".join(lines)


def _train(model, tokenizer, data: dict[str, tuple[Task, list[Example]]], config: TrainConfig, seed: int,
           say: Callable[[str], None]) -> tuple[list[dict[str, float]], dict[str, float]]:
    """The optimisation loop; returns the loss log and prompt length statistics."""
    from lampkit.tasks import HFTokenCounter

    rng = np.random.default_rng(seed)
    plan = _plan(data, config, rng)
    rankers = _Rankers()
    counter = HFTokenCounter(tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    kept = reader_head_parameters(model) if config.reader_heads else []
    model.train()
    log: list[dict[str, float]] = []
    running, seen, lengths = 0.0, 0, []
    start = time.perf_counter()  # for the progress lines only; nothing saved depends on it
    for step in range(config.steps):
        prompts, targets = [], []
        for name, i, strategy, k in plan[step * config.batch_size:(step + 1) * config.batch_size]:
            task, ex = data[name][0], data[name][1][i]
            chosen = select_items(strategy, k, task, ex, (name, i), rng, rankers)
            prompts.append(task.build_prompt(ex.input, [ex.profile[j] for j in chosen], counter,
                                             config.max_input_length))
            targets.append(ex.output or "")
        enc = tokenizer(prompts, max_length=config.max_input_length, truncation=True, padding=True,
                        return_tensors="pt")
        lengths.extend(int(n) for n in enc["attention_mask"].sum(dim=1))
        labels = tokenizer(targets, max_length=config.max_target_length, truncation=True, padding=True,
                           return_tensors="pt")["input_ids"]
        labels[labels == tokenizer.pad_token_id] = -100
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, config)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
            loss = model(**enc, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        optimizer.step()
        with torch.no_grad():
            for param, mask, values in kept:  # the reader heads stay as initialised
                param[mask] = values
        running += loss.item()
        seen += 1
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            entry = {"step": step + 1, "loss": round(running / seen, 4), "lr": round(_lr_at(step, config), 6)}
            log.append(entry)
            say(f"step {entry['step']:>6}  loss {entry['loss']:.4f}  lr {entry['lr']:.2e}  "
                f"({time.perf_counter() - start:.0f} s)")
            running, seen = 0.0, 0
    model.eval()
    arr = np.asarray(lengths)
    stats = {"mean": round(float(arr.mean()), 1), "p99": int(np.percentile(arr, 99)), "max": int(arr.max())}
    return log, stats


# ----- evaluation and model card ------------------------------------------------------------------
def evaluate_dev(model_dir: str | Path, dev: dict[str, list[Example]], config: TrainConfig,
                 k: int = 4) -> dict[str, dict[str, dict[str, float]]]:
    """Metrics per task of the saved model without profile and with BM25's top ``k`` entries."""
    from lampkit.llm.seq2seq import Seq2SeqLLM
    from lampkit.metrics.lamp import aggregate

    llm = Seq2SeqLLM.load(model_dir, device="cpu", dtype="float32", beams=config.eval_beams,
                          max_new_tokens=config.max_target_length, max_input_length=config.max_input_length)
    rankers = _Rankers()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, examples in dev.items():
        if not examples:
            continue
        task = get_task(name)
        golds = [ex.output or "" for ex in examples]
        prompts = {"none": [ex.input for ex in examples], "bm25": []}
        for i, ex in enumerate(examples):
            top = rankers.order("bm25", (name, i), task, ex)[:k]
            prompts["bm25"].append(task.build_prompt(ex.input, [ex.profile[j] for j in top], llm.counter,
                                                     config.max_input_length))
        results[name] = {
            label: {m: round(v, 4) for m, v in aggregate(task, llm.generate(ps), golds).items()}
            for label, ps in prompts.items()
        }
    return results


def _model_card(record: dict[str, Any]) -> str:
    c = record["config"]
    tasks = list(record["data"]["train_examples"])
    trained_on = "all seven LaMP tasks at once" if len(tasks) == 7 else ", ".join(tasks)
    lines = [
        "# mini-t5: lampkit's embedded frozen LLM",
        "",
        f"A small T5 ({c['feed_forward']} feed-forward, tied embeddings) trained from scratch by lampkit on the",
        f"training prompts of {trained_on}, each prompt holding 0 to {c['k_max']} profile entries chosen",
        "by a mix of strategies (none, random, newest, BM25 top, items the generator marked relevant),",
        "so that it learns to read the entries. It stands in for FLAN-T5 on the synthetic mini-LaMP:",
        "load it with `lampkit.llm.seq2seq.Seq2SeqLLM.load(<this folder>)` or `AutoModelForSeq2SeqLM`.",
    ]
    if c.get("reader_heads"):
        lines += [
            "",
            "Two attention heads of the encoder's first block started with a role and were kept fixed during",
            "training (`--reader-heads`, `lampkit.llm.small_t5.init_reader_heads`): *found* (does this token occur",
            "elsewhere in the prompt?) and *marker* (the nearest reference number before the token). Without",
            "them this small model, trained from scratch, did not learn to compare LaMP-1's two references",
            "with the profile entries.",
        ]
    lines += [
        "",
        "## Training",
        "",
        f"- command: `{record['command']}`",
        f"- seed: {record['seed']}",
        f"- data: {record['data']['source']}",
        *[f"  - fingerprint {key}: `{value}`" for key, value in record["data"]["fingerprints"].items()],
        f"- training inputs per task: {record['data']['train_examples']}",
        f"- parameters: {record['parameters']:,}; vocabulary: {record['vocab_size']:,} (BPE over words)",
        f"- prompt length in tokens: mean {record['prompt_tokens']['mean']}, "
        f"99th percentile {record['prompt_tokens']['p99']}, max {record['prompt_tokens']['max']}",
        "",
        "| hyperparameter | value |",
        "|---|---|",
    ]
    lines += [f"| {key} | {value} |" for key, value in c.items()]
    if "dev" in record:
        lines += ["", f"## Dev metrics ({record['dev']['source']}: first {c['eval_examples']} inputs per task, "
                  f"beam {c['eval_beams']})", "", "| task | profile | metric | value |", "|---|---|---|---|"]
        for task, by_prompt in record["dev"]["metrics"].items():
            for name, metrics in by_prompt.items():
                lines += [f"| {task} | {name} | {m} | {v:.4f} |" for m, v in metrics.items()]
    lines += ["", "## Loss", "", "| step | loss |", "|---|---|"]
    lines += [f"| {e['step']} | {e['loss']:.4f} |" for e in record["log"]]
    lines.append("")
    return "\n".join(lines)


_CLI_OPTIONS = ("out", "data_dir", "scale", "seed", "eval_seed", "task", "steps", "batch_size", "data_seeds",
                "strategy_weights", "jobs")


def train_cli(args: Any) -> int:
    """``lampkit llm train``: ``--out DIR [--per-task [--jobs N]] [--data-dir DIR] [--scale S] [--seed N]
    [--eval-seed N] [--task T] [--steps N] [--batch-size N] [--data-seeds 1,2,..] [--strategy-weights W,..]
    [--reader-heads] [--quick]`` (``args`` holds those names)."""
    quick = bool(getattr(args, "quick", False))
    per_task = bool(getattr(args, "per_task", False))
    config = TrainConfig.quick() if quick else TrainConfig()
    overrides = {name: getattr(args, name) for name in ("steps", "batch_size") if getattr(args, name, None) is not None}
    for name, kind, what in (("data_seeds", int, "integers"), ("strategy_weights", float, "numbers")):
        value = getattr(args, name, None)
        if value:
            try:
                overrides[name] = tuple(kind(v) for v in str(value).split(","))
            except ValueError:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag}: expected comma-separated {what}, got {value!r}") from None
    reader = bool(getattr(args, "reader_heads", False))
    if reader:
        overrides["reader_heads"] = True
    options = [f"--{name.replace('_', '-')} {getattr(args, name)}" for name in _CLI_OPTIONS
               if getattr(args, name, None) is not None]
    flags = [flag for flag, on in (("--per-task", per_task), ("--quick", quick), ("--reader-heads", reader)) if on]
    command = " ".join(["lampkit llm train", *options, *flags])
    kwargs = dict(data_dir=args.data_dir, scale=args.scale, seed=args.seed, config=config, eval_seed=args.eval_seed,
                  command=command, **overrides)
    if per_task:
        out = train_per_task(args.out, tasks=args.task, jobs=getattr(args, "jobs", None) or 1, **kwargs)
    else:
        out = train_small_llm(args.out, tasks=args.task, **kwargs)
    print(f"model written to {out}")
    return 0
