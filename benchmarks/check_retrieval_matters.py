"""Does retrieval matter to the embedded LLM? The conditions the mini-LaMP pipeline relies on.

Usage: python benchmarks/check_retrieval_matters.py [--model DIR] [--scale S] [--seed N]
       [--split dev] [--limit N] [--task all] [--store FILE] [--json FILE]

For every task, the LLM answers the inputs of a split with the prompt of each retriever of the
pool (no personalization, recency, BM25, dense with the embedded MiniLM, and RRF of the three
rankers; k = 4), through lampkit's pool feedback. Per task it prints each retriever's main metric
and relative winning rate (SPEC section 7), then whether:

1. the best single retriever beats no personalization by a clear margin (>= ``--margin``);
2. the per-input oracle over the pool beats the best single retriever;
3. on at least a fifth of the inputs the pool's retrievers do not all score the same;
4. no retriever's relative winning rate exceeds 40%.

The last line says whether the four conditions hold for every task.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from lampkit.data import sources as datasets
from lampkit.retrievers.embedding_cache import CachedEncoder
from lampkit.retrievers.encoders import load_encoder
from lampkit.feedback import FeedbackStore, pool_feedback
from lampkit.llm.seq2seq import Seq2SeqLLM, model_for_task
from lampkit.retrievers.bm25 import BM25
from lampkit.retrievers.dense import Dense
from lampkit.retrievers.rrf import RRF
from lampkit.retrievers.simple import NoPersonalization, Recency
from lampkit.tasks import resolve_tasks
from lampkit.analysis.winning import retrieval_matters, winning_rates
from lampkit.metrics.lamp import PER_EXAMPLE_COLUMN

EMBEDDED = Path(__file__).resolve().parents[1] / "lampkit" / "resources" / "models" / "mini-t5"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(EMBEDDED), help="the LLM: a model folder, a folder of per-task models or a hub name")
    parser.add_argument("--data-dir", default=None, help="real LaMP files (default: the embedded mini-LaMP)")
    parser.add_argument("--scale", default="default")
    parser.add_argument("--seed", type=int, default=0, help="mini-LaMP seed")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--limit", type=int, default=None, help="first N inputs per task")
    parser.add_argument("--task", default="all")
    parser.add_argument("--margin", type=float, default=0.02, help="clear margin of condition 1")
    parser.add_argument("--store", default=None, help="feedback SQLite file (default: lampkit's cache)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()

    store = FeedbackStore(args.store) if args.store else FeedbackStore()
    recency, bm25, dense = Recency(), BM25(), Dense(CachedEncoder(load_encoder()))
    pool = [NoPersonalization(), recency, bm25, dense, RRF([recency, bm25, dense])]
    names = [r.name for r in pool]
    results = []
    for task in resolve_tasks(args.task):
        examples = datasets.load(task, args.split, args.data_dir, args.scale, args.seed)[: args.limit]
        llm = Seq2SeqLLM.load(model_for_task(args.model, task.name))
        df = pool_feedback(task, examples, pool, llm, store, k=4, show_progress=False)
        res = retrieval_matters(df, task, names, min_margin=args.margin)
        rates = winning_rates(df, task, names).set_index("retriever")["relative_rate"]
        means = df.groupby("retriever")[PER_EXAMPLE_COLUMN[task.main_metric]].mean()
        res["n"] = len(examples)
        res["per_retriever"] = {n: {"metric": float(means[n]), "relative_rate": float(rates[n])} for n in names}
        results.append(res)
        print(f"\n{task.name} ({task.main_metric}, {len(examples)} {args.split} inputs)")
        print(pd.DataFrame(res["per_retriever"]).T.round(4).to_string())
    table = pd.DataFrame([{k: r[k] for k in ("task", "metric", "no_personalization", "best_single", "best_retriever",
                                             "oracle", "margin", "differing_share", "max_relative_rate", "holds")}
                          for r in results])
    print()
    print(table.round(4).to_string(index=False))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, sort_keys=True))
    print(f"retrieval matters for every task: {bool(table['holds'].all())}")


if __name__ == "__main__":
    main()
