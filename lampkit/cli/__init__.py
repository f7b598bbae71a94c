"""The ``lampkit`` command line: one subcommand per pipeline stage."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from lampkit.pipeline import Settings

__all__ = ["main", "build_parser"]

DATA_OPTIONS = ("task", "data_dir", "scale", "seed")  # the core settings that name the data


def _data_settings(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with the data settings resolved as every chapter resolves them (:class:`Settings`)."""
    settings = Settings.from_args(args)
    return argparse.Namespace(**{**vars(args), **{name: getattr(settings, name) for name in DATA_OPTIONS}})


def _cmd_synth(args: argparse.Namespace) -> int:
    from lampkit.data import synth

    from lampkit.longform.synth import write_longform

    args = _data_settings(args)
    out = synth.write_mini_lamp(args.out, seed=args.seed, scale=args.scale, tasks=args.task)
    print(f"mini-LaMP (scale {args.scale}, seed {args.seed}) written to {out}")
    if args.task == "all":  # the long-form task of Li et al. (chapter 07) beside the LaMP tasks
        paths = write_longform(out, seed=args.seed, scale=args.scale)
        print(f"long-form writing (Li et al.) written to {paths[0].parent}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from lampkit.data.layout import validate_dir

    report = validate_dir(args.data_dir, args.task, scheme=args.scheme)
    print(report.format())
    return 0 if report.ok else 1


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from lampkit.data.layout import LampDataError
    from lampkit.metrics.lamp import evaluate_files

    try:
        result = evaluate_files(args.task, args.golds, args.preds)
    except LampDataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    from lampkit.data.layout import SPLITS, load_split
    from lampkit.data.sources import resolve_data_dir
    from lampkit.data.stats import statistics_table
    from lampkit.tasks import resolve_tasks

    args = _data_settings(args)
    root = resolve_data_dir(args.data_dir, args.scale, args.seed)
    per_task = {}
    for t in resolve_tasks(args.task):
        per_task[t.name] = {s: load_split(root, t, s, scheme=args.scheme) for s in SPLITS}
    print(statistics_table(per_task).to_string(index=False))
    return 0


def _cmd_llm_train(args: argparse.Namespace) -> int:
    from lampkit.llm.recipe import train_cli

    return train_cli(_data_settings(args))


def _cmd_feedback(args: argparse.Namespace) -> int:
    from lampkit.pipeline import baseline_pool, context, metrics_by_retriever, run_pool

    ctx = context(Settings.from_args(args))
    pool = baseline_pool(ctx.encoder)
    if args.retrievers != "all":
        wanted = args.retrievers.split(",")
        pool = [r for r in pool if r.name in wanted]
    start, _, stop = args.shard.partition(":") if args.shard else ("", "", "")
    for t in ctx.tasks:
        examples = ctx.examples(t, args.split)
        examples = examples[int(start) if start else None:int(stop) if stop else None]
        df = run_pool(ctx, t, args.split, pool, examples)
        print(f"{t.name} {args.split} inputs {len(examples)}:")
        print(metrics_by_retriever(df, t, examples).round(4).to_string())
    print(f"feedback stored in {ctx.store.path}")
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from lampkit.feedback import merge

    store = merge(args.shards, args.into)
    print(f"merged {len(args.shards)} shard(s) into {store.path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lampkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write the embedded mini-LaMP benchmark in the official layout")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    Settings.add_arguments(p, only=("task", "scale", "seed"))
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("validate", help="check a folder of LaMP files (layout, fields, ids, dates)")
    p.add_argument("data_dir", type=Path)
    p.add_argument("--task", default="all")
    p.add_argument("--scheme", default="time", choices=["time", "user"])
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("evaluate", help="official metrics of predictions against golds, as JSON")
    p.add_argument("--task", required=True)
    p.add_argument("--golds", required=True, type=Path, help="outputs file with the gold outputs")
    p.add_argument("--preds", required=True, type=Path, help="predictions in the same layout")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("stats", help="dataset statistics in the shape of the paper's Table 1")
    Settings.add_arguments(p, only=DATA_OPTIONS)
    p.add_argument("--scheme", default="time", choices=["time", "user"])
    p.set_defaults(func=_cmd_stats)

    llm = sub.add_parser("llm", help="the frozen LLM").add_subparsers(dest="llm_command", required=True)
    p = llm.add_parser("train", help="train the embedded small T5 from scratch on mini-LaMP")
    p.add_argument("--out", required=True, type=Path)
    Settings.add_arguments(p, only=DATA_OPTIONS)
    p.add_argument("--eval-seed", type=int, default=0, help="mini-LaMP seed of the dev sets in the model card")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--data-seeds", default=None, help="comma-separated mini-LaMP seeds to train on (default 1,2,3,4)")
    p.add_argument("--quick", action="store_true", help="a few dozen steps of a tiny model (for tests)")
    p.add_argument("--strategy-weights", default=None,
                   help="comma-separated weights of the prompt strategies none,random,recent,bm25,relevant")
    p.add_argument("--reader-heads", action="store_true",
                   help="start with the fixed found and marker heads (the embedded LaMP-1 model)")
    p.add_argument("--per-task", action="store_true", help="one model per task in OUT/<task> (the embedded mini-t5)")
    p.add_argument("--jobs", type=int, default=None, help="with --per-task: tasks trained at once")
    p.set_defaults(func=_cmd_llm_train)

    p = sub.add_parser("feedback", help="pool feedback: each retriever's prompt, the LLM's output, metrics")
    Settings.add_arguments(p)
    p.add_argument("--split", default="dev", choices=["train", "dev", "test"], help="the split to run (default: dev)")
    p.add_argument("--retrievers", default="all", help="comma-separated names of the baseline pool, or all")
    p.add_argument("--shard", default=None, help="input range START:STOP of each split, e.g. 0:100")
    p.set_defaults(func=_cmd_feedback)

    p = sub.add_parser("merge", help="merge feedback store shards into one store")
    p.add_argument("shards", nargs="+", type=Path)
    p.add_argument("--into", required=True, type=Path)
    p.set_defaults(func=_cmd_merge)

    # the chapters' stages (02-06), each with the flags of its chapter's configurations, and long-form (07)
    from lampkit.cli.longform import add_cli as add_longform
    from lampkit.cli.regression import add_cli as add_regression
    from lampkit.cli.stages import add_cli as add_stages

    add_stages(sub)
    add_longform(sub)
    add_regression(sub)  # the stages' tables at the tiny scale, stored and compared
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(argv) if argv is not None else sys.argv[1:]
    args = build_parser().parse_args(argv)
    args.argv = argv  # the command line as typed (a saved table's provenance names it)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
