"""Time dense ranking with the plain encoder against the same encoder behind the embedding cache.

Usage: python benchmarks/bench_embedding_cache.py [--inputs N] [--users U] [--pool P] [--memory] [--seed S]

As in mini-LaMP, each user's train, dev and test inputs share one profile, and profiles overlap:
``--users`` users with ``--inputs`` inputs in all, each profile 10..60 texts drawn from a pool
of ``--pool`` texts (LaMP-7 style items: text and date). Inputs are ranked in batches of
``--batch`` with the embedded MiniLM, one split after the other (first input of every user, then
the second, ...), with the plain encoder and with a ``CachedEncoder`` on a temporary SQLite file
(``--memory``: in memory), in this process, the two alternating batch by batch. The last line
printed is the speed-up.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from lampkit.data.layout import Example
from lampkit.retrievers.embedding_cache import CachedEncoder, EmbeddingCache
from lampkit.retrievers.encoders import Encoder, load_encoder
from lampkit.retrievers.dense import Dense
from lampkit.tasks import get_task

PROFILE_SIZES = (10, 60)
WORDS_PER_TEXT = (10, 40)
ZIPF_EXPONENT = 1.0


def make_workload(n_inputs: int, n_users: int, pool_size: int, vocab: list[str], seed: int) -> list[Example]:
    """``n_inputs`` LaMP-7 examples of ``n_users`` users whose profiles come from one pool of texts."""
    task = get_task("lamp7")
    rng = np.random.default_rng(seed)
    words = np.array(sorted(vocab), dtype=object)
    p = 1.0 / np.arange(1, len(words) + 1) ** ZIPF_EXPONENT
    p /= p.sum()
    words = words[rng.permutation(len(words))]  # which words are frequent: random, but seeded

    def text() -> str:
        return " ".join(rng.choice(words, size=int(rng.integers(*WORDS_PER_TEXT, endpoint=True)), p=p))

    pool = [{"text": text(), "date": f"20{10 + i % 10}-0{1 + i % 9}-1{i % 10}"} for i in range(pool_size)]
    profiles = []
    for u in range(n_users):
        chosen = rng.choice(pool_size, size=int(rng.integers(*PROFILE_SIZES, endpoint=True)), replace=False)
        profiles.append([{"id": f"p{j}", **pool[j]} for j in sorted(chosen.tolist())])
    # split after split: input k of every user comes before input k + 1 of any user
    return [Example(f"u{i % n_users}-{i // n_users}", task.make_input(text=text()), profiles[i % n_users],
                    user_id=f"u{i % n_users}") for i in range(n_inputs)]


class CountingEncoder:
    """An encoder that counts the texts it embeds."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.model_id = encoder.model_id
        self.n_encoded = 0

    def encode(self, texts, **kwargs) -> np.ndarray:
        self.n_encoded += len(texts)
        return self.encoder.encode(texts, **kwargs)


def run_interleaved(dense: dict[str, Dense], examples: list[Example], batch: int) -> dict[str, tuple[float, list]]:
    """Seconds and rankings per retriever, alternating them batch by batch so that a change
    in the machine's load (other processes on the same cores) hits both alike."""
    task = get_task("lamp7")
    seconds = {name: 0.0 for name in dense}
    rankings: dict[str, list] = {name: [] for name in dense}
    for i in range(0, len(examples), batch):
        for name, retriever in dense.items():
            start = time.perf_counter()
            rankings[name].extend(retriever.rank_many(task, examples[i: i + batch]))
            seconds[name] += time.perf_counter() - start
    return {name: (seconds[name], rankings[name]) for name in dense}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=200, help="inputs to rank")
    parser.add_argument("--users", type=int, default=50, help="users (their inputs share a profile)")
    parser.add_argument("--pool", type=int, default=1500, help="texts that profiles are drawn from")
    parser.add_argument("--batch", type=int, default=16, help="inputs per rank_many call")
    parser.add_argument("--memory", action="store_true", help="in-memory cache instead of a SQLite file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    encoder = load_encoder(device="cpu")
    vocab = [w for w in encoder.tokenizer.get_vocab() if w.isascii() and w.isalpha() and len(w) > 2]
    examples = make_workload(args.inputs, args.users, args.pool, vocab, args.seed)
    n_items = sum(len(ex.profile) for ex in examples)
    n_distinct = len({item["text"] for ex in examples for item in ex.profile})
    print(f"{len(examples)} inputs of {args.users} users: {n_items} profile items, "
          f"{n_distinct} distinct profile texts; encoder {encoder.model_id[:19]}... on {encoder.device}")
    encoder.encode(["warm-up"] * 4)

    plain = CountingEncoder(encoder)
    kind = "in memory" if args.memory else "SQLite"
    with tempfile.TemporaryDirectory() as tmp:
        cached = CachedEncoder(encoder, EmbeddingCache(None if args.memory else Path(tmp) / "embeddings.sqlite"))
        timed = run_interleaved({"plain": Dense(plain), "cached": Dense(cached)}, examples, args.batch)
        cached.cache.close()
    (t_plain, r_plain), (t_cached, r_cached) = timed["plain"], timed["cached"]
    print(f"plain encoder:  {t_plain:7.2f} s, {plain.n_encoded} texts encoded")
    print(f"cached ({kind}): {t_cached:7.2f} s, {cached.n_encoded} texts encoded "
          f"of {cached.n_requested} requested")

    max_diff = max(float(np.max(np.abs(a.scores - b.scores))) for a, b in zip(r_plain, r_cached))
    same_top4 = sum(np.array_equal(a.top(4), b.top(4)) for a, b in zip(r_plain, r_cached))
    print(f"max abs score diff: {max_diff:.2g}; same top-4: {same_top4}/{len(examples)}")
    if max_diff > 1e-3:
        raise SystemExit("cached and plain scores differ")
    print(f"speedup with embedding cache: {t_plain / t_cached:.1f}x")


if __name__ == "__main__":
    main()
