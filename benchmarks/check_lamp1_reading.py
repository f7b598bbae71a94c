"""Does the embedded LLM read LaMP-1's profile? Accuracy per mini-LaMP regime and per choice of entries.

Usage: python benchmarks/check_lamp1_reading.py [--model DIR] [--scale S] [--seed N] [--limit N] [--beams B]

mini-LaMP's LaMP-1 inputs come in regimes (``Example.extra["regime"]``, chapter 1): under some the
entries a retriever finds back the gold reference, under others they point at the foil or at nothing.
For the first ``--limit`` dev inputs this prints, per regime, the accuracy of

- the embedded LLM (greedy or ``--beams``) given no entries, the top 4 of recency, BM25 and the
  dense retriever (embedded MiniLM), and the four entries the generator marked relevant;
- a *word-overlap reader* on the same entries: it picks the reference that shares more words with
  the entries (ties: with the paper's title; still tied: half a point). It needs no training, so it
  shows what the entries say; the LLM reads the profile when its accuracy moves the same way.

The last line is the LLM's gain from the relevant entries over none (a model that ignores the
profile scores about 0).
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from lampkit.data import synth
from lampkit.retrievers.embedding_cache import CachedEncoder
from lampkit.retrievers.encoders import load_encoder
from lampkit.llm.seq2seq import Seq2SeqLLM, model_for_task
from lampkit.llm.recipe import relevant_indices
from lampkit.retrievers.bm25 import BM25
from lampkit.retrievers.dense import Dense
from lampkit.retrievers.simple import Recency
from lampkit.tasks import get_task
from lampkit.data.layout import Example

EMBEDDED = Path(__file__).resolve().parents[1] / "lampkit" / "resources" / "models" / "mini-t5"
K = 4
# words of mini-LaMP's reference templates that carry no topic
TEMPLATE_WORDS = frozenset({"and", "the", "via", "method", "in", "near", "of", "a", "for", "with", "on"})


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in TEMPLATE_WORDS}


def word_overlap_reader(example: Example, entries: list[dict]) -> float:
    """1 when the reference sharing more words with ``entries`` is the gold, 0 when not, 0.5 on a tie."""
    quoted = re.findall(r'"([^"]*)"', example.input)
    title, refs = quoted[0], quoted[-2:]
    seen = set().union(*(_words(e.get("title", "")) for e in entries)) if entries else set()
    for pool in (seen, _words(title)):
        s1, s2 = (len(_words(r) & pool) for r in refs)
        if s1 != s2:
            return float(("[1]" if s1 > s2 else "[2]") == (example.output or "").strip())
    return 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(EMBEDDED), help="a model folder or a folder of per-task models")
    parser.add_argument("--scale", default="default")
    parser.add_argument("--seed", type=int, default=0, help="mini-LaMP seed")
    parser.add_argument("--limit", type=int, default=200, help="first N dev inputs")
    parser.add_argument("--beams", type=int, default=4)
    args = parser.parse_args()

    task = get_task("lamp1")
    # the generator's own examples: they carry the regime and the relevant entries, which the JSON files do not
    examples = synth.generate_task(task, args.scale, args.seed)["dev"][: args.limit]
    llm = Seq2SeqLLM.load(model_for_task(args.model, task.name), beams=args.beams, max_new_tokens=8)
    rankers = {"recency": Recency(), "bm25": BM25(), "dense": Dense(CachedEncoder(load_encoder()))}
    choices: dict[str, list[list[int]]] = {"none": [[] for _ in examples]}
    for name, retriever in rankers.items():
        choices[name] = [[int(i) for i in retriever.rank(task, ex).order[:K]] for ex in examples]
    choices["relevant"] = [relevant_indices(ex)[:K] for ex in examples]

    rows = []
    for name, chosen in choices.items():
        entries = [[ex.profile[j] for j in idx] for ex, idx in zip(examples, chosen)]
        prompts = [task.build_prompt(ex.input, items, llm.counter, llm.settings["max_input_length"])
                   for ex, items in zip(examples, entries)]
        answers = llm.generate(prompts)
        for ex, items, answer in zip(examples, entries, answers):
            regime = ex.extra.get("regime", "?")
            rows.append({"entries": name, "regime": regime, "reader": "LLM",
                         "correct": float(answer.strip() == (ex.output or "").strip())})
            rows.append({"entries": name, "regime": regime, "reader": "word overlap",
                         "correct": word_overlap_reader(ex, items)})
    df = pd.DataFrame(rows)
    counts = df[(df.reader == "LLM") & (df.entries == "none")].groupby("regime").size()
    print(f"LaMP-1 dev, first {len(examples)} inputs; inputs per regime: {counts.to_dict()}")
    for reader, part in df.groupby("reader", sort=False):
        table = part.pivot_table(index="entries", columns="regime", values="correct", aggfunc="mean")
        table["all"] = part.groupby("entries")["correct"].mean()
        print(f"\naccuracy, {reader} reader")
        print(table.loc[list(choices)].round(3).to_string())
    llm_acc = df[df.reader == "LLM"].groupby("entries")["correct"].mean()
    by: dict[str, float] = defaultdict(float, llm_acc.to_dict())
    print(f"\nLLM gain from the relevant entries over none: {by['relevant'] - by['none']:+.3f}"
          f" ({by['relevant']:.3f} vs {by['none']:.3f}; mean {np.mean(list(by.values())):.3f} over the choices)")


if __name__ == "__main__":
    main()
