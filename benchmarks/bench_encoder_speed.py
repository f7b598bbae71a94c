"""Time the dense encoders' two speed-ups of the book build against their plain counterparts.

Usage: python benchmarks/bench_encoder_speed.py [--task lamp4] [--scale small] [--texts N] [--chunk C]

1. Precision: the embedded MiniLM in float32 against the same weights under bfloat16 autocast
   (what ``dtype="auto"`` picks on a CPU with AMX or on a GPU), on the first ``--texts`` distinct
   profile texts of the mini-LaMP dev split, the two alternating chunk by chunk in this process.
   Also printed: the largest embedding difference and how often the two give the same top-4
   items for the split's inputs.
2. Shared pass: three encoders that differ only in their top layer (as the dense retriever,
   ROPG-RL and ROPG-KD do; here the top layer of two copies is perturbed) embedding the same texts
   one after the other, against :class:`lampkit.ropg.method.SharedLowerEncoders`, which runs the lower
   layers once for all three, both in the precision "auto" resolves to here.

The last line printed is the speed-up of both together (bfloat16 and the shared pass against
three float32 encoders); on a CPU without bfloat16 matrix units, part 1 shows a slow-down and
the build keeps float32 (``has_fast_bf16``).
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import numpy as np
import torch

from lampkit.data.sources import load
from lampkit.retrievers.embedding_cache import EmbeddingCache
from lampkit.retrievers.encoders import Encoder, has_fast_bf16, load_encoder, resolve_encoder_dtype
from lampkit.retrievers.base import order_by_scores
from lampkit.ropg.retriever import SharedLowerEncoders
from lampkit.tasks import get_task


def timed_alternating(encoders: dict[str, object], texts: list[str], chunk: int) -> dict[str, tuple[float, np.ndarray]]:
    """Seconds and embeddings per encoder, alternating them chunk by chunk (a change in the
    machine's load hits all alike)."""
    seconds = {name: 0.0 for name in encoders}
    parts: dict[str, list[np.ndarray]] = {name: [] for name in encoders}
    for start in range(0, len(texts), chunk):
        for name, encode in encoders.items():
            t0 = time.perf_counter()
            parts[name].append(encode(texts[start:start + chunk]))
            seconds[name] += time.perf_counter() - t0
    return {name: (seconds[name], np.concatenate(parts[name])) for name in encoders}


def perturbed_top(encoder: Encoder, seed: int) -> Encoder:
    """A copy of ``encoder`` whose top transformer layer is nudged (a stand-in for a ROPG checkpoint)."""
    model = copy.deepcopy(encoder.model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.encoder.layer[-1].parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=generator))
    return Encoder(model, encoder.tokenizer, f"{encoder.model_id}+perturbed:{seed}", device=encoder.device,
                   dtype=encoder.dtype)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="lamp4")
    parser.add_argument("--scale", default="small", help="mini-LaMP scale (tiny, small, default)")
    parser.add_argument("--texts", type=int, default=2000, help="distinct profile texts to embed")
    parser.add_argument("--chunk", type=int, default=250, help="texts per encode call")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    task = get_task(args.task)
    examples = load(task, "dev", scale=args.scale)
    texts = list(dict.fromkeys(task.index_text(item) for ex in examples for item in ex.profile))[: args.texts]
    fp32 = load_encoder(device="cpu", dtype="float32")
    bf16 = load_encoder(device="cpu", dtype="bfloat16")
    auto = resolve_encoder_dtype("auto", "cpu")
    print(f"{len(texts)} distinct {task.name} profile texts (mini-LaMP {args.scale}, dev); torch threads "
          f"{torch.get_num_threads()}; bfloat16 matrix units: {has_fast_bf16('cpu')}; 'auto' resolves to "
          f"{'bfloat16 autocast' if auto is not None else 'float32'}")
    for enc in (fp32, bf16):
        enc.encode(texts[:64])  # warm-up

    # 1. precision
    timed = timed_alternating({"float32": fp32.encode, "bfloat16": bf16.encode}, texts, args.chunk)
    (t32, e32), (t16, e16) = timed["float32"], timed["bfloat16"]
    where = {t: i for i, t in enumerate(texts)}
    same = total = 0
    for ex in examples:
        rows = [where.get(task.index_text(item)) for item in ex.profile]
        if any(r is None for r in rows):
            continue
        query = task.query(ex.input)
        q32, q16 = fp32.encode([query])[0], bf16.encode([query])[0]
        a = order_by_scores(e32[rows].astype(np.float64) @ q32.astype(np.float64))[:4]
        b = order_by_scores(e16[rows].astype(np.float64) @ q16.astype(np.float64))[:4]
        same += int(np.array_equal(a, b))
        total += 1
    print(f"float32:            {t32:7.2f} s")
    print(f"bfloat16 autocast:  {t16:7.2f} s (max abs embedding diff {np.max(np.abs(e32 - e16)):.3g}; "
          f"same top-4 on {same}/{total} dev inputs)")
    print(f"speed-up of bfloat16 autocast: {t32 / t16:.2f}x")

    # 2. the shared pass of the frozen lower layers, in the precision "auto" gives here
    base = load_encoder(device="cpu", dtype="auto")
    members = [base, perturbed_top(base, 1), perturbed_top(base, 2)]
    family = SharedLowerEncoders(members, split=len(base.model.encoder.layer) - 1, cache=EmbeddingCache())

    def separately(batch: list[str]) -> list[np.ndarray]:
        return [m.encode(batch) for m in members]

    def shared(batch: list[str]) -> list[np.ndarray]:
        return family.embed_all(batch)

    timed = timed_alternating({"separately": lambda b: np.stack(separately(b), 1),
                               "shared": lambda b: np.stack(shared(b), 1)}, texts, args.chunk)
    (t_sep, e_sep), (t_shared, e_shared) = timed["separately"], timed["shared"]
    print(f"three encoders one after the other: {t_sep:7.2f} s")
    print(f"one shared lower pass, three tops:  {t_shared:7.2f} s (max abs diff {np.max(np.abs(e_sep - e_shared)):.3g})")
    print(f"speed-up of the shared pass: {t_sep / t_shared:.2f}x")
    if np.max(np.abs(e_sep - e_shared)) > 0.05:
        raise SystemExit("the shared pass does not give the members' embeddings")
    print(f"speed-up of both against three float32 encoders: {3 * t32 / t_shared:.2f}x")


if __name__ == "__main__":
    main()
