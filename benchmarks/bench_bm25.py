"""Time lampkit's BM25 against rank_bm25 on a LaMP-like workload: one fresh index per input.

Usage: python benchmarks/bench_bm25.py [--inputs N] [--seed S]

Each input is a profile of 20..200 documents of 30..120 tokens and a query of 10..60 tokens,
drawn from a Zipfian vocabulary (seeded). Per input, both implementations get their own fresh
whitespace tokenisation of the same texts (so neither finds string hashes cached by the other);
``BM25Okapi(corpus).get_scores(query)`` and ``bm25_scores(corpus, query)`` are timed, not the
tokenisation. The scores are compared; the last line printed is the speed-up.
"""

from __future__ import annotations

import argparse
import time
from typing import Iterator

import numpy as np
from rank_bm25 import BM25Okapi
from tqdm import tqdm

from lampkit.retrievers.bm25 import bm25_scores, tokenize

VOCAB_SIZE = 20_000
ZIPF_EXPONENT = 1.1


def lamp_like_inputs(n_inputs: int, seed: int) -> Iterator[tuple[list[str], str]]:
    """``n_inputs`` (profile texts, query text) pairs from a Zipfian vocabulary."""
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(VOCAB_SIZE)], dtype=object)
    p = 1.0 / np.arange(1, VOCAB_SIZE + 1) ** ZIPF_EXPONENT
    p /= p.sum()
    for _ in range(n_inputs):
        lengths = rng.integers(30, 121, size=int(rng.integers(20, 201)))
        tokens = words[rng.choice(VOCAB_SIZE, size=int(lengths.sum()), p=p)].tolist()
        bounds = np.concatenate(([0], np.cumsum(lengths))).tolist()
        profile = [" ".join(tokens[s:e]) for s, e in zip(bounds[:-1], bounds[1:])]
        query = " ".join(words[rng.choice(VOCAB_SIZE, size=int(rng.integers(10, 61)), p=p)])
        yield profile, query


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=2000, help="number of (profile, query) inputs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    t_reference = t_ours = max_diff = 0.0
    n_equal = n_docs = n_tokens = 0
    for profile, query_text in tqdm(lamp_like_inputs(args.inputs, args.seed), total=args.inputs,
                                    desc="inputs", leave=False):
        corpus, query = [tokenize(t) for t in profile], tokenize(query_text)
        start = time.perf_counter()
        reference = BM25Okapi(corpus).get_scores(query)
        t_reference += time.perf_counter() - start

        corpus, query = [tokenize(t) for t in profile], tokenize(query_text)
        start = time.perf_counter()
        ours = bm25_scores(corpus, query)
        t_ours += time.perf_counter() - start

        max_diff = max(max_diff, float(np.max(np.abs(reference - ours))))
        n_equal += bool(np.array_equal(reference, ours))
        n_docs += len(corpus)
        n_tokens += sum(map(len, corpus))

    print(f"{args.inputs} inputs, {n_docs} documents, {n_tokens} tokens")
    print(f"rank_bm25: {t_reference:.3f} s ({1e3 * t_reference / args.inputs:.3f} ms/input)")
    print(f"lampkit:   {t_ours:.3f} s ({1e3 * t_ours / args.inputs:.3f} ms/input)")
    print(f"max abs diff: {max_diff:.3g}; bit-identical score vectors: {n_equal}/{args.inputs}")
    if max_diff > 1e-12:
        raise SystemExit("scores differ from rank_bm25")
    print(f"speedup vs rank_bm25: {t_reference / t_ours:.1f}x")


if __name__ == "__main__":
    main()
