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
the normalised rating score ``(worst - |y - y_hat|) / worst`` of :func:`lampkit.metrics.lamp.normalised_rating_score`.

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
from lampkit.ropg.config import METHODS, RopgConfig, criterion_key
from lampkit.ropg.records import FeedbackRecord, feedback_records, targets
from lampkit.ropg.retriever import FrozenStates, TrainableDense
from lampkit.store.io import atomic_write_json
from lampkit.tasks import Task, get_task

# METHODS, CRITERIA, criterion_key and RopgConfig live in lampkit.ropg.config (importable from here too)
__all__ = ["TrainingLog", "best_of_curve", "lr_multiplier", "split_dev", "dev_metrics", "fit", "train_ropg"]

# ----- training ----------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingLog:
    """What :func:`fit` records: one entry per optimizer step (``log``) and, with a dev set, one per
    epoch (``curve``, epoch 0 before training) of :func:`dev_metrics`."""

    log: list[dict[str, float]]
    curve: list[dict[str, float]]
    criterion: str = "expected"

    @property
    def best_epoch(self) -> int | None:
        """The epoch whose weights :func:`fit` kept (see :func:`best_of_curve`); None without a dev set."""
        return best_of_curve(self.curve, self.criterion)["epoch"] if self.curve else None


def best_of_curve(curve: Sequence[dict[str, float]], criterion: str = "expected") -> dict[str, float]:
    """The entry of a dev curve whose weights :func:`fit` keeps: the highest value of ``criterion``
    (:data:`~lampkit.ropg.config.CRITERIA`), the earliest of a tie (epoch 0: the initial weights)."""
    key = criterion_key(criterion)
    return max(curve, key=lambda c: (c[key], -c["epoch"]))


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
        show_progress: bool = True) -> TrainingLog:
    """Train ``retriever`` in place with ROPG-``method`` on ``records``; the log of every step and epoch.

    With ``config.dev_share`` > 0 that share of the records (drawn with the seed) is held out:
    :func:`dev_metrics` runs on it before training and after every epoch, training stops once
    ``config.patience`` epochs pass without a higher ``config.criterion`` (the learning-rate schedule
    is laid out over all ``config.epochs``), and the weights of the best epoch are kept (those
    before training, if no epoch beats them).

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
    records, dev = split_dev(records, config.dev_share, config.seed)
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
        retriever.precompute([t for r in (*records, *dev) for t in (r.query, *r.docs)], show_progress=show_progress)
    log: list[dict[str, float]] = []
    curve: list[dict[str, float]] = []
    best, best_state, waited = -math.inf, None, 0
    key = criterion_key(config.criterion)
    if dev:
        curve.append({"epoch": 0, "step": 0, **dev_metrics(retriever, dev, config, dtype)})
        best, best_state = curve[-1][key], _state(params)
    retriever.train()
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
            if not dev:
                continue
            curve.append({"epoch": epoch + 1, "step": len(log), **dev_metrics(retriever, dev, config, dtype)})
            retriever.train()
            if curve[-1][key] > best:
                best, best_state, waited = curve[-1][key], _state(params), 0
            else:
                waited += 1
                if config.patience is not None and waited >= config.patience:
                    break
    finally:
        bar.close()
    if best_state is not None:
        with torch.no_grad():
            for p, kept in zip(params, best_state):
                p.copy_(kept)
    retriever.eval()
    return TrainingLog(log, curve, config.criterion)


def split_dev(records: Sequence[FeedbackRecord], dev_share: float,
              seed: int) -> tuple[list[FeedbackRecord], list[FeedbackRecord]]:
    """(train, dev): ``dev_share`` of ``records`` drawn with ``seed`` as the dev set (both in input order)."""
    records = list(records)
    if dev_share <= 0:
        return records, []
    n_dev = max(1, round(dev_share * len(records)))
    if n_dev >= len(records):
        raise ValueError(f"a dev share of {dev_share} leaves no training input of {len(records)}")
    drawn = set(torch.randperm(len(records), generator=torch.Generator().manual_seed(seed + 2))[:n_dev].tolist())
    return ([r for i, r in enumerate(records) if i not in drawn], [r for i, r in enumerate(records) if i in drawn])


def dev_metrics(retriever: TrainableDense, dev: Sequence[FeedbackRecord], config: RopgConfig,
                dtype: torch.dtype | None = None) -> dict[str, float]:
    """The retriever on held-out records (no gradient, eval mode), each a mean over the records:
    E_pi[EVAL] (``dev_expected_eval``), EVAL of its top-scored item (``dev_top1_eval``), EVAL@k
    (``dev_topk_eval``: the mean EVAL of its ``config.top_k`` top-scored items, fewer where a profile
    has fewer), EVAL of the initial retriever's top-1 (``dev_initial_eval``) and EVAL@k of the
    initial retriever (``dev_initial_topk_eval``: its first ``top_k`` items). ``config.criterion``
    names the one early stopping reads (:data:`~lampkit.ropg.config.CRITERIA`)."""
    retriever.eval()
    device = retriever.device
    sums = {"dev_expected_eval": 0.0, "dev_top1_eval": 0.0, "dev_topk_eval": 0.0, "dev_initial_eval": 0.0,
            "dev_initial_topk_eval": 0.0}
    with torch.no_grad():
        for start in range(0, len(dev), config.micro_batch_size):
            batch = list(dev[start:start + config.micro_batch_size])
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                scores = retriever.score(batch, config.depth)
            scores = scores.float()
            evals, mask = targets(batch, config.depth, device)
            baseline = evals[:, 0]
            sums["dev_expected_eval"] += float((expected_reward(scores, mask, evals, baseline) + baseline).sum())
            masked = scores.masked_fill(~mask, float("-inf"))
            top = masked.argmax(dim=-1)
            sums["dev_top1_eval"] += float(evals.gather(1, top[:, None]).sum())
            sums["dev_initial_eval"] += float(baseline.sum())
            k = min(config.top_k, scores.shape[1])
            counts = mask.sum(dim=1).clamp(max=k)  # items in each input's top k
            ranked = masked.topk(k, dim=1).indices  # ties: the order topk gives; a slot past a profile's end is last
            inside = torch.arange(k, device=device)[None, :] < counts[:, None]
            sums["dev_topk_eval"] += float(((evals.gather(1, ranked) * inside).sum(1) / counts).sum())
            sums["dev_initial_topk_eval"] += float(((evals[:, :k] * inside).sum(1) / counts).sum())
    return {k: v / len(dev) for k, v in sums.items()}


def _state(params: Sequence[torch.nn.Parameter]) -> list[torch.Tensor]:
    return [p.detach().clone() for p in params]


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
        trained = fit(method, retriever, records, config, show_progress)
    out = retriever.save(out_dir)
    atomic_write_json(out / "ropg.json", {
        "method": method,
        "task": t.name,
        "initial_encoder": initial_encoder.model_id,
        "config": dataclasses.asdict(config),
        "examples": len(examples),
        "trained_examples": len(records),
        "log": trained.log,
        "dev_curve": trained.curve,
        "best_epoch": trained.best_epoch,
    }, indent=1)
    return out
