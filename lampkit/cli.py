"""The ``lampkit`` command line: one subcommand per pipeline stage."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["main", "build_parser"]


def _cmd_synth(args: argparse.Namespace) -> int:
    from . import synth

    out = synth.write_mini_lamp(args.out, seed=args.seed, scale=args.scale, tasks=args.task)
    print(f"mini-LaMP (scale {args.scale}, seed {args.seed}) written to {out}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from .data import validate_dir

    report = validate_dir(args.data_dir, args.task, scheme=args.scheme)
    print(report.format())
    return 0 if report.ok else 1


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .data import LampDataError
    from .metrics import evaluate_files

    try:
        result = evaluate_files(args.task, args.golds, args.preds)
    except LampDataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    from .data import SPLITS, load_split
    from .datasets import resolve_data_dir
    from .stats import statistics_table
    from .tasks import resolve_tasks

    root = resolve_data_dir(args.data_dir, args.scale, args.seed)
    per_task = {}
    for t in resolve_tasks(args.task):
        per_task[t.name] = {s: load_split(root, t, s, scheme=args.scheme) for s in SPLITS}
    print(statistics_table(per_task).to_string(index=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lampkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write the embedded mini-LaMP benchmark in the official layout")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", default="default", choices=["tiny", "small", "default"])
    p.add_argument("--task", default="all", help="lamp1..lamp7, a comma-separated list, or all")
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
    p.add_argument("--data-dir", type=Path, default=None, help="real LaMP files (default: mini-LaMP)")
    p.add_argument("--scale", default="default", choices=["tiny", "small", "default"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--task", default="all")
    p.add_argument("--scheme", default="time", choices=["time", "user"])
    p.set_defaults(func=_cmd_stats)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
