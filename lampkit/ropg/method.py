"""ROPG: a dense retriever optimised from the frozen LLM's feedback (paper section 4, SPEC section 5).

The policy is pi(d|x) = softmax of the retriever's scores R(q, d) (dot product of mean-pooled
embeddings, query and documents sharing one encoder as in Contriever) over the top l = 16 items
of the initial retriever. The signal is the item feedback of :func:`lampkit.feedback.item_feedback`:
per training input, EVAL of the LLM's output with each of those items alone (``position`` 0 is
the initial retriever's top-1). Profiles with fewer than l items are masked (score -inf before
the softmax), never padded into it. Two objectives:

- ROPG-RL (:func:`rl_loss`): sample d ~ pi, reward = EVAL(d) - EVAL(initial top-1), vanilla
  policy gradient;
- ROPG-KD (:func:`kd_loss`): KL(p_t || pi) with p_t the softmax of EVAL over the items.

EVAL is whatever the feedback stores (:func:`lampkit.metrics.lamp.eval_signal`): accuracy, ROUGE-1, and for LaMP-3
the normalised rating score (worst - |y - y_hat|) / worst of :func:`lampkit.metrics.lamp.normalised_rating_score`.

:func:`train_ropg` trains a copy of the initial encoder and saves it with ``save_pretrained``
(safetensors) and its tokenizer, plus ``ropg.json`` (settings and training log), so that
``Dense(CachedEncoder(load_encoder(folder)))`` ranks with it. When only the top layers train,
:class:`FrozenStates` lets ROPG-RL and ROPG-KD share the frozen lower layers' outputs during
training, and :class:`SharedLowerEncoders` lets their checkpoints share the lower layers' pass
when they embed profiles.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from lampkit.data.layout import Example, LampDataError
from lampkit.retrievers.embedding_cache import EmbeddingCache, embedding_key
from lampkit.retrievers.encoders import Encoder, _quiet_loading, default_device, load_encoder, mean_pool, resolve_encoder_dtype
from lampkit.store.io import atomic_write_json
from lampkit.tasks import Task, get_task

__all__ = ["DEPTH", "METHODS", "FEEDBACK_SOURCE", "RopgConfig", "FeedbackRecord", "FrozenStates", "TrainableDense",
           "SharedLowerEncoders", "feedback_records", "log_policy", "sample_items", "rl_reward", "rl_loss",
           "kd_target", "kd_loss", "expected_reward", "lr_multiplier", "fit", "train_ropg"]

DEPTH = 16  # l: the initial retriever's top items the policy ranges over
METHODS = ("rl", "kd")
FEEDBACK_SOURCE = "item feedback frame"  # the "file" named by LampDataError for a bad frame
_FEEDBACK_COLUMNS = ("example_id", "position", "item_index", "item_id", "eval")


# ----- losses ------------------------------------------------------------------------------
def _check_rows(mask: torch.Tensor) -> None:
    if not bool(mask.any(dim=-1).all()):
        raise ValueError("every row of the mask needs at least one unmasked item")


def log_policy(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log pi(d|x) [B, l]: log-softmax of ``scores`` over the unmasked slots; masked slots are -inf.

    The scores of masked slots are replaced by -inf before the softmax, so they get zero
    probability and no gradient, whatever value they held.
    """
    _check_rows(mask)
    return torch.log_softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


def sample_items(scores: torch.Tensor, mask: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One slot per row drawn from pi (long [B], on the scores' device).

    The draw runs on the CPU with ``generator`` (a CPU ``torch.Generator``), so the same seed
    samples the same slots on any device.
    """
    probs = log_policy(scores.detach(), mask).exp().float().cpu()
    return torch.multinomial(probs, 1, generator=generator).squeeze(1).to(scores.device)


def rl_reward(eval: torch.Tensor, baseline_eval: torch.Tensor, sampled: torch.Tensor) -> torch.Tensor:
    """EVAL of the sampled item minus EVAL of the initial retriever's top-1, per row [B]."""
    return eval.gather(1, sampled[:, None]).squeeze(1) - baseline_eval


def rl_loss(scores: torch.Tensor, mask: torch.Tensor, eval: torch.Tensor, baseline_eval: torch.Tensor,
            sampled: torch.Tensor) -> torch.Tensor:
    """ROPG-RL: ``-mean(reward * log pi(sampled))`` with the baseline-subtracted reward of :func:`rl_reward`.

    Minimising it maximises E[reward * log pi(d|x)] (vanilla policy gradient); the reward is a
    constant (no gradient flows through EVAL).
    """
    if not bool(mask.gather(1, sampled[:, None]).all()):
        raise ValueError("a sampled slot is masked")
    reward = rl_reward(eval, baseline_eval, sampled).detach().to(scores.dtype)
    log_pi = log_policy(scores, mask).gather(1, sampled[:, None]).squeeze(1)
    return -(reward * log_pi).mean()


def kd_target(eval: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """p_t(d|x) [B, l]: softmax of EVAL over the unmasked slots (masked slots 0): ROPG-KD's target."""
    return log_policy(eval, mask).exp().masked_fill(~mask, 0.0)


def kd_loss(scores: torch.Tensor, mask: torch.Tensor, eval: torch.Tensor) -> torch.Tensor:
    """ROPG-KD: KL(p_t || pi) = sum_d p_t (log p_t - log pi), summed over the unmasked slots, mean over rows.

    The direction is the paper's (target first). Unlike the official code, EVAL goes through
    one softmax only (the official code applies a second one to the target) and padded slots of
    short profiles are masked out of both distributions (the official code keeps them).
    """
    target_eval = eval.detach().to(scores.dtype)
    log_target = log_policy(target_eval, mask).masked_fill(~mask, 0.0)
    log_pi = log_policy(scores, mask).masked_fill(~mask, 0.0)
    return (kd_target(target_eval, mask) * (log_target - log_pi)).sum(dim=-1).mean()


def expected_reward(scores: torch.Tensor, mask: torch.Tensor, eval: torch.Tensor,
                    baseline_eval: torch.Tensor) -> torch.Tensor:
    """E_pi[EVAL(d)] - EVAL(initial top-1) per row [B] (a training diagnostic, no gradient)."""
    probs = log_policy(scores.detach(), mask).exp()
    return (probs * eval.masked_fill(~mask, 0.0)).sum(dim=-1) - baseline_eval


# ----- feedback ----------------------------------------------------------------------------
@dataclass(frozen=True)
class FeedbackRecord:
    """One training input: its query, the index texts of its top items (initial order) and their EVAL."""

    example_id: str
    query: str
    docs: tuple[str, ...]
    eval: tuple[float, ...]


def feedback_records(task: str | Task, examples: Sequence[Example], frame: pd.DataFrame,
                     depth: int = DEPTH) -> list[FeedbackRecord]:
    """Training records for ``examples`` from an :func:`~lampkit.feedback.item_feedback` frame.

    Texts are the Dense retriever's: ``task.query(example.input)`` and ``task.index_text(item)``.
    An example keeps the rows of positions ``0 .. min(n, depth) - 1``; examples without rows
    (an empty profile) are left out. A frame that does not match the examples (positions not
    0..n-1, an item index outside the profile, another item id, a non-finite EVAL) raises a
    :class:`LampDataError` naming the example and the field.
    """
    t = get_task(task)
    missing = [c for c in _FEEDBACK_COLUMNS if c not in frame.columns]
    if missing:
        raise LampDataError(FEEDBACK_SOURCE, f"missing column(s) {', '.join(missing)}")
    groups = {str(eid): g.sort_values("position", kind="stable")
              for eid, g in frame.groupby(frame["example_id"].astype(str), sort=False)}
    records = []
    for ex in examples:
        rows = groups.get(str(ex.id))
        if rows is None or rows.empty:
            continue
        positions = rows["position"].to_numpy()
        if not np.array_equal(positions, np.arange(len(rows))):
            raise LampDataError(FEEDBACK_SOURCE, f"positions {positions.tolist()} are not 0..{len(rows) - 1}",
                                record=str(ex.id), field="position")
        rows = rows.iloc[:depth]
        docs, evals = [], []
        for index, item_id, value in zip(rows["item_index"], rows["item_id"], rows["eval"]):
            index = int(index)
            if not 0 <= index < len(ex.profile):
                raise LampDataError(FEEDBACK_SOURCE, f"item index {index} outside a profile of {len(ex.profile)}",
                                    record=str(ex.id), field="item_index")
            if str(ex.profile[index]["id"]) != str(item_id):
                raise LampDataError(FEEDBACK_SOURCE, f"item id {item_id!r} but profile[{index}] has id "
                                    f"{ex.profile[index]['id']!r}", record=str(ex.id), field="item_id")
            if not math.isfinite(float(value)):
                raise LampDataError(FEEDBACK_SOURCE, f"EVAL {value!r} is not finite", record=str(ex.id),
                                    field="eval")
            docs.append(t.index_text(ex.profile[index]))
            evals.append(float(value))
        query = t.query(ex.input)
        if query is None:
            raise LampDataError(FEEDBACK_SOURCE, f"no {t.official} query in the input", record=str(ex.id),
                                field="input")
        records.append(FeedbackRecord(str(ex.id), query, tuple(docs), tuple(evals)))
    return records


def _targets(records: Sequence[FeedbackRecord], depth: int,
             device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """EVAL [B, depth] (0 in masked slots) and the mask [B, depth] of real items."""
    evals = torch.zeros(len(records), depth)
    mask = torch.zeros(len(records), depth, dtype=torch.bool)
    for i, rec in enumerate(records):
        evals[i, :len(rec.eval)] = torch.tensor(rec.eval)
        mask[i, :len(rec.eval)] = True
    return evals.to(device), mask.to(device)


# ----- the trainable retriever -------------------------------------------------------------
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
        """A trainable copy of ``encoder`` (an :class:`Encoder`, or a name/folder for ``load_encoder``).

        An :class:`Encoder` is deep-copied: training never changes the weights it serves.
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
        with _quiet_loading():
            self.model.save_pretrained(folder)
            self.tokenizer.save_pretrained(folder)
        return folder


class SharedLowerEncoders:
    """Checkpoints trained from one encoder with the same frozen lower part, embedding texts together.

    Each of ``encoders`` (loaded :class:`Encoder` s, e.g. ROPG-RL and ROPG-KD of one task) keeps
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
        encoded = base.tokenizer(list(texts), truncation=True, max_length=max_length, padding=False,
                                 return_attention_mask=False)
        names = [n for n in encoded.keys() if n != "attention_mask"]
        rows = [{n: encoded[n][i] for n in names} for i in range(len(texts))]
        order = sorted(range(len(texts)), key=lambda i: (-len(rows[i]["input_ids"]), i))
        models = [enc.model.eval() for enc in self.encoders]
        dtype = base.dtype
        with torch.inference_mode(), torch.autocast(base.device.type, dtype=dtype, enabled=dtype is not None):
            starts = range(0, len(order), batch_size)
            for start in tqdm(starts, desc="encoding", unit="batch", disable=not show_progress):
                idx = order[start:start + batch_size]
                batch = base._batch([rows[i] for i in idx])
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


# ----- training ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RopgConfig:
    """ROPG settings; the defaults are the paper's (SPEC section 5).

    After the linear warm-up over ``warmup_ratio`` of the optimizer steps, ``schedule`` =
    ``"linear"`` decays the learning rate linearly towards 0 at the last step (the default, as
    ``transformers``' linear schedule with warm-up); ``"constant"`` keeps it. ``batch_size``
    inputs make one optimizer step (the effective batch), in forward passes of
    ``micro_batch_size`` inputs whose gradients accumulate. ``train_layers`` None trains the
    whole encoder; N trains the top N transformer layers (see :class:`TrainableDense`).
    ``dtype`` (``"bfloat16"``; ``"auto"``: as :func:`~lampkit.retrievers.encoders.resolve_encoder_dtype`,
    bfloat16 where the hardware multiplies it fast) runs forward passes under autocast; None: float32.
    """

    depth: int = DEPTH
    epochs: int = 10
    batch_size: int = 64
    micro_batch_size: int = 8
    lr: float = 1e-5
    warmup_ratio: float = 0.05
    schedule: str = "linear"
    max_grad_norm: float = 1.0
    train_layers: int | None = None
    max_length: int = 512
    seed: int = 0
    device: str | None = None
    dtype: str | None = None
    deterministic: bool = True

    def __post_init__(self) -> None:
        if self.schedule not in ("linear", "constant"):
            raise ValueError(f"schedule must be 'linear' or 'constant', got {self.schedule!r}")
        if min(self.depth, self.epochs, self.batch_size, self.micro_batch_size) < 1:
            raise ValueError("depth, epochs, batch_size and micro_batch_size must be at least 1")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must lie in [0, 1), got {self.warmup_ratio}")


def lr_multiplier(step: int, total: int, warmup: int, schedule: str = "linear") -> float:
    """Factor on the peak learning rate for optimizer step ``step`` (0-based) of ``total``.

    Warm-up: ``(step + 1) / warmup`` for the first ``warmup`` steps (the last of them at the
    peak); then 1 (``constant``) or ``(total - step) / (total - warmup)`` (``linear``: 1 at the
    first step after warm-up, ``1 / (total - warmup)`` at the last).
    """
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    return (total - step) / (total - warmup)


@contextmanager
def _seeded(seed: int, deterministic: bool, device: torch.device) -> Iterator[None]:
    """Global RNGs seeded (and restored afterwards); deterministic algorithms where torch has them.

    On a GPU, bitwise-reproducible runs also need ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` in the
    environment before CUDA starts; without it torch only warns.
    """
    was = torch.are_deterministic_algorithms_enabled()
    was_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was, warn_only=was_warn)


def fit(method: str, retriever: TrainableDense, records: Sequence[FeedbackRecord], config: RopgConfig,
        show_progress: bool = True) -> list[dict[str, float]]:
    """Train ``retriever`` in place with ROPG-``method`` on ``records``; the log, one entry per optimizer step.

    Each epoch visits the records in an order drawn from a generator seeded with ``config.seed``;
    RL samples with another one seeded with ``config.seed + 1``; dropout uses the global RNG
    (seed it, as :func:`train_ropg` does). A log entry holds ``step``, ``epoch``, ``lr``,
    ``loss`` (mean over the step's inputs), ``expected_reward`` (E_pi[EVAL] - EVAL(top-1)),
    ``grad_norm`` (before clipping) and, for RL, ``reward`` (mean sampled reward).
    """
    if method not in METHODS:
        raise ValueError(f"unknown ROPG method {method!r}; expected one of {METHODS}")
    if not records:
        raise ValueError("no training input has item feedback")
    params = retriever.trainable_parameters()
    per_epoch = math.ceil(len(records) / config.batch_size)
    total = config.epochs * per_epoch
    warmup = math.ceil(config.warmup_ratio * total)
    optimizer = torch.optim.Adam(params, lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_multiplier(s, total, warmup, config.schedule))
    order_rng = torch.Generator().manual_seed(config.seed)
    sample_rng = torch.Generator().manual_seed(config.seed + 1)
    device = retriever.device
    dtype = resolve_encoder_dtype(config.dtype, device)
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        retriever.precompute([t for r in records for t in (r.query, *r.docs)], show_progress=show_progress)
    retriever.train()
    log: list[dict[str, float]] = []
    bar = tqdm(total=total, desc=f"ROPG-{method.upper()}", unit="step", disable=not show_progress)
    try:
        for epoch in range(config.epochs):
            order = torch.randperm(len(records), generator=order_rng).tolist()
            for start in range(0, len(order), config.batch_size):
                step_idx = order[start:start + config.batch_size]
                lr = optimizer.param_groups[0]["lr"]
                optimizer.zero_grad(set_to_none=True)
                sums = {"loss": 0.0, "expected_reward": 0.0, "reward": 0.0}
                for m in range(0, len(step_idx), config.micro_batch_size):
                    batch = [records[i] for i in step_idx[m:m + config.micro_batch_size]]
                    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                        scores = retriever.score(batch, config.depth)
                    scores = scores.float()
                    evals, mask = _targets(batch, config.depth, device)
                    baseline = evals[:, 0]
                    if method == "rl":
                        sampled = sample_items(scores, mask, sample_rng)
                        loss = rl_loss(scores, mask, evals, baseline, sampled)
                        sums["reward"] += float(rl_reward(evals, baseline, sampled).sum())
                    else:
                        loss = kd_loss(scores, mask, evals)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"non-finite ROPG loss at step {len(log)}")
                    (loss * (len(batch) / len(step_idx))).backward()
                    sums["loss"] += float(loss.detach()) * len(batch)
                    sums["expected_reward"] += float(expected_reward(scores, mask, evals, baseline).sum())
                grad_norm = torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                entry = {"step": len(log), "epoch": epoch, "lr": lr, "loss": sums["loss"] / len(step_idx),
                         "expected_reward": sums["expected_reward"] / len(step_idx),
                         "grad_norm": float(grad_norm)}
                if method == "rl":
                    entry["reward"] = sums["reward"] / len(step_idx)
                log.append(entry)
                bar.update(1)
                bar.set_postfix(loss=f"{entry['loss']:.4f}", reward=f"{entry['expected_reward']:+.4f}")
    finally:
        bar.close()
    retriever.eval()
    return log


def train_ropg(method: str, task: str | Task, examples: Sequence[Example], feedback_frame: pd.DataFrame,
               initial_encoder: Encoder | str | Path, config: RopgConfig | None, out_dir: str | Path,
               show_progress: bool = True, frozen: FrozenStates | None = None) -> Path:
    """Train ROPG-``method`` (``"rl"`` or ``"kd"``) from ``initial_encoder`` and save it in ``out_dir``.

    ``feedback_frame`` is the :func:`~lampkit.feedback.item_feedback` frame of ``examples`` (its
    depth at least ``config.depth`` items where profiles allow). The folder holds the encoder
    and tokenizer (``load_encoder(out_dir)`` reads them) and ``ropg.json`` (method, task, initial
    encoder, settings, training log), written last. Everything runs under ``config.seed``
    (weights the initial folder lacks, e.g. an unused pooler, included): the same seed and
    inputs give the same saved tensors on the same device. ``frozen`` shares the frozen part's
    outputs with another method's run (see :class:`FrozenStates`); it changes no result.
    """
    if method not in METHODS:
        raise ValueError(f"unknown ROPG method {method!r}; expected one of {METHODS}")
    config = config or RopgConfig()
    t = get_task(task)
    records = feedback_records(t, examples, feedback_frame, config.depth)
    device = torch.device(config.device or default_device())
    with _seeded(config.seed, config.deterministic, device):
        if not isinstance(initial_encoder, Encoder):
            initial_encoder = load_encoder(str(initial_encoder), device=str(device), dtype=config.dtype)
        retriever = TrainableDense.from_encoder(initial_encoder, config.train_layers, config.max_length, device,
                                                frozen)
        log = fit(method, retriever, records, config, show_progress)
    out = retriever.save(out_dir)
    atomic_write_json(out / "ropg.json", {
        "method": method,
        "task": t.name,
        "initial_encoder": initial_encoder.model_id,
        "config": dataclasses.asdict(config),
        "examples": len(examples),
        "trained_examples": len(records),
        "log": log,
    }, indent=1)
    return out
