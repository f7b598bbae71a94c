"""``lampkit longform``: the command line of :mod:`lampkit.longform.experiment` (loaded when a command runs)."""

from __future__ import annotations

from typing import Any
from pathlib import Path
import dataclasses

from lampkit.cli.stages import add_save_argument, report
from lampkit.longform import synth
from lampkit.longform.config import EMBEDDED_SEEDS, LongformSettings
from lampkit.store.io import atomic_write_json


def _cmd_synth(args: Any) -> int:
    paths = synth.write_longform(args.out, seed=args.seed, scale=args.scale)
    print(f"long-form data (scale {args.scale}, seed {args.seed}) written to {paths[0].parent}")
    return 0


def _cmd_run(args: Any) -> int:
    from lampkit.longform.experiment import run  # torch: loaded when the command runs, not for --help

    settings = LongformSettings.from_args(args).with_(show_progress=False)
    results = run(settings)
    print(f"{settings.eval_split} split:")
    report(results, args, {"LongformSettings": settings})
    if args.out:
        atomic_write_json(args.out, {"settings": {k: str(v) for k, v in dataclasses.asdict(settings).items()},
                                     "metrics": {n: {m: float(v) for m, v in row.items()}
                                                 for n, row in results.metrics.iterrows()}}, indent=1)
        print(f"metrics written to {args.out}")
    return 0


def _cmd_train_base(args: Any) -> int:
    from lampkit.longform.experiment import pretrain_base, synthetic_base_corpus

    settings = LongformSettings(base_steps=args.steps, threads=args.threads, base_seeds=EMBEDDED_SEEDS)
    examples, texts, fingerprint = synthetic_base_corpus(EMBEDDED_SEEDS, "default", settings.base_targets)
    source = (f"the embedded long-form data, scale default, seeds {list(EMBEDDED_SEEDS)}, "
              f"{settings.base_targets} current documents per author; command: lampkit longform train-base "
              f"--steps {args.steps} --threads {args.threads}")
    out = pretrain_base(args.out, examples, texts, settings.base, source, fingerprint, log=print)
    print(f"base generator written to {out}")
    return 0


NOT_PARAMETERS = frozenset({"out", "save"})  # flags of ``longform run`` that are no chapter parameter


def add_cli(sub: Any) -> None:
    """``lampkit longform synth`` and ``lampkit longform run`` on argparse's subparsers ``sub``."""
    longform = sub.add_parser("longform", help="long-form personalized writing (Li et al. 2023, chapter 07)")
    lsub = longform.add_subparsers(dest="longform_command", required=True)
    p = lsub.add_parser("synth", help="write the embedded long-form data as {out}/longform/{split}.jsonl")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--seed", type=int, default=0, help="seed of the long-form data")
    p.add_argument("--scale", default="default", choices=list(synth.SCALES), help="size of the long-form data")
    p.set_defaults(func=_cmd_synth)
    p = lsub.add_parser("run", help="rankers and ablations of the multistage pipeline; prints both tables "
                        "(the flags are chapter 07's parameters)")
    LongformSettings.add_arguments(p)
    p.add_argument("--out", type=Path, default=None, help="write the metrics as JSON here")
    add_save_argument(p)
    p.set_defaults(func=_cmd_run)
    p = lsub.add_parser("train-base", help="pre-train the base generator (the one lampkit ships: --out "
                        "lampkit/longform/base)")
    p.add_argument("--out", required=True, type=Path, help="folder of the trained base generator")
    p.add_argument("--steps", type=int, default=LongformSettings.base_steps, help="pre-training steps")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.set_defaults(func=_cmd_train_base)
