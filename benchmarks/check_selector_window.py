"""How much of each input the RSPG selector reads: the share of inputs whose whole input lies inside
its window, for the text the LLM was prompted with (cut at the window's end, as before) and for
:func:`lampkit.rspg.selector.selector_text`, per task and window; and the cost of embedding those
texts with the selector's encoder, as a ratio to the 64-token window measured in the same run.

usage: python benchmarks/check_selector_window.py [--scale default] [--split dev] [--windows 64,128,256]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lampkit.pipeline import Settings, get_llm, load_examples
from lampkit.retrievers import BM25
from lampkit.retrievers.encoders import DEFAULT_ENCODER, load_encoder
from lampkit.rspg.selector import input_coverage, keep_bottom_layers, selector_text
from lampkit.tasks import all_tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="default")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--windows", default="64,128,256")
    parser.add_argument("--inputs", type=int, default=50, help="inputs per task")
    args = parser.parse_args()
    windows = [int(w) for w in args.windows.split(",")]
    encoder = load_encoder(DEFAULT_ENCODER)
    keep_bottom_layers(encoder.model, 1)  # the book's selector: the bottom layer of MiniLM
    tok = encoder.tokenizer
    settings = Settings(scale=args.scale)
    print(f"share of inputs whole inside the selector's window ({args.scale} scale, {args.split}, BM25 top-4)")
    print(f"{'task':6} " + " ".join(f"{'prompt@' + str(w):>11} {'text@' + str(w):>9}" for w in windows))
    texts_by_window: dict[int, list[str]] = {w: [] for w in windows}
    for task in all_tasks():
        examples = load_examples(settings, task, args.split)[: args.inputs]
        top = [[ex.profile[j] for j in r.top(4)] for ex, r in zip(examples, BM25().rank_many(task, examples))]
        llm = get_llm(None, task=task)
        prompts = [task.build_prompt(ex.input, items, llm.counter, 512) for ex, items in zip(examples, top)]
        inputs = [ex.input for ex in examples]
        cells = []
        for w in windows:
            texts = [selector_text(task, ex.input, items, tok, w) for ex, items in zip(examples, top)]
            texts_by_window[w].extend(texts)
            cells.append(f"{input_coverage(prompts, inputs, tok, w):>11.0%} {input_coverage(texts, inputs, tok, w):>9.0%}")
        print(f"{task.name:6} " + " ".join(cells))
    print("\nembedding cost of those texts (1-layer MiniLM, float32, one pass, best of 3)")
    seconds = {}
    for w in windows:
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            encoder.encode(texts_by_window[w], batch_size=64, max_length=w)
            runs.append(time.perf_counter() - start)
        seconds[w] = min(runs)
    for w in windows:
        print(f"window {w:4}: {seconds[w]:6.2f} s for {len(texts_by_window[w])} texts, "
              f"{seconds[w] / seconds[windows[0]]:.2f}x the {windows[0]}-token window")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
