"""``lampkit ropg``: the command line of :mod:`lampkit.ropg.stage`."""

from __future__ import annotations

from typing import Any
from pathlib import Path
import argparse

from lampkit.cli.core import _add_core
from lampkit.ropg.stage import BOOK_CONFIG, BOOK_TRAIN_INPUTS, Settings, checkpoints, improvement_summary, run_ropg


def _int_or_all(value: str) -> int | None:
    return None if value == "all" else int(value)


def add_cli(sub: Any) -> None:
    """Add ``lampkit ropg`` to an argparse subparsers object."""
    p = sub.add_parser("ropg", help="train ROPG-RL/KD from the frozen LLM's feedback; compare with the initial "
                                    "dense retriever")
    _add_core(p)
    p.add_argument("--method", default="both", choices=["rl", "kd", "both"])
    p.add_argument("--split", default="dev", choices=["dev", "test"], help="split of the comparison")
    p.add_argument("--llm", default=None, help="HF seq2seq name or folder (default: the embedded small T5)")
    p.add_argument("--encoder", default=None, help="initial encoder (default: the embedded MiniLM)")
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--beams", type=int, default=4)
    p.add_argument("--store", type=Path, default=None, help="feedback store file (default: in the cache)")
    p.add_argument("--train-inputs", type=_int_or_all, default=BOOK_TRAIN_INPUTS,
                   help="first N inputs of the train split, or 'all' (default: the book's)")
    p.add_argument("--epochs", type=int, default=BOOK_CONFIG.epochs)
    p.add_argument("--train-layers", type=_int_or_all, default=BOOK_CONFIG.train_layers,
                   help="top transformer layers trained, or 'all' (the paper's setting)")
    p.add_argument("--lr", type=float, default=BOOK_CONFIG.lr)
    p.add_argument("--batch-size", type=int, default=BOOK_CONFIG.batch_size, help="inputs per optimizer step")
    p.add_argument("--train-seed", type=int, default=BOOK_CONFIG.seed)
    p.set_defaults(func=cmd_ropg)


def cmd_ropg(args: argparse.Namespace) -> int:
    """``lampkit ropg``: train, evaluate, print the comparison and the checkpoints' folders."""
    methods = ("rl", "kd") if args.method == "both" else (args.method,)
    overrides = {"train_inputs": args.train_inputs, "epochs": args.epochs, "train_layers": args.train_layers,
                 "lr": args.lr, "batch_size": args.batch_size, "seed": args.train_seed}
    settings = Settings(task=args.task, data_dir=str(args.data_dir) if args.data_dir else None, scale=args.scale,
                        seed=args.seed, llm=args.llm, encoder=args.encoder, k=args.k, beams=args.beams,
                        store=str(args.store) if args.store else None, extra={"ropg": overrides})
    results = run_ropg(settings, methods, splits=(args.split,))
    print(results.signal.round(4).to_string())
    table = results.comparison(args.split)
    print(table.round(4).to_string())
    print(improvement_summary(table, results.methods, args.split))
    for task, per in results.checkpoints.items():
        for name, folder in per.items():
            print(f"{task} {name}: {folder}")
    return 0
