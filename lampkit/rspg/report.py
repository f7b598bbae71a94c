"""RSPG's tables: success rates (Table 4), end-to-end metrics, oracle bounds and the ablation (Table 5).

Each function reads the per-method :class:`~lampkit.rspg.selection.Selection` of
:func:`lampkit.rspg.stage.run_rspg` (or, for Table 5, one mapping of them per pool from
:func:`lampkit.rspg.stage.run_ablation`) and returns a DataFrame or a sentence written from the
numbers; the paper's values (section 6, Tables 4 and 5) appear only in columns labelled as the paper's.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from lampkit.analysis.paper import paper_table
from lampkit.metrics.significance import mcnemar_test, p_value
from lampkit.analysis.tables import PAPER_COLUMN, results_table, side_by_side, with_paper
from lampkit.rspg.selection import POOL_LABELS, QPP_METHODS, SELECTORS, TABLE4_COLUMNS, RspgConfig, Selection
from lampkit.tasks import direction, get_task

__all__ = ["coverage_table", "coverage_text", "table4", "table4_significance", "table5_significance", "table4_with_paper", "end_to_end", "end_to_end_with_paper", "comparison", "selection_summary", "loss_table", "config_summary", "table5", "table5_paper", "table5_with_paper", "oracle_share", "oracle_gap", "oracle_gap_summary", "ablation_summary", "bound_checks"]


# ----- Table 4 and the end-to-end metrics ------------------------------------------------------
def _column(method: str) -> str:
    return method.replace("-", "_")


def table4(results: Mapping[str, Selection]) -> pd.DataFrame:
    """Success rate per task (rows) of each QPP baseline and selector, the best single retriever and the oracle."""
    rows = []
    for task, sel in results.items():
        rates = sel.success_rates()
        best = sel.best_single()
        rows.append({"task": task, **{c: rates.get(m, math.nan) for m, c in zip((*QPP_METHODS, *SELECTORS),
                                                                               TABLE4_COLUMNS)},
                     "best_single": best, "best_single_rate": rates[best], "oracle": rates["oracle-upper"]})
    return pd.DataFrame(rows).set_index("task")


def table4_significance(results: Mapping[str, Selection], alpha: float = 0.05) -> pd.DataFrame:
    """Per task and selector: its success rate against the best QPP baseline's, with McNemar's test on
    the per-input successes (the paper's Table 4 claims the selectors beat the QPP baselines).

    The best QPP baseline is the one with the highest success rate on that task (ties: the first of
    WIG, NQC, sigma_max, sigma_x); ``beats`` holds when the selector's rate is higher and p < ``alpha``.
    """
    rows = []
    for task, sel in results.items():
        rates = sel.success_rates()
        qpp = [m for m in QPP_METHODS if m in sel.choices]
        selectors = [m for m in SELECTORS if m in sel.choices]
        if not qpp or not selectors:
            continue
        best = max(qpp, key=lambda m: rates[m])
        for m in selectors:
            p = mcnemar_test(sel.successes(m), sel.successes(best))
            rows.append({"task": task, "selector": m, "success": rates[m], "best_qpp": best,
                         "best_qpp_success": rates[best], "p": p,
                         "beats": bool(rates[m] > rates[best] and p < alpha)})
    columns = ["task", "selector", "success", "best_qpp", "best_qpp_success", "p", "beats"]
    return pd.DataFrame(rows, columns=columns).set_index(["task", "selector"])


def table5_significance(results: Mapping[str, Mapping[str, Selection]], alpha: float = 0.05) -> pd.DataFrame:
    """Both metrics of every task, each selector with and without ROPG in its pool, with the metric's
    test (McNemar for accuracy and F1, paired t-test otherwise) between the two on the same inputs.

    ``lower_without`` holds when removing ROPG makes the selector worse in the metric's direction
    and p < ``alpha`` (the paper's Table 5 claim). Needs both pools (:func:`lampkit.rspg.stage.run_ablation`).
    """
    if not {"full", "no-ropg"} <= set(results):
        raise ValueError(f"the ablation needs the pools 'full' and 'no-ropg', got {sorted(results)}")
    rows = []
    for task, full in results["full"].items():
        without = results["no-ropg"][task]
        if [str(e.id) for e in full.examples] != [str(e.id) for e in without.examples]:
            raise ValueError(f"{task}: the two pools were evaluated on different inputs")
        t = get_task(task)
        full_metrics, without_metrics = full.metrics(), without.metrics()  # each aggregates every method once
        for metric in t.metrics:
            higher = t.metric_higher_is_better(metric)
            for m in SELECTORS:
                if m not in full.choices or m not in without.choices:
                    continue
                with_value = float(full_metrics.loc[m, metric])
                without_value = float(without_metrics.loc[m, metric])
                p = p_value(full.per_example(m), without.per_example(m), metric)
                worse = without_value < with_value if higher else without_value > with_value
                rows.append({"task": task, "metric": metric, "selector": m, "with_ropg": with_value,
                             "without_ropg": without_value, "p": p, "lower_without": bool(worse and p < alpha)})
    columns = ["task", "metric", "selector", "with_ropg", "without_ropg", "p", "lower_without"]
    return pd.DataFrame(rows, columns=columns).set_index(["task", "metric", "selector"])


def table4_with_paper(results: Mapping[str, Selection], ours_label: str = "this build",
                      paper_label: str = "paper") -> pd.DataFrame:
    """Table 4 beside the paper's, then this build's best single retriever (name and rate)."""
    ours = table4(results)
    out = side_by_side(ours.reset_index(), paper_table("table4"), "task", list(TABLE4_COLUMNS), ours_label,
                       paper_label)
    out[("best single retriever", ours_label)] = ours["best_single"]
    out[("best single rate", ours_label)] = ours["best_single_rate"]
    return out


def end_to_end(results: Mapping[str, Selection]) -> pd.DataFrame:
    """Rows (task, metric), columns every retriever of the pools then every method (Table 3's shape)."""
    methods: list[str] = []
    for sel in results.values():
        methods += [m for m in (*sel.pool, *QPP_METHODS, *SELECTORS) if m in sel.pool or m in sel.choices]
    return results_table({task: sel.metrics() for task, sel in results.items()}, list(dict.fromkeys(methods)))


def end_to_end_with_paper(results: Mapping[str, Selection], ours_label: str = "this build",
                          paper_label: str = "paper") -> pd.DataFrame:
    """:func:`end_to_end` with the paper's Table 3 column beside each method it reports (not QPP)."""
    ours = end_to_end(results)
    reported = [m for m in ours.columns if m in PAPER_COLUMN]
    paired = with_paper(ours, paper_table("table3"), reported, ours_label, paper_label)
    cols = {}
    for m in ours.columns:
        cols[(m, ours_label)] = ours[m]
        if m in reported:
            cols[(m, paper_label)] = paired[(m, paper_label)]
    return pd.DataFrame(cols)


def comparison(results: Mapping[str, Selection]) -> pd.DataFrame:
    """Per task, success rate (``_rate``) and main metric (``_value``) of the selectors, the best QPP
    baseline (by success rate), the best single retriever and the oracle; ``rspg_beats_qpp`` when
    a selector's success rate exceeds the best QPP's, ``rspg_beats_single`` when a selector's
    main metric is better than the best single retriever's."""
    rows = []
    for task, sel in results.items():
        rates, metrics = sel.success_rates(), sel.metrics()
        main = get_task(task).main_metric
        sign = direction(sel.higher_is_better)
        qpp = max(QPP_METHODS, key=lambda m: rates[m])
        picks = {"best_qpp": qpp, "best_single": sel.best_single(), "oracle": "oracle-upper",
                 **{_column(m): m for m in SELECTORS if m in rates}}
        row = {"task": task, "metric": main, "best_qpp": qpp, "best_single": sel.best_single()}
        for label, method in picks.items():
            row[f"{label}_rate"] = rates[method]
            row[f"{label}_value"] = float(metrics.loc[method, main])
        found = [_column(m) for m in SELECTORS if m in rates]
        row["rspg_beats_qpp"] = bool(found) and max(row[f"{c}_rate"] for c in found) > row["best_qpp_rate"]
        row["rspg_beats_single"] = bool(found) and max(sign * row[f"{c}_value"] for c in found) > \
            sign * row["best_single_value"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("task")


def selection_summary(results: Mapping[str, Selection]) -> str:
    """A sentence per task on how the selectors fare against the QPP baselines and the best single retriever."""
    lines = []
    for task, row in comparison(results).iterrows():
        found = [m for m in SELECTORS if f"{_column(m)}_rate" in row and not pd.isna(row[f"{_column(m)}_rate"])]
        rates = ", ".join(f"{m.upper()} {100 * row[f'{_column(m)}_rate']:.1f}%" for m in found)
        values = ", ".join(f"{m.upper()} {row[f'{_column(m)}_value']:.3f}" for m in found)
        lines.append(
            f"- **{task}**: success rate {rates}; best QPP baseline ({row['best_qpp']}) "
            f"{100 * row['best_qpp_rate']:.1f}%; always {row['best_single']} (the best single retriever) "
            f"{100 * row['best_single_rate']:.1f}%. End to end ({row['metric']}): {values}; {row['best_qpp']} "
            f"{row['best_qpp_value']:.3f}; {row['best_single']} {row['best_single_value']:.3f}; oracle "
            f"{row['oracle_value']:.3f}.")
    return "\n".join(lines)


def coverage_table(results: Mapping[str, Selection]) -> pd.DataFrame:
    """Per task (rows) and selector (columns): the share of evaluation texts whose whole input lies
    inside the selector's window (:attr:`lampkit.rspg.selection.Selection.coverage`: for the linear head
    :func:`lampkit.rspg.texts.input_coverage`, for the interaction head, which embeds the input
    alone, :func:`lampkit.rspg.texts.input_fits`)."""
    return pd.DataFrame({task: {f"rspg_{mode}": value for mode, value in sel.coverage.items()}
                         for task, sel in results.items()}).T


def coverage_text(results: Mapping[str, Selection]) -> str:
    """The range of :func:`coverage_table` in words, e.g. ``100% on every task, for every selector``."""
    values = coverage_table(results).to_numpy().ravel()
    values = values[~pd.isna(values)]
    if values.size == 0:
        return "no selector was trained"
    low, high = float(values.min()), float(values.max())
    if low == high:
        return f"{low:.0%} on every task, for every selector"
    return f"between {low:.0%} and {high:.0%} (per task and selector)"


def loss_table(results: Mapping[str, Selection]) -> pd.DataFrame:
    """Per task and mode: the epochs the selector trained, its mean training loss (KL) at the first
    and the last of them and, with a dev set, the dev loss at the first epoch, its lowest, and the
    epoch of the lowest (the weights kept)."""
    rows = []
    for task, sel in results.items():
        for mode, h in sel.history.items():
            row = {"task": task, "mode": mode, "epochs": len(h), "first": h[0], "last": h[-1]}
            dev = sel.dev_history.get(mode) or []
            if dev:
                row.update({"dev first": dev[0], "dev best": min(dev), "best epoch": int(np.argmin(dev)) + 1})
            rows.append(row)
    return pd.DataFrame(rows).set_index(["task", "mode"])


def config_summary(config: RspgConfig, results: Mapping[str, object] | None = None) -> str:
    """The selector and QPP settings of a run, in words, with the pool(s) of ``results`` (task ->
    :class:`~lampkit.rspg.selection.Selection`, or pool -> task -> :class:`~lampkit.rspg.selection.Selection`) when given."""
    encoder = config.encoder or "the embedded MiniLM (all-MiniLM-L6-v2)"
    if config.encoder_layers is not None:
        encoder += f" cut to its bottom {config.encoder_layers} transformer layer(s)"
    if config.head == "interaction":
        trained = ("frozen; it embeds the input, each retrieved entry and (RSPG-Post) the LLM's output apart, "
                   "mean-pooled, each distinct text once, and an interaction head trains on those embeddings: "
                   "the input attends over the retriever's entries and a two-layer MLP scores the input, the "
                   "pooled entries, their product and their difference")
    elif config.trainable_layers == 0:
        trained = "frozen; the linear layer alone trains on its mean-pooled embeddings, computed once per text"
    elif config.trainable_layers is None:
        trained = "fully fine-tuned with the linear layer"
    else:
        trained = f"its top {config.trainable_layers} layer(s) fine-tuned with the linear layer"
    return (f"Selector: {encoder}, first {config.max_length} tokens of each text, {trained}; Adam, learning "
            f"rate {config.lr:g}, {config.epochs} epochs, batches of {config.batch_size} inputs, seed "
            f"{config.seed}. QPP: WIG and NQC over the top {config.qpp_k} scores, sigma_x% with "
            f"x = {100 * config.qpp_x:g}%." + (_pools(results) if results else ""))


def _pools(results: Mapping[str, object]) -> str:
    first = next(iter(results.values()))
    if isinstance(first, Selection):
        return " Pool: " + ", ".join(first.pool) + "."
    return " Pools: " + "; ".join(f"{label}: " + ", ".join(next(iter(per_task.values())).pool)
                                  for label, per_task in results.items()) + "."


# ----- Table 5: oracle bounds and the ablation --------------------------------------------------
def table5(results: Mapping[str, Mapping[str, Selection]]) -> pd.DataFrame:
    """Per task the main metric: oracle bounds of the largest pool, its best single retriever, and
    RSPG-Pre/Post of each pool (``_no_ropg`` columns for the pool without ROPG)."""
    first = "full" if "full" in results else "no-ropg"
    rows = []
    for task, sel in results[first].items():
        bounds = sel.bounds()
        means = dict(zip(sel.pool, sel.matrix.mean(axis=0)))
        row = {"task": task, "metric": get_task(task).main_metric, "oracle_lower": float(bounds.lower.mean()),
               "oracle_upper": float(bounds.upper.mean()), "best_single": sel.best_single(),
               "best_single_value": float(means[sel.best_single()])}
        for label, per_task in results.items():
            other = per_task[task]
            for m in SELECTORS:
                if m in other.choices:
                    picked = other.matrix[np.arange(len(other.matrix)), other.choices[m]]
                    row[_column(m) + POOL_LABELS[label]] = float(picked.mean())
        rows.append(row)
    return pd.DataFrame(rows).set_index("task")


def table5_paper() -> pd.DataFrame:
    """The paper's oracle bounds (Table 5) with its RSPG-Pre/Post main metric (Table 3), by task."""
    oracle = paper_table("table5_oracle")
    main = paper_table("table3")[["task", "metric", "rspg_pre", "rspg_post"]]
    return oracle.merge(main, on=["task", "metric"], how="left").set_index("task")


def table5_with_paper(results: Mapping[str, Mapping[str, Selection]], ours_label: str = "this build",
                      paper_label: str = "paper") -> pd.DataFrame:
    """:func:`table5` beside the paper's numbers (the paper's ablation columns are not copied: blank),
    then this build's best single retriever and its main metric."""
    ours = table5(results)
    columns = [c for c in ours.columns if c not in ("metric", "best_single", "best_single_value")]
    paper = table5_paper().reindex(columns=["metric", *columns])
    out = side_by_side(ours.reset_index(), paper.reset_index(), "task", columns, ours_label, paper_label)
    out.insert(0, ("metric", ""), ours["metric"])
    out[("best single retriever", ours_label)] = ours["best_single"]
    out[("best single value", ours_label)] = ours["best_single_value"]
    return out


def oracle_share(value: float, upper: float, higher_is_better: bool = True) -> float:
    """How far ``value`` gets toward the oracle upper bound: value / upper (upper / value for an error).

    NaN when the ratio is undefined (an upper bound of 0; for an error, a value of 0 is the oracle's).
    """
    if higher_is_better:
        return value / upper if upper > 0 else math.nan
    return upper / value if value > 0 else (1.0 if upper == 0 else math.nan)


def oracle_gap(table: pd.DataFrame) -> pd.DataFrame:
    """Per task of a Table 5 frame (:func:`table5` or :func:`table5_paper`): the better of RSPG-Pre and
    RSPG-Post (of the full pool when the frame has it), its main metric, the oracle upper bound and
    :func:`oracle_share`."""
    suffix = next((s for s in POOL_LABELS.values() if any(_column(m) + s in table.columns for m in SELECTORS)), "")
    rows = []
    for task, row in table.iterrows():
        higher = get_task(task).metric_higher_is_better(row["metric"])
        sign = direction(higher)
        found = [m for m in SELECTORS if not pd.isna(row.get(_column(m) + suffix, math.nan))]
        if not found:
            continue
        best = max(found, key=lambda m: sign * row[_column(m) + suffix])
        value, upper = float(row[_column(best) + suffix]), float(row["oracle_upper"])
        rows.append({"task": task, "metric": row["metric"], "selector": best, "value": value, "oracle_upper": upper,
                     "share": oracle_share(value, upper, higher)})
    return pd.DataFrame(rows).set_index("task")


def oracle_gap_summary(ours: pd.DataFrame, paper: pd.DataFrame | None = None) -> str:
    """A sentence per task from :func:`oracle_gap` frames (this build's, and the paper's beside it)."""
    lines = []
    for task, row in ours.iterrows():
        share = "an undefined share" if pd.isna(row["share"]) else f"{100 * row['share']:.1f}%"
        text = (f"- **{task}** ({row['metric']}): the better selector, {row['selector'].upper()}, reaches "
                f"{row['value']:.3f}, {share} of the oracle upper bound {row['oracle_upper']:.3f}")
        if paper is not None and task in paper.index:
            p = paper.loc[task]
            text += (f" (paper: {p['selector'].upper()} {p['value']:.3f}, {100 * p['share']:.1f}% of "
                     f"{p['oracle_upper']:.3f})")
        lines.append(text + ".")
    return "\n".join(lines)


def ablation_summary(table: pd.DataFrame) -> str:
    """A sentence per task of a :func:`table5` frame on what removing ROPG from the pool changes."""
    lines = []
    for task, row in table.iterrows():
        parts = []
        for m in SELECTORS:
            with_, without = row.get(_column(m), math.nan), row.get(_column(m) + "_no_ropg", math.nan)
            if not (pd.isna(with_) or pd.isna(without)):
                parts.append(f"{m.upper()} {with_:.3f} with ROPG, {without:.3f} without ({without - with_:+.3f})")
        if parts:
            lines.append(f"- **{task}** ({row['metric']}): " + "; ".join(parts) + ".")
    return "\n".join(lines) or "Only one pool was run: no ablation to compare."


def bound_checks(results: Mapping[str, Mapping[str, Selection]]) -> pd.DataFrame:
    """Per pool and task: does every retriever lie between the oracle bounds (per input and on
    average), does the oracle's choice succeed on every input, and do all of these hold?"""
    rows = []
    for label, per_task in results.items():
        for task, sel in per_task.items():
            lower, upper = sel.bounds()
            sign = direction(sel.higher_is_better)
            m, low, up = sign * sel.matrix, sign * lower, sign * upper
            means = m.mean(axis=0)
            rows.append({"pool": label, "task": task,
                         "between per input": bool(np.all(low[:, None] <= m) and np.all(m <= up[:, None])),
                         "between on average": bool(np.all(low.mean() <= means) and np.all(means <= up.mean())),
                         "oracle success rate": sel.success_rates()["oracle-upper"]})
            rows[-1]["holds"] = rows[-1]["between per input"] and rows[-1]["between on average"] and \
                rows[-1]["oracle success rate"] == 1.0
    return pd.DataFrame(rows).set_index(["pool", "task"])
