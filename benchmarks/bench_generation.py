"""Time lampkit's batched, length-sorted generation against one prompt at a time.

Usage: python benchmarks/bench_generation.py [--model DIR] [--per-task N] [--batch-size B] [--scale S]

The prompts are mini-LaMP dev inputs of every task with recency's top 4 profile entries
(``--per-task`` per task), built with the model's tokenizer. The same loaded model generates
them one prompt per ``generate`` call (the official code's pattern) and then through
``Seq2SeqLLM.generate`` (length-sorted batches), in the same process with the same settings;
the outputs are compared and the last line printed is the speed-up.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from tqdm import tqdm

from lampkit.data import sources as datasets
from lampkit.llm.seq2seq import Seq2SeqLLM
from lampkit.retrievers.simple import Recency
from lampkit.tasks import all_tasks

EMBEDDED = Path(__file__).resolve().parents[1] / "lampkit" / "resources" / "models" / "mini-t5"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=EMBEDDED, help="a seq2seq model folder or hub name")
    parser.add_argument("--per-task", type=int, default=45, help="dev inputs per task")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--scale", default="default")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    llm = Seq2SeqLLM.load(args.model)
    recency = Recency()
    prompts = []
    for task in all_tasks():
        examples = datasets.load(task, "dev", scale=args.scale)[: args.per_task]
        for ex, ranking in zip(examples, recency.rank_many(task, examples)):
            items = [ex.profile[int(j)] for j in ranking.top(4)]
            prompts.append(task.build_prompt(ex.input, items, llm.counter, llm.settings["max_input_length"]))
    lengths = [llm.counter.count(p) for p in prompts]
    print(f"{len(prompts)} prompts of {min(lengths)}..{max(lengths)} tokens (mean {sum(lengths) / len(lengths):.0f}); "
          f"model {llm.model_id[:24]}, settings {llm.settings}, {torch.get_num_threads()} threads")

    llm.generate(prompts[:4], batch_size=4)  # warm-up
    start = time.perf_counter()
    single = [llm.generate([p])[0] for p in tqdm(prompts, desc="one at a time", leave=False)]
    t_single = time.perf_counter() - start

    start = time.perf_counter()
    batched = llm.generate(prompts, batch_size=args.batch_size)
    t_batched = time.perf_counter() - start

    same = sum(a == b for a, b in zip(single, batched))
    print(f"one at a time: {t_single:.2f} s ({1e3 * t_single / len(prompts):.1f} ms/prompt)")
    print(f"batched (batch {args.batch_size}, length-sorted): {t_batched:.2f} s "
          f"({1e3 * t_batched / len(prompts):.1f} ms/prompt)")
    print(f"identical outputs: {same}/{len(prompts)}")
    print(f"speedup vs one-at-a-time: {t_single / t_batched:.1f}x")


if __name__ == "__main__":
    main()
