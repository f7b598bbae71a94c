"""ROPG training: a dense retriever optimised from the frozen LLM's feedback (paper section 4).

The policy is pi(d|x) = softmax of the retriever's scores R(q, d) (dot product of mean-pooled
embeddings, query and documents sharing one encoder as in Contriever) over the top l = 16 items
of the initial retriever. The signal is the item feedback of :func:`lampkit.feedback.item_feedback`,
read into records by :mod:`lampkit.ropg.records`: per training input, EVAL of the LLM's output
with each of those items alone. Profiles with fewer than l items are masked (score -inf before
the softmax), never padded into it. Two objectives, in :mod:`lampkit.ropg.losses`:

- ROPG-RL (:func:`~lampkit.ropg.losses.rl_loss`): sample d ~ pi, reward = EVAL(d) - EVAL(initial
  top-1), vanilla policy gradient (paper section 4.2);
- ROPG-KD (:func:`~lampkit.ropg.losses.kd_loss`): KL(p_t || pi) with p_t the softmax of EVAL over
  the items (paper section 4.3).

EVAL is whatever the feedback stores (:func:`lampkit.metrics.lamp.eval_signal`): accuracy, ROUGE-1, and for LaMP-3
the normalised rating score (worst - |y - y_hat|) / worst of :func:`lampkit.metrics.lamp.normalised_rating_score`.

:func:`train_ropg` trains a copy of the initial encoder (:class:`~lampkit.ropg.retriever.TrainableDense`)
and saves it with ``save_pretrained`` (safetensors) and its tokenizer, plus ``ropg.json`` (settings
and training log), so that ``Dense(CachedEncoder(load_encoder(folder)))`` ranks with it.
"""

from __future__ import annotations

import dataclasses
import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import pandas as pd
import torch
from tqdm.auto import tqdm

from lampkit.data.layout import Example
from lampkit.retrievers.encoders import Encoder, default_device, load_encoder, resolve_encoder_dtype
from lampkit.ropg.losses import expected_reward, kd_loss, rl_loss, rl_reward, sample_items
from lampkit.ropg.records import DEPTH, FeedbackRecord, feedback_records, targets
from lampkit.ropg.retriever import FrozenStates, TrainableDense
from lampkit.store.io import atomic_write_json
from lampkit.tasks import Task, get_task

__all__ = ["METHODS", "RopgConfig", "lr_multiplier", "fit", "train_ropg"]

METHODS = ("rl", "kd")


# ----- training ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RopgConfig:
    """ROPG settings; the defaults are the paper's (Salemi et al. section 4, with the training settings of section 6.2).

    After the linear warm-up over ``warmup_ratio`` of the optimizer steps, ``schedule`` =
    ``"linear"`` decays the learning rate linearly towards 0 at the last step (the default, as
    ``transformers``' linear schedule with warm-up); ``"constant"`` keeps it. ``batch_size``
    inputs make one optimizer step (the effective batch), in forward passes of
    ``micro_batch_size`` inputs whose gradients accumulate. ``train_layers`` None trains the
    whole encoder; N trains the top N transformer layers (see :class:`~lampkit.ropg.retriever.TrainableDense`).
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
                    evals, mask = targets(batch, config.depth, device)
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
    outputs with another method's run (see :class:`~lampkit.ropg.retriever.FrozenStates`); it changes no result.
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
