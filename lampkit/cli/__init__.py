"""The ``lampkit`` command line: one subcommand per pipeline stage."""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Sequence

from lampkit.analysis.methods import BASELINES
from lampkit.config import ConfigError
from lampkit.data.records import LampDataError
from lampkit.pipeline import Settings

__all__ = ["main", "build_parser", "parse_shard", "parse_retrievers"]

DATA_OPTIONS = ("task", "data_dir", "scale", "seed")  # the core settings that name the data


def _data_settings(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with the data settings resolved as every chapter resolves them (:class:`Settings`)."""
    settings = Settings.from_args(args)
    return argparse.Namespace(**{**vars(args), **{name: getattr(settings, name) for name in DATA_OPTIONS}})


class _Formatter(argparse.HelpFormatter):
    """Help that shows each option's default where its text does not already say it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.option_strings and not action.required and "default" not in text and "%(default)" not in text
                and action.default not in (None, False, argparse.SUPPRESS)):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistake reported on one line (``lampkit feedback: error: ...``), exit status 2,
    and every option's default in its help."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D102 (argparse's hook)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parse_shard(text: str) -> tuple[int, int]:
    """``START:STOP`` (inputs START..STOP-1 of each split), with 0 <= START < STOP."""
    start, colon, stop = text.partition(":")
    try:
        start_i, stop_i = int(start), int(stop)
    except ValueError:
        start_i = stop_i = None
    if not colon or start_i is None or not 0 <= start_i < stop_i:
        raise argparse.ArgumentTypeError(f"--shard takes START:STOP with 0 <= START < STOP (e.g. 0:100), got {text!r}")
    return start_i, stop_i


def parse_retrievers(text: str) -> tuple[str, ...] | None:
    """Comma-separated names of the baseline pool (``all``: every one, returned as None); names are
    case-sensitive and an unknown one is an error listing the choices."""
    if text == "all":
        return None
    names = tuple(n.strip() for n in text.split(","))
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown retriever(s) {', '.join(map(repr, unknown))}; "
                                         f"choose from {', '.join(BASELINES)} or all")
    return tuple(dict.fromkeys(names))


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
    if args.retrievers is not None:
        pool = [r for r in pool if r.name in args.retrievers]
    for t in ctx.tasks:
        examples = ctx.examples(t, args.split)
        if args.shard is not None:
            start, stop = args.shard
            if start >= len(examples):
                raise ConfigError(f"--shard {start}:{stop} starts past the {len(examples)} {t.name} {args.split} inputs")
            examples = examples[start:stop]
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
    parser = _Parser(prog="lampkit", description=__doc__)
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (also LAMPKIT_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write the embedded mini-LaMP benchmark in the official layout")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    Settings.add_arguments(p, only=("task", "scale", "seed"))
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("validate", help="check a folder of LaMP files (layout, fields, ids, dates)")
    p.add_argument("data_dir", type=Path, help="folder of LaMP files (the official layout)")
    p.add_argument("--task", default="all", help="comma-separated task names (lamp1..lamp7), or all")
    p.add_argument("--scheme", default="time", choices=["time", "user"], help="the benchmark's split scheme")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("evaluate", help="official metrics of predictions against golds, as JSON")
    p.add_argument("--task", required=True, help="the task the outputs belong to (lamp1..lamp7)")
    p.add_argument("--golds", required=True, type=Path, help="outputs file with the gold outputs")
    p.add_argument("--preds", required=True, type=Path, help="predictions in the same layout")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("stats", help="dataset statistics in the shape of the paper's Table 1")
    Settings.add_arguments(p, only=DATA_OPTIONS)
    p.add_argument("--scheme", default="time", choices=["time", "user"], help="the benchmark's split scheme")
    p.set_defaults(func=_cmd_stats)

    llm = sub.add_parser("llm", help="the frozen LLM").add_subparsers(dest="llm_command", required=True)
    p = llm.add_parser("train", help="train the embedded small T5 from scratch on mini-LaMP")
    p.add_argument("--out", required=True, type=Path, help="folder of the trained model (a card beside it)")
    Settings.add_arguments(p, only=DATA_OPTIONS)
    p.add_argument("--eval-seed", type=int, default=0, help="mini-LaMP seed of the dev sets in the model card")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the recipe's)")
    p.add_argument("--batch-size", type=int, default=None, help="training batch size (default: the recipe's)")
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
    p.add_argument("--retrievers", default=None, type=parse_retrievers, metavar="NAMES",
                   help=f"comma-separated names of the baseline pool ({', '.join(BASELINES)}), or all (default: all)")
    p.add_argument("--shard", default=None, type=parse_shard, metavar="START:STOP",
                   help="inputs START..STOP-1 of each split, 0 <= START < STOP, e.g. 0:100 (default: every input)")
    p.set_defaults(func=_cmd_feedback)

    p = sub.add_parser("merge", help="merge feedback store shards into one store")
    p.add_argument("shards", nargs="+", type=Path, help="feedback stores to merge (each must exist)")
    p.add_argument("--into", required=True, type=Path, help="the merged store (created or extended)")
    p.set_defaults(func=_cmd_merge)

    # the chapters' stages (02-06), each with the flags of its chapter's configurations, and long-form (07)
    from lampkit.cli.cache import add_cli as add_cache
    from lampkit.cli.longform import add_cli as add_longform
    from lampkit.cli.regression import add_cli as add_regression
    from lampkit.cli.stages import add_cli as add_stages

    add_stages(sub)
    add_longform(sub)
    add_regression(sub)  # the stages' tables at the tiny scale, stored and compared
    add_cache(sub)  # the artifact cache: info, clear
    return parser


# a mistake in what the user typed (exit status 2) or in the files they gave (exit status 1)
USAGE_ERRORS = (ConfigError,)
DATA_ERRORS = (LampDataError, FileNotFoundError, NotADirectoryError, IsADirectoryError, sqlite3.DatabaseError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a user's mistake is one line ``lampkit: error: ...`` (status 2 for usage, 1 for
    data), its traceback shown only with ``--debug`` or ``LAMPKIT_DEBUG=1``."""
    argv = list(argv) if argv is not None else sys.argv[1:]
    args = build_parser().parse_args(argv)
    args.argv = argv  # the command line as typed (a saved table's provenance names it)
    try:
        return int(args.func(args))
    except USAGE_ERRORS + DATA_ERRORS as err:
        if args.debug or os.environ.get("LAMPKIT_DEBUG") == "1":
            raise
        status = 2 if isinstance(err, USAGE_ERRORS) else 1
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"lampkit: error: {message} (--debug shows the traceback)", file=sys.stderr)
        return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
