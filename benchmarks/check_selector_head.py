"""The RSPG selector's two heads side by side on real pool feedback: the linear head on the embedding
of the whole text (:func:`lampkit.rspg.selector.selector_text`) and the interaction head on the
embeddings of the parts (the input, each entry, the output), both over the book's frozen one-layer
MiniLM with the book preset's training settings.

Per task and mode (RSPG-Pre, RSPG-Post) it prints each head's dev loss (the lowest, at the epoch
kept), its KL loss and success rate on the evaluation split, the epochs it ran, and the seconds of
embedding every distinct text of the train and evaluation splits (into a fresh embedding cache, so
that nothing is read from an earlier run) and of training on them, with the interaction head's
seconds as a ratio to the linear head's measured in the same run. The pool is the one without
ROPG (no personalization, recency, BM25, dense: ROPG's training is not this check's subject); its
feedback comes from the feedback store when an earlier run left it, else the embedded LLMs
generate it (the time it took is printed, apart).

usage: LAMPKIT_SCALE=tiny python benchmarks/check_selector_head.py [--tasks lamp2,lamp3] [--split test]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lampkit.analysis.winning import main_matrix
from lampkit.feedback import eval_matrix
from lampkit.pipeline import Settings, context, get_encoder, run_pool
from lampkit.retrievers.embedding_cache import EmbeddingCache
from lampkit.rspg.selector import Selector, kl_loss, predict, success_rate, target_distribution, train_selector
from lampkit.rspg.stage import MODES, RspgConfig, selection_pool, selector_data


def host() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        name = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "?")
    except (OSError, subprocess.CalledProcessError):
        name = "?"
    return f"{name}; torch threads {torch.get_num_threads()}"


def distinct_texts(data) -> list[str]:
    """Every distinct text the head's encoder embeds for ``data`` (texts per input, or SelectorParts)."""
    out: dict[str, None] = {}
    for row in data:
        if isinstance(row, list):
            out.update(dict.fromkeys(row))
        else:
            out.update(dict.fromkeys([row.input, *(e for es in row.entries for e in es), *(row.outputs or ())]))
    return list(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="lamp2,lamp3")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    print(f"host: {host()}")
    settings = Settings(task=args.tasks, show_progress=False)
    ctx = context(settings)
    book = RspgConfig()
    print(f"scale {settings.scale}, evaluation split {args.split}; book preset: max_length {book.max_length}, "
          f"encoder layers {book.encoder_layers}, lr {book.lr:g}, at most {book.epochs} epochs, dev share "
          f"{book.dev_share:g}, patience {book.patience}, seed {book.seed}")
    tokenizer = get_encoder(book.encoder).encoder.tokenizer
    rows = []
    for t in ctx.tasks:
        pool = selection_pool(ctx, t, None, with_ropg=False)
        names = [r.name for r in pool]
        start = time.perf_counter()
        train, test = run_pool(ctx, t, "train", pool), run_pool(ctx, t, args.split, pool)
        print(f"\n{t.name}: pool {', '.join(names)}; {train['example_id'].nunique()} train and "
              f"{test['example_id'].nunique()} {args.split} inputs; pool feedback {time.perf_counter() - start:.1f} s")
        evals, matrix = eval_matrix(train, names), main_matrix(test, t, names)
        test_target = torch.as_tensor(target_distribution(eval_matrix(test, names)), dtype=torch.float32)
        exs = {s: ctx.examples(t, s) for s in ("train", args.split)}
        for mode in MODES:
            for head in ("linear", "interaction"):
                config = book.with_(head=head)
                data = selector_data(t, exs["train"], train, names, mode, tokenizer, config)
                held = selector_data(t, exs[args.split], test, names, mode, tokenizer, config)
                with tempfile.TemporaryDirectory() as tmp:
                    cache = EmbeddingCache(Path(tmp) / "emb.sqlite")
                    texts = distinct_texts(data) + distinct_texts(held)
                    texts = list(dict.fromkeys(texts))
                    torch.manual_seed(0)
                    embedder = Selector.from_encoder(config.encoder, max_length=config.max_length, device="cpu",
                                                     frozen=True, encoder_layers=config.encoder_layers)
                    tokens = sum(min(len(ids), config.max_length) for ids in
                                 tokenizer(texts, truncation=False)["input_ids"])
                    start = time.perf_counter()
                    embedder.embed(texts, cache)
                    embed_s = time.perf_counter() - start
                    start = time.perf_counter()
                    sel = train_selector(data, evals, config.encoder, epochs=config.epochs, lr=config.lr,
                                         batch_size=config.batch_size, max_length=config.max_length,
                                         seed=config.seed, trainable_layers=config.trainable_layers,
                                         encoder_layers=config.encoder_layers, device="cpu", cache=cache,
                                         dev_share=config.dev_share, patience=config.patience, head=head)
                    train_s = time.perf_counter() - start
                    chosen = predict(sel, held, cache=cache)
                    with torch.inference_mode():
                        logits = sel.score_parts(held, cache) if head == "interaction" else sel.score_texts(
                            [x for row in held for x in row], cache).view(len(held), len(names))
                    rows.append({"task": t.name, "mode": mode, "head": head, "texts": len(texts), "tokens": tokens,
                                 "embed_s": embed_s, "train_s": train_s, "epochs": len(sel.history),
                                 "best": sel.best_epoch, "dev": min(sel.dev_history),
                                 "first_dev": sel.dev_history[0],
                                 "test_loss": float(kl_loss(logits.float(), test_target)),
                                 "success": success_rate(chosen, matrix, t.higher_is_better)})
                r = rows[-1]
                print(f"  {mode:4} {head:11}: dev loss {r['first_dev']:.4f} at epoch 1 -> {r['dev']:.4f} at epoch "
                      f"{r['best']} of {r['epochs']}; {args.split} loss {r['test_loss']:.4f}, success rate "
                      f"{r['success']:.1%}; embedding {r['texts']} distinct texts ({r['tokens']} tokens) "
                      f"{r['embed_s']:.1f} s, training {r['train_s']:.1f} s")
            lin, inter = rows[-2], rows[-1]
            print(f"  {mode:4} interaction / linear: embedding {inter['embed_s'] / lin['embed_s']:.2f}x "
                  f"({inter['tokens'] / lin['tokens']:.2f}x the tokens), training "
                  f"{inter['train_s'] / lin['train_s']:.2f}x; dev loss {inter['dev'] - lin['dev']:+.4f}, "
                  f"success rate {100 * (inter['success'] - lin['success']):+.1f} points")
    for mode in MODES:
        sub = [r for r in rows if r["mode"] == mode]
        lin = [r for r in sub if r["head"] == "linear"]
        inter = [r for r in sub if r["head"] == "interaction"]
        print(f"\nall tasks, {mode}: mean dev loss linear {np.mean([r['dev'] for r in lin]):.4f}, interaction "
              f"{np.mean([r['dev'] for r in inter]):.4f}; mean success rate linear "
              f"{np.mean([r['success'] for r in lin]):.1%}, interaction {np.mean([r['success'] for r in inter]):.1%}; "
              f"embedding {sum(r['embed_s'] for r in inter) / sum(r['embed_s'] for r in lin):.2f}x, training "
              f"{sum(r['train_s'] for r in inter) / sum(r['train_s'] for r in lin):.2f}x")


if __name__ == "__main__":
    main()
