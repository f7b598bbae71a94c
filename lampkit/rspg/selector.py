"""Retriever selection (RSPG): learn which retriever of the pool to trust for each input.

For each input every retriever of the pool builds its prompt; RSPG-Pre reads the prompt,
RSPG-Post the prompt followed by the LLM's output for it (Salemi et al. section 5.2). A
:class:`Selector` scores each (input, retriever) pair; the scores of one input form logits over
the pool. Training minimises KL(target || softmax(logits)) with the target the softmax over the
pool of EVAL; inference picks the argmax. Two heads score a pair:

- ``linear`` (the paper's shape): the encoder reads the whole text of :func:`selector_text`,
  rebuilt for the selector's window so that the whole input stays inside it; its last hidden
  states, mean-pooled over the attention mask (the pooling of
  :mod:`lampkit.retrievers.encoders`), go through one linear layer. A *frozen* selector
  (``trainable_layers=0``) trains the linear layer alone on the encoder's embeddings, computed
  once per distinct text (and kept in an
  :class:`~lampkit.retrievers.embedding_cache.EmbeddingCache` when one is given).
- ``interaction`` (frozen encoders only): the parts of the pair are embedded apart, each once
  (:class:`SelectorParts`: the input, each retrieved entry's text, for RSPG-Post the output; an
  entry recurs across retrievers and inputs and is embedded once), and
  :class:`InteractionHead` learns how they relate: the input attends over the retriever's
  entries, and a two-layer MLP scores the input, the pooled entries, their product and their
  difference (with the output, for Post).

The texts and parts a selector reads are built in :mod:`lampkit.rspg.texts`; the oracle bounds
and success rate in :mod:`lampkit.rspg.oracle` (both names importable from here too).
"""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from lampkit.retrievers.embedding_cache import CachedEncoder, EmbeddingCache
from lampkit.retrievers.encoders import Encoder, default_device, load_encoder, mean_pool, model_inputs
from lampkit.store.io import atomic_write_bytes, atomic_write_json
from lampkit.ropg.method import lr_multiplier
from lampkit.rspg.config import HEADS
from lampkit.rspg.heads import HEAD_HIDDEN, InteractionHead, _index_parts, _parts_pool_size, _PartsIndex
from lampkit.rspg.oracle import OracleBounds, oracle_bounds, oracle_choices, success_rate
from lampkit.rspg.texts import OUTPUT_SHARE, SelectorParts, entry_texts, input_coverage, input_fits, selector_text

__all__ = ["OracleBounds", "oracle_bounds", "oracle_choices", "success_rate", "target_distribution", "kl_loss",
           "OUTPUT_SHARE", "selector_text", "input_coverage", "input_fits", "keep_bottom_layers", "HEADS", "HEAD_HIDDEN",
           "SelectorParts", "entry_texts", "InteractionHead", "Selector", "train_selector", "predict"]

_HEAD_FILE = "head.safetensors"
_CONFIG_FILE = "selector.json"
_ENCODER_DIR = "encoder"

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def target_distribution(eval_matrix: Array) -> Array:
    """Softmax over the pool (last axis) of EVAL per input; a tensor stays a tensor, anything else is float64."""
    if isinstance(eval_matrix, torch.Tensor):
        return torch.softmax(eval_matrix, dim=-1)
    e = np.asarray(eval_matrix, dtype=np.float64)
    z = np.exp(e - e.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def kl_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """KL(target || softmax(logits)) summed over the pool and averaged over the batch (0 log 0 = 0)."""
    if logits.shape != target.shape or logits.ndim != 2:
        raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target.shape)} must be the same [batch, pool]")
    return F.kl_div(F.log_softmax(logits, dim=-1), target.to(logits.dtype), reduction="batchmean")


def _transformer_layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The stack of transformer layers: the first ModuleList as long as ``config.num_hidden_layers``."""
    return model.get_submodule(_layers_name(model))


def _layers_name(model: torch.nn.Module) -> str:
    n = int(model.config.num_hidden_layers)
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n:
            return name
    raise ValueError(f"no list of {n} transformer layers found in {type(model).__name__}")


def keep_bottom_layers(model: torch.nn.Module, n: int) -> None:
    """Cut ``model`` to its embeddings and its bottom ``n`` transformer layers, in place (a shallower encoder)."""
    name = _layers_name(model)
    layers = model.get_submodule(name)
    if not 0 <= n <= len(layers):
        raise ValueError(f"layers must lie in [0, {len(layers)}], got {n}")
    parent, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent), attr, torch.nn.ModuleList(list(layers)[:n]))
    model.config.num_hidden_layers = n


class Selector(torch.nn.Module):
    """An encoder and a head on its mean-pooled output: one score per (input, retriever) pair.

    The ``linear`` head scores the embedding of one whole text per pair; ``forward`` takes texts
    grouped per input (every group as long as the pool). The ``interaction`` head (an
    :class:`InteractionHead`; frozen selectors only) scores the embeddings of the pair's parts;
    ``forward`` takes one :class:`SelectorParts` per input (``with_output``: RSPG-Post's, with
    outputs). Either way it returns logits [batch, pool]. Texts are truncated to ``max_length``
    tokens, which must fit the encoder's positions. ``history`` holds the mean training loss of
    each epoch, ``dev_history`` the dev loss when training held out a dev set (``best_epoch``: the
    epoch kept). A ``frozen`` selector never changes its encoder: it embeds texts in eval mode (as
    :meth:`lampkit.retrievers.encoders.Encoder.encode`) and saves only its head and the encoder's name and
    identity (``encoder_source``, ``encoder_layers``, ``encoder_id``).
    """

    def __init__(self, encoder: torch.nn.Module, tokenizer, max_length: int = 512, encoder_source: str | None = None,
                 encoder_id: str = "", frozen: bool = False, encoder_layers: int | None = None,
                 head: str = "linear", with_output: bool = False) -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"unknown selector head {head!r}; expected one of {HEADS}")
        if head == "interaction" and not frozen:
            raise ValueError("the interaction head reads a frozen encoder's embeddings: train it with trainable_layers=0")
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.encoder_source = encoder_source
        self.encoder_id = encoder_id
        self.encoder_layers = encoder_layers
        self.frozen = frozen
        self.head_kind = head
        self.with_output = with_output if head == "interaction" else False
        dim = int(encoder.config.hidden_size)
        self.head = torch.nn.Linear(dim, 1) if head == "linear" else InteractionHead(dim, self.with_output)
        self.history: list[float] = []
        self.dev_history: list[float] = []
        self.best_epoch: int | None = None
        if frozen:
            encoder.requires_grad_(False)

    @classmethod
    def from_encoder(cls, name_or_path: str | None = None, max_length: int = 512, device: str | None = None,
                     frozen: bool = False, encoder_layers: int | None = None, head: str = "linear",
                     with_output: bool = False) -> "Selector":
        """A new selector on the encoder ``name_or_path`` (see :func:`lampkit.retrievers.encoders.load_encoder`),
        cut to its bottom ``encoder_layers`` transformer layers unless None, with a ``head`` of :data:`~lampkit.rspg.config.HEADS`.

        The head starts from torch's default initialisation: seed torch first for a repeatable one.
        """
        enc = load_encoder(name_or_path, device=device, dtype=None)  # trained and run in float32
        model_id = enc.model_id
        if encoder_layers is not None:
            keep_bottom_layers(enc.model, encoder_layers)
            model_id = f"{model_id}+layers:{encoder_layers}"
        return cls(enc.model, enc.tokenizer, max_length, name_or_path, model_id, frozen,
                   encoder_layers, head, with_output).to(enc.device)

    @property
    def device(self) -> torch.device:
        return next(self.head.parameters()).device

    def embed(self, texts: Sequence[str], cache: EmbeddingCache | None = None,
              show_progress: bool = False) -> torch.Tensor:
        """Mean-pooled encoder output [len(texts), dim]; a frozen selector reads and fills ``cache``."""
        if self.frozen:
            source = Encoder(self.encoder, self.tokenizer, self.encoder_id, device=self.device)
            source = CachedEncoder(source, cache) if cache is not None else source
            return torch.from_numpy(source.encode(list(texts), max_length=self.max_length,
                                                  show_progress=show_progress)).to(self.device)
        batch = self.tokenizer(list(texts), truncation=True, max_length=self.max_length, padding=True,
                               return_tensors="pt")
        batch = {k: v.to(self.device) for k, v in batch.items()}
        return mean_pool(self.encoder(**model_inputs(self.encoder, batch)).last_hidden_state, batch["attention_mask"])

    def score_texts(self, texts: Sequence[str], cache: EmbeddingCache | None = None) -> torch.Tensor:
        """One score per text, shape [len(texts)] (the linear head)."""
        if self.head_kind != "linear":
            raise ValueError("score_texts is the linear head's; the interaction head scores SelectorParts")
        return self.head(self.embed(texts, cache)).squeeze(-1)

    def _check_parts(self, parts: Sequence[SelectorParts]) -> int:
        pool = _parts_pool_size(parts)
        if (parts[0].outputs is not None) != self.with_output:
            raise ValueError(f"this selector reads {'outputs (RSPG-Post)' if self.with_output else 'no outputs (RSPG-Pre)'}")
        return pool

    def _embed_parts(self, parts: Sequence[SelectorParts], cache: EmbeddingCache | None = None,
                     show_progress: bool = False) -> tuple[torch.Tensor, _PartsIndex]:
        """The embeddings of the distinct texts of ``parts`` (each once, through ``cache``) and their index."""
        self._check_parts(parts)
        index = _index_parts(parts)
        return self.embed(index.texts, cache, show_progress), index

    def _parts_logits(self, features: torch.Tensor, index: _PartsIndex, rows) -> torch.Tensor:
        """The interaction head's logits [len(rows), pool] for the inputs ``rows`` of ``index``."""
        rows = torch.as_tensor(rows, dtype=torch.long)
        outputs = None if index.outputs is None else features[index.outputs[rows].to(features.device)]
        return self.head(features[index.inputs[rows].to(features.device)],
                         features[index.entries[rows].to(features.device)],
                         index.mask[rows].to(features.device), outputs)

    def score_parts(self, parts: Sequence[SelectorParts], cache: EmbeddingCache | None = None) -> torch.Tensor:
        """The interaction head's logits [len(parts), pool]."""
        features, index = self._embed_parts(parts, cache)
        return self._parts_logits(features, index, range(len(parts)))

    def forward(self, texts: Sequence[Sequence[str]] | Sequence[SelectorParts]) -> torch.Tensor:
        if self.head_kind == "interaction":
            return self.score_parts(texts)
        pool = _pool_size(texts)
        distinct, index = _distinct_texts(texts)
        scores = self.score_texts(distinct)
        return scores[torch.tensor(index, device=scores.device)].view(len(texts), pool)

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write the head and the settings, and unless frozen the encoder and tokenizer (safetensors)."""
        from safetensors.torch import save

        folder = Path(folder)
        if not self.frozen:
            self.encoder.save_pretrained(folder / _ENCODER_DIR, safe_serialization=True)
            self.tokenizer.save_pretrained(folder / _ENCODER_DIR)
        head = {k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()}
        atomic_write_bytes(folder / _HEAD_FILE, save(head))
        atomic_write_json(folder / _CONFIG_FILE, {
            "max_length": self.max_length, "pooling": "mean", "frozen": self.frozen,
            "head": self.head_kind, "with_output": self.with_output,
            "encoder": self.encoder_source if self.frozen else None,
            "encoder_layers": self.encoder_layers if self.frozen else None,
            "encoder_id": self.encoder_id if self.frozen else None, "history": self.history,
            "dev_history": self.dev_history, "best_epoch": self.best_epoch}, indent=2)
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str | None = None) -> "Selector":
        """A selector written by :meth:`save_pretrained`, in eval mode, with the head it was saved with.

        A frozen selector loads its encoder by name and refuses one whose identity changed.
        """
        from safetensors.torch import load_file

        folder = Path(folder)
        config = json.loads((folder / _CONFIG_FILE).read_text(encoding="utf-8"))
        frozen = bool(config.get("frozen", False))
        source = config["encoder"] if frozen else str(folder / _ENCODER_DIR)
        selector = cls.from_encoder(source, max_length=int(config["max_length"]), device=device, frozen=frozen,
                                    encoder_layers=config.get("encoder_layers"), head=config.get("head", "linear"),
                                    with_output=bool(config.get("with_output", False)))
        if frozen and selector.encoder_id != config["encoder_id"]:
            raise ValueError(f"{folder / _CONFIG_FILE}: field 'encoder_id': the selector was trained on "
                             f"{config['encoder_id']}, but {source!r} is now {selector.encoder_id}")
        selector.head.load_state_dict(load_file(str(folder / _HEAD_FILE), device=str(selector.device)))
        selector.history = [float(v) for v in config["history"]]
        selector.dev_history = [float(v) for v in config.get("dev_history", [])]
        selector.best_epoch = config.get("best_epoch")
        return selector.eval()


def _distinct_texts(texts: Sequence[Sequence[str]]) -> tuple[list[str], list[int]]:
    """The distinct texts of the per-input groups ``texts``, and for each text of the groups, in order,
    its place among them: retrievers that return the same entries give the same text, encoded once."""
    distinct: dict[str, int] = {}
    index = [distinct.setdefault(t, len(distinct)) for group in texts for t in group]
    return list(distinct), index


def _pool_size(texts: Sequence[Sequence[str]]) -> int:
    """The common length of the per-input groups of texts (every input must have one text per retriever)."""
    if len(texts) == 0:
        raise ValueError("no inputs")
    pool = len(texts[0])
    for i, group in enumerate(texts):
        if isinstance(group, str) or len(group) != pool or pool == 0:
            raise ValueError(f"input {i}: expected a list of {pool} texts (one per retriever), got {group!r:.80}")
    return pool


def train_selector(train_texts: Sequence[Sequence[str]] | Sequence[SelectorParts], train_eval: np.ndarray,
                   encoder_name_or_path: str | None = None, epochs: int = 20, lr: float = 1e-5,
                   batch_size: int = 8, max_length: int = 512, seed: int = 0,
                   trainable_layers: int | None = None, encoder_layers: int | None = None,
                   device: str | None = None, cache: EmbeddingCache | None = None,
                   show_progress: bool = False, micro_batch_size: int | None = None,
                   warmup_ratio: float = 0.0, schedule: str = "constant",
                   max_grad_norm: float | None = None, dev_share: float = 0.0,
                   patience: int | None = None, head: str = "linear") -> Selector:
    """Train a :class:`Selector` to match softmax(EVAL) over the pool (KL loss, Adam; Salemi et al. section 5).

    ``train_texts`` holds per input one text per retriever (of :func:`selector_text`: the prompt for
    RSPG-Pre, the prompt and the output for RSPG-Post) and ``train_eval`` [inputs, pool] their EVAL.
    With ``head="interaction"`` ``train_texts`` holds instead one :class:`SelectorParts` per input
    (with outputs for RSPG-Post), the encoder is frozen (``trainable_layers`` must be 0), every
    distinct part is embedded once and the :class:`InteractionHead` trains on those embeddings.
    ``trainable_layers`` = N trains only the top N transformer layers and the head (the rest
    frozen); None trains everything; 0 gives a frozen selector: every distinct text is embedded
    once in eval mode (read from and stored in ``cache`` when given) and the head alone trains
    on those embeddings. ``encoder_layers`` = M keeps only the encoder's bottom M transformer
    layers (None: all). With the same ``seed`` (head initialisation, dropout and the shuffled
    order of inputs per epoch) the same data gives the same weights on the same device.
    ``batch_size`` inputs make one optimizer step (the effective batch), in forward passes of
    ``micro_batch_size`` inputs (None: the whole batch) whose gradients accumulate, each weighted
    by its share of the batch; the learning rate warms up linearly over ``warmup_ratio`` of the
    steps, then stays (``constant``) or decays linearly (``linear``; see
    :func:`lampkit.ropg.method.lr_multiplier`); ``max_grad_norm`` clips the gradients' norm.
    ``dev_share`` > 0 holds out that share of the inputs (drawn with ``seed``) as a dev set: after
    every epoch the selector's KL loss on it is recorded in ``dev_history``, training stops once
    ``patience`` epochs pass without a lower dev loss (None: all ``epochs``), and the weights of
    the epoch with the lowest dev loss (``best_epoch``, 1-based) are the ones returned.
    Returns the selector in eval mode.
    """
    if head not in HEADS:
        raise ValueError(f"unknown selector head {head!r}; expected one of {HEADS}")
    interaction = head == "interaction"
    if interaction and trainable_layers != 0:
        raise ValueError("the interaction head trains on a frozen encoder: trainable_layers must be 0, "
                         f"got {trainable_layers}")
    pool = _parts_pool_size(train_texts) if interaction else _pool_size(train_texts)
    evals = np.asarray(train_eval, dtype=np.float64)
    if evals.shape != (len(train_texts), pool):
        raise ValueError(f"train_eval has shape {evals.shape}; expected ({len(train_texts)}, {pool})")
    micro = micro_batch_size or batch_size
    if epochs < 1 or batch_size < 1 or micro < 1:
        raise ValueError("epochs, batch_size and micro_batch_size must be at least 1")
    if not 0.0 <= warmup_ratio < 1.0:
        raise ValueError(f"warmup_ratio must lie in [0, 1), got {warmup_ratio}")
    if not 0.0 <= dev_share < 1.0:
        raise ValueError(f"dev_share must lie in [0, 1), got {dev_share}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be at least 1 or None, got {patience}")
    train_idx, dev_idx = list(range(len(train_texts))), []
    if dev_share > 0:
        n_dev = max(1, round(dev_share * len(train_texts)))
        if n_dev >= len(train_texts):
            raise ValueError(f"a dev share of {dev_share} leaves no training input of {len(train_texts)}")
        drawn = torch.randperm(len(train_texts), generator=torch.Generator().manual_seed(seed + 1)).tolist()
        dev_idx, train_idx = sorted(drawn[:n_dev]), sorted(drawn[n_dev:])
    torch.manual_seed(seed)
    selector = Selector.from_encoder(encoder_name_or_path, max_length=max_length, device=device or default_device(),
                                     frozen=trainable_layers == 0, encoder_layers=encoder_layers, head=head,
                                     with_output=interaction and train_texts[0].outputs is not None)
    if trainable_layers:
        layers = _transformer_layers(selector.encoder)
        if not 0 <= trainable_layers <= len(layers):
            raise ValueError(f"trainable_layers must lie in [0, {len(layers)}], got {trainable_layers}")
        selector.encoder.requires_grad_(False)
        for layer in layers[len(layers) - trainable_layers:]:
            layer.requires_grad_(True)
    if interaction:
        parts_features, parts_index = selector._embed_parts(train_texts, cache, show_progress)

        def logits(idx: list[int]) -> torch.Tensor:
            return selector._parts_logits(parts_features, parts_index, idx)
    elif selector.frozen:
        distinct, flat_index = _distinct_texts(train_texts)
        features = selector.embed(distinct, cache, show_progress)
        index = torch.tensor(flat_index, device=selector.device).view(len(train_texts), -1)

        def logits(idx: list[int]) -> torch.Tensor:
            return selector.head(features[index[idx]]).squeeze(-1)
    else:
        def logits(idx: list[int]) -> torch.Tensor:
            return selector([train_texts[i] for i in idx])
    params = [p for p in selector.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=lr)
    target = torch.as_tensor(target_distribution(evals), dtype=torch.float32, device=selector.device)
    order_rng = torch.Generator().manual_seed(seed)
    n_batches = -(-len(train_idx) // batch_size)
    total_steps = epochs * n_batches
    warmup = math.ceil(warmup_ratio * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_multiplier(step, total_steps, warmup, schedule))
    bar = tqdm(total=epochs * n_batches, desc="RSPG", unit="batch", disable=not show_progress)
    selector.train()
    # a frozen selector's steps are a few tiny tensors: one thread runs them fastest (far faster on a busy CPU)
    with _threads(1 if selector.frozen and selector.device.type == "cpu" else torch.get_num_threads()):
        best, best_state, waited = math.inf, None, 0
        for epoch in range(epochs):
            order = [train_idx[i] for i in torch.randperm(len(train_idx), generator=order_rng).tolist()]
            total = 0.0
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                optimizer.zero_grad(set_to_none=True)
                for m in range(0, len(idx), micro):
                    part = idx[m:m + micro]
                    loss = kl_loss(logits(part), target[part])
                    (loss * (len(part) / len(idx)) if len(part) < len(idx) else loss).backward()
                    total += float(loss.detach()) * len(part)
                if max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
                optimizer.step()
                scheduler.step()
                bar.update(1)
            selector.history.append(total / len(order))
            bar.set_postfix(loss=f"{selector.history[-1]:.4f}")
            if not dev_idx:
                continue
            selector.eval()
            with torch.no_grad():
                dev = sum(float(kl_loss(logits(dev_idx[i:i + micro]), target[dev_idx[i:i + micro]]))
                          * len(dev_idx[i:i + micro]) for i in range(0, len(dev_idx), micro)) / len(dev_idx)
            selector.train()
            selector.dev_history.append(dev)
            if dev < best:
                best, waited, selector.best_epoch = dev, 0, epoch + 1
                best_state = {k: v.detach().clone() for k, v in selector.state_dict().items()}
            else:
                waited += 1
                if patience is not None and waited >= patience:
                    break
    bar.close()
    if best_state is not None:
        selector.load_state_dict(best_state)
    return selector.eval()


@contextmanager
def _threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` inside the block, restored after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def predict(selector: Selector, texts: Sequence[Sequence[str]] | Sequence[SelectorParts], batch_size: int = 16,
            cache: EmbeddingCache | None = None, show_progress: bool = False) -> np.ndarray:
    """Per input, the pool index with the highest selector score (ties: the first).

    A frozen selector embeds every distinct text once (through ``cache`` when given); the
    interaction head reads one :class:`SelectorParts` per input.
    """
    interaction = selector.head_kind == "interaction"
    pool = selector._check_parts(texts) if interaction else _pool_size(texts)
    was_training = selector.training
    selector.eval()
    try:
        with torch.inference_mode():
            if interaction:
                features, index = selector._embed_parts(texts, cache, show_progress)
                logits = np.concatenate([
                    selector._parts_logits(features, index, range(start, min(start + 256, len(texts)))).float().cpu().numpy()
                    for start in range(0, len(texts), 256)])
            elif selector.frozen:
                distinct, index = _distinct_texts(texts)
                scores = selector.head(selector.embed(distinct, cache, show_progress)).squeeze(-1).float().cpu().numpy()
                logits = scores[index].reshape(len(texts), pool)
            else:
                logits = np.concatenate([selector(texts[start:start + batch_size]).float().cpu().numpy()
                                         for start in range(0, len(texts), batch_size)])
    finally:
        selector.train(was_training)
    return np.argmax(logits, axis=1).astype(np.int64)
