"""Retriever selection (RSPG): learn which retriever of the pool to trust for each input.

For each input every retriever of the pool builds its prompt; RSPG-Pre reads the prompt,
RSPG-Post the prompt followed by the LLM's output for it (SPEC section 6). A :class:`Selector`
encodes each of those texts, mean-pools the last hidden states over the attention mask (the
pooling of :mod:`lampkit.encoders`) and maps the result to one score with a linear layer; the
scores of one input form logits over the pool. Training minimises KL(target || softmax(logits))
with the target the softmax over the pool of EVAL; inference picks the argmax.

Also here: the oracle bounds of Table 5 and the success rate of Table 4, both read from an
inputs x retrievers matrix of the main metric (:func:`lampkit.winning.main_matrix`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple, Sequence, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .encoders import default_device, load_encoder, mean_pool
from .io import atomic_write_bytes, atomic_write_json
from .winning import winners

__all__ = ["OracleBounds", "oracle_bounds", "success_rate", "target_distribution", "kl_loss", "Selector",
           "train_selector", "predict"]

_HEAD_FILE = "head.safetensors"
_CONFIG_FILE = "selector.json"
_ENCODER_DIR = "encoder"

Array = TypeVar("Array", np.ndarray, torch.Tensor)


class OracleBounds(NamedTuple):
    """Per input, the metric of the worst (``lower``) and the best (``upper``) retriever of the pool.

    "Lower" and "upper" follow the metric's direction: for an error such as MAE, ``lower`` is
    the largest error and ``upper`` the smallest.
    """

    lower: np.ndarray
    upper: np.ndarray


def oracle_bounds(matrix: np.ndarray, higher_is_better: bool = True) -> OracleBounds:
    """Oracle lower and upper bound per input of an inputs x retrievers metric ``matrix`` (Table 5)."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] == 0:
        raise ValueError(f"matrix must be inputs x retrievers with at least one retriever, got shape {m.shape}")
    worst, best = (m.min(axis=1), m.max(axis=1)) if higher_is_better else (m.max(axis=1), m.min(axis=1))
    return OracleBounds(worst, best)


def success_rate(chosen: Sequence[int], matrix: np.ndarray, higher_is_better: bool = True) -> float:
    """Share of inputs whose chosen retriever (a pool index) is tied for the best on that input (Table 4)."""
    m = np.asarray(matrix, dtype=np.float64)
    idx = np.asarray(chosen, dtype=np.int64)
    if m.ndim != 2 or idx.shape != (m.shape[0],):
        raise ValueError(f"need one choice per input: {idx.shape} choices for a matrix of shape {m.shape}")
    if idx.size == 0:
        raise ValueError("no inputs")
    if idx.min() < 0 or idx.max() >= m.shape[1]:
        raise ValueError(f"choices must be pool indices in [0, {m.shape[1]})")
    return float(winners(m, higher_is_better)[np.arange(len(idx)), idx].mean())


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
    n = int(model.config.num_hidden_layers)
    for _, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n:
            return module
    raise ValueError(f"no list of {n} transformer layers found in {type(model).__name__}")


class Selector(torch.nn.Module):
    """An encoder and a linear layer on its mean-pooled output: one score per (input, retriever) text.

    ``forward`` takes texts grouped per input (every group as long as the pool) and returns
    logits [batch, pool]. Texts are truncated to ``max_length`` tokens, which must fit the
    encoder's positions. ``history`` holds the mean training loss of each epoch.
    """

    def __init__(self, encoder: torch.nn.Module, tokenizer, max_length: int = 512) -> None:
        super().__init__()
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.head = torch.nn.Linear(int(encoder.config.hidden_size), 1)
        self.history: list[float] = []

    @classmethod
    def from_encoder(cls, name_or_path: str | None = None, max_length: int = 512,
                     device: str | None = None) -> "Selector":
        """A new selector on the encoder ``name_or_path`` (see :func:`lampkit.encoders.load_encoder`).

        The head starts from torch's default initialisation: seed torch first for a repeatable one.
        """
        enc = load_encoder(name_or_path, device=device)
        return cls(enc.model, enc.tokenizer, max_length).to(enc.device)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def score_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """One score per text, shape [len(texts)]."""
        batch = self.tokenizer(list(texts), truncation=True, max_length=self.max_length, padding=True,
                               return_tensors="pt")
        batch = {k: v.to(self.device) for k, v in batch.items()}
        hidden = self.encoder(**batch).last_hidden_state
        return self.head(mean_pool(hidden, batch["attention_mask"])).squeeze(-1)

    def forward(self, texts: Sequence[Sequence[str]]) -> torch.Tensor:
        pool = _pool_size(texts)
        return self.score_texts([t for group in texts for t in group]).view(len(texts), pool)

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write the encoder and tokenizer (``save_pretrained``, safetensors), the head and the settings."""
        from safetensors.torch import save

        folder = Path(folder)
        self.encoder.save_pretrained(folder / _ENCODER_DIR, safe_serialization=True)
        self.tokenizer.save_pretrained(folder / _ENCODER_DIR)
        head = {k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()}
        atomic_write_bytes(folder / _HEAD_FILE, save(head))
        atomic_write_json(folder / _CONFIG_FILE, {"max_length": self.max_length, "pooling": "mean",
                                                  "history": self.history}, indent=2)
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str | None = None) -> "Selector":
        """A selector written by :meth:`save_pretrained`, in eval mode."""
        from safetensors.torch import load_file

        folder = Path(folder)
        config = json.loads((folder / _CONFIG_FILE).read_text(encoding="utf-8"))
        selector = cls.from_encoder(str(folder / _ENCODER_DIR), max_length=int(config["max_length"]), device=device)
        selector.head.load_state_dict(load_file(str(folder / _HEAD_FILE), device=str(selector.device)))
        selector.history = [float(v) for v in config["history"]]
        return selector.eval()


def _pool_size(texts: Sequence[Sequence[str]]) -> int:
    """The common length of the per-input groups of texts (every input must have one text per retriever)."""
    if len(texts) == 0:
        raise ValueError("no inputs")
    pool = len(texts[0])
    for i, group in enumerate(texts):
        if isinstance(group, str) or len(group) != pool or pool == 0:
            raise ValueError(f"input {i}: expected a list of {pool} texts (one per retriever), got {group!r:.80}")
    return pool


def train_selector(train_texts: Sequence[Sequence[str]], train_eval: np.ndarray,
                   encoder_name_or_path: str | None = None, epochs: int = 20, lr: float = 1e-5,
                   batch_size: int = 8, max_length: int = 512, seed: int = 0,
                   trainable_layers: int | None = None, device: str | None = None,
                   show_progress: bool = False) -> Selector:
    """Train a :class:`Selector` to match softmax(EVAL) over the pool (KL loss, Adam; SPEC section 6).

    ``train_texts`` holds per input one text per retriever (the prompt for RSPG-Pre, prompt + " " +
    output for RSPG-Post) and ``train_eval`` [inputs, pool] their EVAL. ``trainable_layers`` = N
    trains only the top N transformer layers and the head (the rest frozen; 0 trains the head
    alone); None trains everything. With the same ``seed`` (head initialisation, dropout and the
    shuffled order of inputs per epoch) the same data gives the same weights on the same device.
    Returns the selector in eval mode.
    """
    pool = _pool_size(train_texts)
    evals = np.asarray(train_eval, dtype=np.float64)
    if evals.shape != (len(train_texts), pool):
        raise ValueError(f"train_eval has shape {evals.shape}; expected ({len(train_texts)}, {pool})")
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be at least 1")
    torch.manual_seed(seed)
    selector = Selector.from_encoder(encoder_name_or_path, max_length=max_length, device=device or default_device())
    if trainable_layers is not None:
        layers = _transformer_layers(selector.encoder)
        if not 0 <= trainable_layers <= len(layers):
            raise ValueError(f"trainable_layers must lie in [0, {len(layers)}], got {trainable_layers}")
        selector.encoder.requires_grad_(False)
        for layer in layers[len(layers) - trainable_layers:]:
            layer.requires_grad_(True)
    params = [p for p in selector.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=lr)
    target = torch.as_tensor(target_distribution(evals), dtype=torch.float32, device=selector.device)
    order_rng = torch.Generator().manual_seed(seed)
    n_batches = -(-len(train_texts) // batch_size)
    bar = tqdm(total=epochs * n_batches, desc="RSPG", unit="batch", disable=not show_progress)
    selector.train()
    for _ in range(epochs):
        order = torch.randperm(len(train_texts), generator=order_rng).tolist()
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            loss = kl_loss(selector([train_texts[i] for i in idx]), target[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            bar.update(1)
        selector.history.append(total / len(order))
        bar.set_postfix(loss=f"{selector.history[-1]:.4f}")
    bar.close()
    return selector.eval()


def predict(selector: Selector, texts: Sequence[Sequence[str]], batch_size: int = 16) -> np.ndarray:
    """Per input, the pool index with the highest selector score (ties: the first)."""
    _pool_size(texts)
    was_training = selector.training
    selector.eval()
    chunks = []
    try:
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                chunks.append(selector(texts[start:start + batch_size]).float().cpu().numpy())
    finally:
        selector.train(was_training)
    return np.argmax(np.concatenate(chunks), axis=1).astype(np.int64)
