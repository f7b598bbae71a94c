"""The retriever ROPG trains, and the sharing of its frozen lower layers (paper section 4).

:class:`TrainableDense` scores R(q, d) as the dot product of mean-pooled embeddings, query and
documents sharing one encoder as in Contriever. When only the top layers train,
:class:`FrozenStates` lets ROPG-RL and ROPG-KD share the frozen lower layers' outputs during
training, and :class:`SharedLowerEncoders` lets their checkpoints share the lower layers' pass
when they embed profiles.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from lampkit.retrievers.embedding_cache import EmbeddingCache, embedding_key
from lampkit.retrievers.encoders import Encoder, quiet_loading, default_device, load_encoder, mean_pool
from lampkit.ropg.records import FeedbackRecord

__all__ = ["FrozenStates", "TrainableDense", "SharedLowerEncoders"]

@dataclass
class FrozenStates:
    """Token ids and frozen lower-part outputs per text, shareable by several :class:`TrainableDense`.

    The lower part of retrievers trained from one encoder with the same ``train_layers``,
    ``max_length`` and device computes the same outputs: ROPG-RL and ROPG-KD of one task compute
    them once. ``key`` is set by the first retriever that uses the object; another key raises.
    """

    key: tuple | None = None
    tokens: dict[str, dict[str, list[int]]] = dataclasses.field(default_factory=dict)
    states: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)

    def bind(self, key: tuple) -> None:
        if self.key is None:
            self.key = key
        elif self.key != key:
            raise ValueError(f"frozen states of {self.key} cannot serve {key}: encoder, train_layers, "
                             "max_length or device differ")


def _run_layers(hidden: torch.Tensor, mask: torch.Tensor, layers: Sequence[torch.nn.Module]) -> torch.Tensor:
    """``hidden`` through transformer ``layers`` with an additive [B, 1, 1, T] padding mask."""
    bias = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
    for layer in layers:
        out = layer(hidden, bias)
        hidden = out[0] if isinstance(out, tuple) else out  # transformers 4 returns a tuple
    return hidden


class TrainableDense(torch.nn.Module):
    """The retriever R(q, d) that ROPG trains: one encoder for queries and documents (as Contriever).

    ``train_layers`` = None trains every parameter (the paper's setting). ``train_layers`` = N
    trains only the top N transformer layers of a BERT-like model (``model.embeddings`` then
    ``model.encoder.layer[0..L-1]``; BERT, MiniLM and Contriever are): the embeddings and the
    lower L - N layers are frozen, and their output for each distinct text (the hidden states
    after layer L - N, unpadded, [tokens, dim]) is computed once, in eval mode without gradients,
    and kept in memory (``tokens x dim x 4`` bytes per text in float32). A forward pass then pads
    the cached states of a batch on the right, runs only the top N layers with the additive
    padding mask, and mean-pools over the attention mask, which gives the full model's
    embedding (up to float rounding).
    """

    def __init__(self, model: torch.nn.Module, tokenizer: Any, train_layers: int | None = None,
                 max_length: int = 512, frozen: FrozenStates | None = None) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.train_layers = train_layers
        frozen = frozen if frozen is not None else FrozenStates()
        self._tokens = frozen.tokens
        self._frozen = frozen.states
        if train_layers is not None:
            layers = self._layers()
            if not 1 <= train_layers <= len(layers):
                raise ValueError(f"train_layers must lie in [1, {len(layers)}] or be None, got {train_layers}")
            model.requires_grad_(False)
            for layer in layers[len(layers) - train_layers:]:
                layer.requires_grad_(True)

    @classmethod
    def from_encoder(cls, encoder: Encoder | str | Path, train_layers: int | None = None,
                     max_length: int = 512, device: str | torch.device | None = None,
                     frozen: FrozenStates | None = None) -> "TrainableDense":
        """A trainable copy of ``encoder`` (an :class:`~lampkit.retrievers.encoders.Encoder`, or a name/folder for ``load_encoder``).

        An :class:`~lampkit.retrievers.encoders.Encoder` is deep-copied: training never changes the weights it serves.
        ``frozen`` shares tokenized texts and frozen-part outputs with other retrievers trained
        from the same encoder, ``train_layers``, ``max_length`` and device (checked).
        """
        device = torch.device(device or default_device())
        if isinstance(encoder, Encoder):
            model = copy.deepcopy(encoder.model).to(device)
        else:
            encoder = load_encoder(str(encoder), device=str(device))
            model = encoder.model
        model.float()
        if frozen is not None:
            frozen.bind((encoder.model_id, train_layers, max_length, str(device)))
        return cls(model, encoder.tokenizer, train_layers, max_length, frozen)

    def _layers(self) -> torch.nn.ModuleList:
        layers = getattr(getattr(self.model, "encoder", None), "layer", None)
        if layers is None or not hasattr(self.model, "embeddings"):
            raise ValueError(f"training the top layers needs a BERT-like model (model.embeddings and "
                             f"model.encoder.layer); got {type(self.model).__name__}")
        return layers

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def split(self) -> int | None:
        """Index of the first trainable layer when the lower part is frozen and cached, else None."""
        return None if self.train_layers is None else len(self._layers()) - self.train_layers

    def _tokenize(self, texts: Sequence[str]) -> None:
        new = [t for t in dict.fromkeys(texts) if t not in self._tokens]
        if not new:
            return
        encoded = self.tokenizer(new, truncation=True, max_length=self.max_length, padding=False,
                                 return_attention_mask=False)
        names = [n for n in encoded.keys() if n != "attention_mask"]
        for i, text in enumerate(new):
            self._tokens[text] = {n: list(encoded[n][i]) for n in names}

    def _pad(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Right-padded token tensors of ``texts`` with their attention mask."""
        rows = [self._tokens[t] for t in texts]
        lengths = torch.tensor([len(r["input_ids"]) for r in rows])
        width = int(lengths.max())
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        out = {"attention_mask": (torch.arange(width)[None, :] < lengths[:, None]).long()}
        for name in rows[0]:
            out[name] = torch.full((len(rows), width), pad_id if name == "input_ids" else 0, dtype=torch.long)
            for i, r in enumerate(rows):
                out[name][i, :len(r[name])] = torch.tensor(r[name], dtype=torch.long)
        return {k: v.to(self.device) for k, v in out.items()}

    def precompute(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False) -> None:
        """Cache the frozen lower part's output for each of ``texts`` not cached yet (no-op when all train)."""
        self._tokenize(texts)
        if self.split is None:
            return
        new = [t for t in dict.fromkeys(texts) if t not in self._frozen]
        new.sort(key=lambda t: -len(self._tokens[t]["input_ids"]))  # stable: ties keep first-seen order
        lower = self._layers()[: self.split]
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                starts = range(0, len(new), batch_size)
                for start in tqdm(starts, desc="frozen layers", unit="batch", disable=not show_progress):
                    chunk = new[start:start + batch_size]
                    batch = self._pad(chunk)
                    hidden = self.model.embeddings(input_ids=batch["input_ids"],
                                                   token_type_ids=batch.get("token_type_ids"))
                    hidden = _run_layers(hidden, batch["attention_mask"], lower)
                    for i, text in enumerate(chunk):
                        self._frozen[text] = hidden[i, : len(self._tokens[text]["input_ids"])].clone()
        finally:
            self.model.train(was_training)

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Mean-pooled embeddings [len(texts), dim] of ``texts``, with gradients to the trainable part."""
        self._tokenize(texts)
        if self.split is None:
            batch = self._pad(texts)
            hidden = self.model(**batch).last_hidden_state
            return mean_pool(hidden, batch["attention_mask"])
        self.precompute(texts)
        states = [self._frozen[t] for t in texts]
        width = max(s.shape[0] for s in states)
        hidden = states[0].new_zeros(len(states), width, states[0].shape[1])
        mask = torch.zeros(len(states), width, dtype=torch.long, device=hidden.device)
        for i, s in enumerate(states):
            hidden[i, : s.shape[0]] = s
            mask[i, : s.shape[0]] = 1
        hidden = _run_layers(hidden, mask, self._layers()[self.split:])
        return mean_pool(hidden, mask)

    def score(self, records: Sequence[FeedbackRecord], depth: int) -> torch.Tensor:
        """R(q, d) [B, depth] for each record's items; slots past a short profile hold an arbitrary value."""
        queries = [r.query for r in records]
        texts = list(dict.fromkeys([*queries, *(d for r in records for d in r.docs)]))
        where = {t: i for i, t in enumerate(texts)}
        emb = self.embed(texts)
        index = torch.zeros(len(records), depth, dtype=torch.long)
        for i, rec in enumerate(records):
            index[i, :len(rec.docs)] = torch.tensor([where[d] for d in rec.docs], dtype=torch.long)
        docs = emb[index.to(emb.device)]
        q = emb[torch.tensor([where[t] for t in queries], device=emb.device)]
        return torch.einsum("bld,bd->bl", docs, q)

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def save(self, folder: str | Path) -> Path:
        """The whole encoder (``save_pretrained``: safetensors) and its tokenizer in ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with quiet_loading():
            self.model.save_pretrained(folder)
            self.tokenizer.save_pretrained(folder)
        return folder


class SharedLowerEncoders:
    """Checkpoints trained from one encoder with the same frozen lower part, embedding texts together.

    Each of ``encoders`` (loaded :class:`~lampkit.retrievers.encoders.Encoder` s, e.g. ROPG-RL and ROPG-KD of one task) keeps
    the initial encoder's embeddings and lower ``split`` layers (checked: the tensors must be
    equal). The lower part then runs once per text for all of them and only the top layers run
    per checkpoint, which gives each checkpoint its own embedding up to float rounding.
    :meth:`member` is a text encoder (``model_id``, ``encode``) for one checkpoint: encoding
    texts through it returns its embeddings and stores the other members' in ``cache``, where a
    :class:`~lampkit.retrievers.embedding_cache.CachedEncoder` over the same cache finds them.
    """

    def __init__(self, encoders: Sequence[Encoder], split: int, cache: EmbeddingCache) -> None:
        if not encoders:
            raise ValueError("no encoders to share")
        self.encoders = list(encoders)
        self.split = split
        self.cache = cache
        first = self.encoders[0].model
        n_layers = len(first.encoder.layer)
        if not 0 <= split <= n_layers:
            raise ValueError(f"split must lie in [0, {n_layers}], got {split}")
        lower = {k: v for k, v in first.state_dict().items() if self._is_lower(k)}
        for enc in self.encoders[1:]:
            if enc.dtype != self.encoders[0].dtype or enc.device != self.encoders[0].device:
                raise ValueError(f"{enc.model_id} runs on {enc.device} as {enc.dtype}, "
                                 f"{self.encoders[0].model_id} on {self.encoders[0].device} as "
                                 f"{self.encoders[0].dtype}: they cannot share a pass")
            theirs = enc.model.state_dict()
            for name, tensor in lower.items():
                if not torch.equal(theirs[name].to(tensor.device), tensor):
                    raise ValueError(f"{enc.model_id} differs from {self.encoders[0].model_id} in the frozen "
                                     f"part ({name}): it cannot share it")

    def _is_lower(self, name: str) -> bool:
        if name.startswith("embeddings."):
            return True
        prefix = "encoder.layer."
        return name.startswith(prefix) and int(name[len(prefix):].split(".")[0]) < self.split

    def member(self, index: int) -> "_SharedMember":
        return _SharedMember(self, index)

    def embed_all(self, texts: Sequence[str], batch_size: int = 64, max_length: int = 512,
                  show_progress: bool = False, members: Sequence[int] | None = None) -> list[np.ndarray | None]:
        """Embeddings [len(texts), dim] (float32) of ``texts`` for every member, in member order;
        with ``members``, only theirs (None in the other places)."""
        base = self.encoders[0]
        wanted = set(range(len(self.encoders)) if members is None else members)
        out = [np.zeros((len(texts), enc.dim), dtype=np.float32) if m in wanted else None
               for m, enc in enumerate(self.encoders)]
        if not texts:
            return out
        models = [enc.model.eval() for enc in self.encoders]
        dtype = base.dtype
        with torch.inference_mode(), torch.autocast(base.device.type, dtype=dtype, enabled=dtype is not None):
            for idx, batch in base.batches(texts, batch_size, max_length, show_progress):
                hidden = models[0].embeddings(input_ids=batch["input_ids"],
                                              token_type_ids=batch.get("token_type_ids"))
                hidden = _run_layers(hidden, batch["attention_mask"], models[0].encoder.layer[:self.split])
                for m, model in enumerate(models):
                    if out[m] is None:
                        continue
                    top = _run_layers(hidden, batch["attention_mask"], model.encoder.layer[self.split:])
                    out[m][idx] = mean_pool(top.float(), batch["attention_mask"]).cpu().numpy()
        return out


class _SharedMember:
    """One checkpoint of a :class:`SharedLowerEncoders` as a text encoder."""

    def __init__(self, family: SharedLowerEncoders, index: int) -> None:
        self.family = family
        self.index = index
        self.model_id = family.encoders[index].model_id

    def __repr__(self) -> str:
        return f"SharedLowerEncoders.member({self.model_id!r}, split={self.family.split})"

    def encode(self, texts: Sequence[str], batch_size: int = 64, max_length: int = 512,
               show_progress: bool = False) -> np.ndarray:
        """This checkpoint's embeddings of ``texts``; those of the other members that the family's
        cache lacks for some of ``texts`` are computed in the same pass and stored there."""
        texts = list(texts)
        cache = self.family.cache
        keys = {m: [embedding_key(enc.model_id, max_length, t) for t in texts]
                for m, enc in enumerate(self.family.encoders) if m != self.index}
        others = [m for m, ks in keys.items() if len(cache.get_many(ks)) < len(set(ks))]
        embeddings = self.family.embed_all(texts, batch_size, max_length, show_progress, [self.index, *others])
        for m in others:
            cache.put_many(dict(zip(keys[m], embeddings[m])))
        return embeddings[self.index]
