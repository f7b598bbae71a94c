"""The stage subcommands (``baselines``, ``ropg``, ``rspg``, ``ablation``, ``table3``): one per chapter.

Each subcommand's flags come from the chapter's configurations (:mod:`lampkit.chapters`), so
``lampkit ropg --ropg-epochs 5`` and ``papermill book/03_ropg.ipynb out.ipynb -p ropg_epochs 5`` run
the same thing; each prints the tables its chapter shows.
"""

from __future__ import annotations

import argparse
from typing import Any

from lampkit import chapters

__all__ = ["add_cli", "COMMANDS"]


def _baselines(run: chapters.ChapterRun) -> int:
    from lampkit.pipeline import run_baselines

    split = run.run.eval_split
    results = run_baselines(run.context(), splits=(split,))
    for task, per in results.metrics.items():
        print(f"{task} ({split} split):\n{per[split].round(4).to_string()}\n")
    print(results.retrieval_matters(split).round(4).to_string(index=False))
    return 0


def _ropg(run: chapters.ChapterRun) -> int:
    from lampkit.ropg.stage import improvement_summary, run_ropg

    split = run.run.eval_split
    results = run_ropg(run.context(), run.ropg, run.run.method_list, splits=(split,))
    print(results.signal.round(4).to_string())
    table = results.comparison(split)
    print(table.round(4).to_string())
    print(improvement_summary(table, results.methods, split))
    for task, per in results.checkpoints.items():
        for name, folder in per.items():
            print(f"{task} {name}: {folder}")
    return 0


def _rspg(run: chapters.ChapterRun) -> int:
    from lampkit.rspg.report import end_to_end, table4, table5
    from lampkit.rspg.stage import TABLE4_COLUMNS, run_rspg

    opts = run.run
    results = run_rspg(run.context(), run.rspg, run.ropg, opts.eval_split, with_ropg=opts.with_ropg,
                       modes=opts.modes)
    keep = [c for c in TABLE4_COLUMNS if not c.startswith("rspg_") or c.removeprefix("rspg_") in opts.modes]
    print(f"Success rate ({opts.eval_split} split; a choice succeeds when tied for best):")
    print(table4(results)[[*keep, "best_single", "best_single_rate", "oracle"]].round(4).to_string())
    print("\nEnd-to-end metrics:")
    print(end_to_end(results).round(4).to_string())
    print("\nOracle bounds of the pool (main metric):")
    print(table5({"full" if opts.with_ropg else "no-ropg": results}).round(4).to_string())
    return 0


def _ablation(run: chapters.ChapterRun) -> int:
    from lampkit.rspg.report import bound_checks, table5
    from lampkit.rspg.stage import run_ablation

    opts = run.run
    results = run_ablation(run.context(), run.rspg, run.ropg, opts.eval_split, with_ropg=opts.with_ropg)
    print(f"Table 5 ({opts.eval_split} split, main metric):")
    print(table5(results).round(4).to_string())
    print("\nBounds:")
    print(bound_checks(results).to_string())
    return 0


def _table3(run: chapters.ChapterRun) -> int:
    from lampkit.analysis.table3 import collect_predictions, table3
    from lampkit.pipeline import run_baselines
    from lampkit.rspg.stage import run_rspg

    split = run.run.eval_split
    ctx = run.context()
    baselines = run_baselines(ctx, splits=(split,))
    selections = run_rspg(ctx, run.rspg, run.ropg, split, with_ropg=True)
    predictions, golds = collect_predictions({t: per[split] for t, per in baselines.feedback.items()}, selections,
                                             {t: per[split] for t, per in baselines.examples.items()})
    table = table3(predictions, golds, alpha=run.run.alpha)
    print(f"Table 3 ({split} split; markers: significance against the baselines at alpha {run.run.alpha:g}):")
    print(table.values.round(4).to_string())
    return 0


COMMANDS: dict[str, tuple[str, Any, str]] = {  # command -> (chapter, function, help)
    "baselines": ("02_retrieval", _baselines, "the baseline pool on every task: metrics and the retrieval-matters "
                                              "checks (chapter 02)"),
    "ropg": ("03_ropg", _ropg, "train ROPG-RL/KD from the frozen LLM's feedback; compare with the initial dense "
                               "retriever (chapter 03)"),
    "rspg": ("04_selection", _rspg, "retriever selection: RSPG, QPP baselines, success rates, oracle bounds "
                                    "(chapter 04)"),
    "ablation": ("05_oracle", _ablation, "Table 5: oracle bounds of the pool with and without ROPG (chapter 05)"),
    "table3": ("06_results", _table3, "Table 3: every method on every task with significance markers (chapter 06)"),
}


def add_cli(sub: Any) -> None:
    """Add the stage subcommands to argparse's subparsers ``sub``."""
    for command, (chapter, _, help_text) in COMMANDS.items():
        p = sub.add_parser(command, help=help_text, description=help_text)
        chapters.add_arguments(p, chapter)
        p.set_defaults(func=_runner(command))


def _runner(command: str):
    chapter, function, _ = COMMANDS[command]

    def run(args: argparse.Namespace) -> int:
        return function(chapters.from_args(chapter, args))

    run.__name__ = f"cmd_{command}"
    return run
