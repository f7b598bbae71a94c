"""The stage subcommands (``baselines``, ``ropg``, ``rspg``, ``ablation``, ``table3``, ``claims``): one per chapter
(``claims`` shares chapter 06's parameters).

Each subcommand's flags come from the chapter's configurations (:mod:`lampkit.chapters`), so
``lampkit ropg --ropg-epochs 5`` and ``papermill book/03_ropg.ipynb out.ipynb -p ropg_epochs 5`` run
the same thing; each prints the tables its chapter shows (its results' ``to_text()``, see
:mod:`lampkit.store.report`) and, with ``--save DIR``, writes them as CSV with their provenance.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from lampkit import chapters

__all__ = ["add_cli", "COMMANDS", "NOT_PARAMETERS", "add_save_argument", "command_line", "report"]


def _baselines(run: chapters.ChapterRun):
    from lampkit.pipeline import run_baselines

    return run_baselines(run.context(), splits=(run.run.eval_split,))


def _ropg(run: chapters.ChapterRun):
    from lampkit.ropg.stage import run_ropg

    return run_ropg(run.context(), run.ropg, run.run.method_list, splits=(run.run.eval_split,))


def _ropg_after(results) -> None:
    for task, per in results.checkpoints.items():
        for name, folder in per.items():
            print(f"{task} {name}: {folder}")


def _rspg(run: chapters.ChapterRun):
    from lampkit.rspg.stage import run_rspg

    opts = run.run
    return run_rspg(run.context(), run.rspg, run.ropg, opts.eval_split, with_ropg=opts.with_ropg, modes=opts.modes)


def _ablation(run: chapters.ChapterRun):
    from lampkit.rspg.stage import run_ablation

    opts = run.run
    return run_ablation(run.context(), run.rspg, run.ropg, opts.eval_split, with_ropg=opts.with_ropg)


def _table3(run: chapters.ChapterRun):
    from lampkit.rspg.stage import run_table3

    split = run.run.eval_split
    print(f"Table 3 ({split} split; RRF fuses BM25, recency, dense, ROPG-RL and ROPG-KD; markers: significance "
          f"against the baselines at alpha {run.run.alpha:g}):")
    return run_table3(run.context(), run.rspg, run.ropg, split, alpha=run.run.alpha)


def _claims(run: chapters.ChapterRun):
    from lampkit.rspg.claims import run_claims

    return run_claims(run.context(), run.rspg, run.ropg, run.run.eval_split, alpha=run.run.alpha)


def _claims_after(results, args: argparse.Namespace) -> None:
    if args.json is not None:
        print(f"claims written to {results.to_json(args.json)}")


def _json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the claims as a JSON list of records (task, claim, statement, holds, "
                             "significant, paper_holds, numbers, p_values)")


COMMANDS: dict[str, tuple[str, Any, str]] = {  # command -> (chapter, function, help)
    "baselines": ("02_retrieval", _baselines, "the baseline pool on every task: metrics and the retrieval-matters "
                                              "checks (chapter 02)"),
    "ropg": ("03_ropg", _ropg, "train ROPG-RL/KD from the frozen LLM's feedback; compare with the initial dense "
                               "retriever (chapter 03)"),
    "rspg": ("04_selection", _rspg, "retriever selection: RSPG, QPP baselines, success rates, oracle bounds "
                                    "(chapter 04)"),
    "ablation": ("05_oracle", _ablation, "Table 5: oracle bounds of the pool with and without ROPG (chapter 05)"),
    "table3": ("06_results", _table3, "Table 3: every method on every task with significance markers (chapter 06)"),
    "claims": ("06_results", _claims, "what reproduces: each of the paper's claims per task, with this build's "
                                      "numbers, p-values and verdict beside the paper's (chapter 06)"),
}


# what a command does after printing its tables (ropg: the checkpoint folders; claims: --json)
AFTER = {"ropg": lambda results, args: _ropg_after(results), "claims": _claims_after}
EXTRA_ARGUMENTS = {"claims": _json_argument}  # flags beyond the chapter's parameters and --save
NOT_PARAMETERS = frozenset({"save", "json"})  # flags of the stage subcommands that are no chapter parameter


def add_save_argument(parser: argparse.ArgumentParser) -> None:
    """``--save DIR``: the printed tables as CSV files in DIR, with ``provenance.json``."""
    parser.add_argument("--save", type=Path, default=None, metavar="DIR",
                        help="also write each table as DIR/<table>.csv, with DIR/provenance.json (the command, "
                             "lampkit's version, the code's fingerprint, the settings)")


def command_line(args: argparse.Namespace) -> str:
    """The command that ran, as typed (``lampkit`` and its arguments)."""
    argv = getattr(args, "argv", None)
    return " ".join(["lampkit", *(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))])


def report(results: Any, args: argparse.Namespace, settings: Any) -> None:
    """Print ``results``' tables (:meth:`~lampkit.store.report.Report.to_text`); save them with ``--save``."""
    print(results.to_text())
    if getattr(args, "save", None) is not None:
        folder = results.save(args.save, command=command_line(args), settings=settings)
        print(f"tables written to {folder}")


def add_cli(sub: Any) -> None:
    """Add the stage subcommands to argparse's subparsers ``sub``."""
    for command, (chapter, _, help_text) in COMMANDS.items():
        p = sub.add_parser(command, help=help_text, description=help_text)
        chapters.add_arguments(p, chapter)
        add_save_argument(p)
        if command in EXTRA_ARGUMENTS:
            EXTRA_ARGUMENTS[command](p)
        p.set_defaults(func=_runner(command))


def _runner(command: str):
    chapter, function, _ = COMMANDS[command]

    def run(args: argparse.Namespace) -> int:
        chapter_run = chapters.from_args(chapter, args).resolved(say=lambda line: print(line, file=sys.stderr))
        results = function(chapter_run)
        report(results, args, {"preset": chapter_run.preset,
                               **{cls.__name__: config for cls, config in chapter_run.configs.items()}})
        if command in AFTER:
            AFTER[command](results, args)
        return 0

    run.__name__ = f"cmd_{command}"
    return run
