"""RSPG end to end: which retriever of the pool to trust for each input (paper section 5, Tables 4 and 5).

For every task of the run context and one pool of retrievers (:func:`~lampkit.rspg.selection.selection_pool`; the ablation
without ROPG is the same code with a smaller pool), :func:`run_rspg` runs
:func:`lampkit.rspg.selection.run_selection` (pool feedback, the selectors, the QPP baselines, every
method's choice per input) and returns :class:`RspgResults`, whose tables :mod:`lampkit.rspg.report`
writes; :func:`run_ablation` does it for both pools (Table 5) and :func:`run_table3` assembles
Table 3. The names of :mod:`lampkit.rspg.selection` are importable from here too.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from lampkit.data.layout import Example
from lampkit.store.report import TablesReport
from lampkit.pipeline import Context, Settings, context, run_pool
from lampkit.retrievers import RRF
from lampkit.ropg.stage import RopgSetup
from lampkit.tasks import Task
from lampkit.analysis.winning import differing_share, winning_rates
from lampkit.rspg.selection import (MODES, ORACLES, POOL, POOL_LABELS, QPP_METHODS, SELECTORS, TABLE4_COLUMNS,
                                    RspgConfig, Selection, fit_selector, qpp_selections, run_selection, selection_pool,
                                    selector_data, selector_parts, selector_texts)

__all__ = ["POOL", "POOL_LABELS", "ORACLES", "selection_pool", "MODES", "QPP_METHODS", "SELECTORS", "TABLE4_COLUMNS", "RspgConfig", "Selection",
           "selector_texts", "selector_parts", "selector_data", "fit_selector", "qpp_selections", "run_selection",
           "RspgResults", "AblationResults", "run_rspg", "run_ablation", "rrf_over_pool", "run_table3"]


class RspgResults(dict, TablesReport):
    """Chapter 04's results: task -> :class:`~lampkit.rspg.selection.Selection` (a dict), with the split, the selectors' modes
    and the pool (``full`` or ``no-ropg``).

    Its tables (:class:`~lampkit.store.report.Report`, built by :mod:`lampkit.rspg.report`):
    ``table4`` (success rates of the modes run), ``table4_significance`` (each selector against the best
    QPP baseline), ``coverage`` (inputs whole in the selector's window), ``winning_rates`` and
    ``differing`` (Figure 3 over the pool, :meth:`winning_rates`), ``end_to_end`` (metrics of the chosen outputs),
    ``table5`` (oracle bounds of the pool) and ``selector_loss`` (the selectors' training loss).
    """

    MODULES = ("lampkit.rspg.stage", "lampkit.rspg.report")

    def __init__(self, selections: Mapping[str, Selection] = (), split: str = "test",
                 modes: Sequence[str] = MODES, pool: str = "full") -> None:
        super().__init__(selections)
        self.split, self.modes, self.pool = split, tuple(modes), pool

    def winning_rates(self) -> pd.DataFrame:
        """Figure 3 over this pool (the paper's: none, recency, BM25, dense, ROPG-RL, ROPG-KD when
        ``pool`` is ``full``), from the pool's feedback on the evaluation split: per task and
        retriever, wins, win share and relative winning rate (:func:`~lampkit.analysis.winning.winning_rates`)."""
        frames = [winning_rates(sel.feedback, task, sel.pool).assign(task=task) for task, sel in self.items()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["retriever", "wins", "win_share", "relative_rate", "task"])

    def differing(self) -> pd.DataFrame:
        """Per task, the share of inputs on which the pool's retrievers do not all score the same
        (:func:`~lampkit.analysis.winning.differing_share`)."""
        return pd.DataFrame({"differing_share": {task: differing_share(sel.feedback, task, sel.pool)
                                                 for task, sel in self.items()}}).rename_axis("task")

    def tables(self) -> dict[str, pd.DataFrame]:
        from lampkit.rspg.report import coverage_table, end_to_end, loss_table, table4, table4_significance, table5

        keep = [c for c in TABLE4_COLUMNS if not c.startswith("rspg_") or c.removeprefix("rspg_") in self.modes]
        return {"table4": table4(self)[[*keep, "best_single", "best_single_rate", "oracle"]],
                "table4_significance": table4_significance(self),
                "end_to_end": end_to_end(self), "table5": table5({self.pool: self}),
                "selector_loss": loss_table(self), "coverage": coverage_table(self),
                "winning_rates": self.winning_rates(), "differing": self.differing()}

    def titles(self) -> dict[str, str]:
        return {"table4": f"Success rate ({self.split} split; a choice succeeds when tied for best)",
                "table4_significance": "Each selector against the best QPP baseline (McNemar on per-input success)",
                "end_to_end": "End-to-end metrics", "table5": "Oracle bounds of the pool (main metric)",
                "selector_loss": "Selectors' training loss (first and last epoch)",
                "coverage": "Share of evaluation inputs whole inside each selector's window",
                "winning_rates": f"Winning rates over the {self.pool} pool (Figure 3)",
                "differing": "Share of inputs on which the pool's retrievers differ"}


class AblationResults(dict, TablesReport):
    """Chapter 05's results: pool (``full``, ``no-ropg``) -> :class:`RspgResults` (a dict).

    Its tables: ``table5`` (oracle bounds, and RSPG of each pool), ``bounds`` (the bound checks) and,
    with both pools, ``table5_significance`` (each selector with against without ROPG).
    """

    MODULES = ("lampkit.rspg.stage", "lampkit.rspg.report")

    def __init__(self, pools: Mapping[str, Mapping[str, Selection]] = (), split: str = "test") -> None:
        super().__init__(pools)
        self.split = split

    def tables(self) -> dict[str, pd.DataFrame]:
        from lampkit.rspg.report import bound_checks, table5, table5_significance

        out = {"table5": table5(self), "bounds": bound_checks(self)}
        if {"full", "no-ropg"} <= set(self):
            out["table5_significance"] = table5_significance(self)
        return out

    def titles(self) -> dict[str, str]:
        return {"table5": f"Table 5 ({self.split} split, main metric)", "bounds": "Bounds",
                "table5_significance": "Each selector with and without ROPG in its pool (both metrics)"}

    def notes(self) -> list[str]:
        from lampkit.rspg.report import ablation_summary, table5

        return [ablation_summary(table5(self))]


def run_rspg(ctx: Context | Settings, config: RspgConfig, ropg: RopgSetup, eval_split: str = "test",
             with_ropg: bool = True, modes: Sequence[str] = MODES) -> RspgResults:
    """:func:`~lampkit.rspg.selection.run_selection` on every task of the context with the RSPG pool (task -> selection).

    ``ropg`` is the setup of the pool's ROPG retrievers (chapter 03's), used when ``with_ropg``.
    """
    ctx = context(ctx)
    return RspgResults({t.name: run_selection(ctx, t, selection_pool(ctx, t, ropg, with_ropg), config, eval_split,
                                              modes) for t in ctx.tasks},
                       eval_split, modes, "full" if with_ropg else "no-ropg")


def run_ablation(ctx: Context | Settings, config: RspgConfig, ropg: RopgSetup, eval_split: str = "test",
                 with_ropg: bool = True) -> AblationResults:
    """Pool (``full``, ``no-ropg``) -> task -> selection; without ROPG only the ``no-ropg`` pool exists."""
    ctx = context(ctx)
    pools = (True, False) if with_ropg else (False,)
    return AblationResults({("full" if with_pool else "no-ropg"): run_rspg(ctx, config, ropg, eval_split, with_pool)
                            for with_pool in pools}, eval_split)


# ----- Table 3 ------------------------------------------------------------------------------
def rrf_over_pool(ctx: Context | Settings, task: str | Task, ropg: RopgSetup, split: str,
                  examples: Sequence[Example] | None = None) -> pd.DataFrame:
    """Pool feedback of RRF over every retriever of the selection pool but no personalization
    (BM25, recency, dense, ROPG-RL, ROPG-KD), as the paper's Table 3 fuses all its retrievers.

    Chapter 02's RRF fuses the three retrievers that exist before ROPG trains (BM25, recency,
    dense); this one, named ``rrf`` too, has its own cache key (its members' configurations).
    """
    ctx = context(ctx)
    members = [r for r in selection_pool(ctx, task, ropg, with_ropg=True) if r.name != "none"]
    return run_pool(ctx, task, split, [RRF(members)], examples)


def run_table3(ctx: Context | Settings, config: RspgConfig, ropg: RopgSetup, split: str = "test",
               alpha: float = 0.05, selections: Mapping[str, Selection] | None = None):
    """Table 3 (:class:`~lampkit.analysis.table3.Table3`) on every task of the context: the baselines
    (:func:`~lampkit.pipeline.run_baselines`, their RRF replaced by :func:`rrf_over_pool`), ROPG and
    RSPG (:func:`run_rspg` on the full pool, or the given ``selections`` of it), markers at ``alpha``."""
    from lampkit.analysis.table3 import collect_predictions, table3
    from lampkit.pipeline import run_baselines

    ctx = context(ctx)
    baselines = run_baselines(ctx, splits=(split,))
    if selections is None:
        selections = run_rspg(ctx, config, ropg, split, with_ropg=True)
    examples = {t: per[split] for t, per in baselines.examples.items()}
    fused = {t.name: rrf_over_pool(ctx, t, ropg, split, examples[t.name]) for t in ctx.tasks}
    predictions, golds = collect_predictions({t: per[split] for t, per in baselines.feedback.items()}, selections,
                                             examples, rrf_feedback=fused)
    return table3(predictions, golds, alpha=alpha)
