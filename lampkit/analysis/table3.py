"""The paper's Table 3 for a build: every method on every task, best per row, significance markers.

Input: per task, each method's predictions on the evaluation split and the golds. Output: the
aggregate metrics (rows task x metric, columns methods), the markers of the baselines each method
beats significantly (:func:`lampkit.metrics.significance.markers`), the best method per row, the average
relative improvement over no personalization, and a reading of where the build agrees with the
paper, generated from the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from lampkit.metrics.lamp import aggregate, per_example
from lampkit.analysis.methods import BASELINES, ROPG, SELECTORS, TABLE3
from lampkit.metrics.significance import format_with_markers, marker_tests, markers, markers_from_tests
from lampkit.analysis.tables import PAPER_COLUMN
from lampkit.store.report import TablesReport
from lampkit.tasks import direction, get_task

__all__ = ["METHODS", "Table3", "table3", "collect_predictions", "relative_improvement", "average_relative_improvement",
           "undefined_rows", "percent_or_undefined", "UNDEFINED",
           "paper_values", "reading"]

# the columns of the paper's Table 3, in its order
METHODS: tuple[str, ...] = TABLE3


@dataclass
class Table3(TablesReport):
    """Values and markers, rows (task, metric) and columns methods; ``higher`` per row.

    Its tables (:class:`~lampkit.store.report.Report`): ``table3`` (the values), ``markers`` (the
    baselines each value beats significantly), ``best`` (each row's direction and best method) and,
    from :func:`table3`, ``markers_holm`` (the markers with Holm-corrected p-values) and ``p_values``
    (every test behind them, raw and corrected: :func:`~lampkit.metrics.significance.marker_tests`).
    """

    values: pd.DataFrame
    markers: pd.DataFrame
    higher: pd.Series
    markers_holm: pd.DataFrame | None = None
    p_values: pd.DataFrame | None = None

    MODULES = ("lampkit.analysis.table3",)

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {"table3": self.values, "markers": self.markers,
               "best": pd.DataFrame({"higher_is_better": self.higher, "best": self.best()})}
        if self.markers_holm is not None:
            out["markers_holm"] = self.markers_holm
        if self.p_values is not None:
            out["p_values"] = self.p_values
        return out

    NOT_IN_TEXT = frozenset({"p_values"})  # one row per test: saved, not printed

    def titles(self) -> dict[str, str]:
        return {"table3": "Table 3 (values)", "markers": "Significance markers (baselines beaten)",
                "best": "Best method per row",
                "markers_holm": "Significance markers, Holm-corrected (per cell: the method against every baseline)",
                "p_values": "The tests behind the markers (raw and Holm-corrected p-values)"}

    def lost_to_holm(self) -> pd.DataFrame:
        """The cells whose markers Holm's correction changes: raw and corrected markers side by side."""
        if self.markers_holm is None:
            return pd.DataFrame(columns=["method", "raw", "holm"])
        rows = [{"task": r[0], "metric": r[1], "method": m, "raw": self.markers.loc[r, m],
                 "holm": self.markers_holm.loc[r, m]}
                for r in self.markers.index for m in self.markers.columns
                if self.markers.loc[r, m] != self.markers_holm.loc[r, m]]
        return pd.DataFrame(rows, columns=["task", "metric", "method", "raw", "holm"])

    def best(self) -> pd.Series:
        """The best method of every row (the first of a tie, in column order)."""
        signed = self.values.mul(np.where(self.higher, 1.0, -1.0), axis=0)
        return signed.idxmax(axis=1)

    def html(self, digits: int = 3) -> str:
        """The table as HTML: the best value of each row in bold, markers as superscripts."""
        best = self.best()
        cells = pd.DataFrame(index=self.values.index, columns=self.values.columns, dtype=object)
        for row in self.values.index:
            for method in self.values.columns:
                value = self.values.loc[row, method]
                cells.loc[row, method] = "" if pd.isna(value) else format_with_markers(
                    float(value), self.markers.loc[row, method], best[row] == method, digits)
        return cells.to_html(escape=False)


def table3(predictions: Mapping[str, Mapping[str, Sequence[str]]], golds: Mapping[str, Sequence[str]],
           methods: Sequence[str] = METHODS, baselines: Sequence[str] = BASELINES, alpha: float = 0.05) -> Table3:
    """Table 3 from ``{task: {method: predictions}}`` and ``{task: golds}`` (same input order).

    Methods missing for a task are left empty; every baseline must be present.
    """
    value_rows, marker_rows, holm_rows, higher, index, tests = [], [], [], [], [], []
    for task, by_method in predictions.items():
        t = get_task(task)
        present = [m for m in methods if m in by_method]
        scores = {m: per_example(t, by_method[m], golds[task]) for m in present}
        aggregates = {m: aggregate(t, by_method[m], golds[task]) for m in present}
        marks = markers(scores, aggregates, t, baselines, alpha)
        found = marker_tests(scores, aggregates, t, baselines)
        holm_marks = markers_from_tests(found, alpha, adjusted=True)
        tests += [{"task": task, **row} for row in found]
        for metric in t.metrics:
            index.append((task, metric))
            higher.append(t.metric_higher_is_better(metric))
            value_rows.append({m: aggregates[m][metric] if m in aggregates else np.nan for m in methods})
            marker_rows.append({m: marks.get((m, metric), "") for m in methods})
            holm_rows.append({m: holm_marks.get((m, metric), "") for m in methods})
    idx = pd.MultiIndex.from_tuples(index, names=["task", "metric"])
    columns = ["task", "metric", "method", "baseline", "position", "better", "p", "p_holm"]
    return Table3(pd.DataFrame(value_rows, index=idx, columns=list(methods)),
                  pd.DataFrame(marker_rows, index=idx, columns=list(methods)),
                  pd.Series(higher, index=idx, name="higher_is_better"),
                  pd.DataFrame(holm_rows, index=idx, columns=list(methods)),
                  pd.DataFrame(tests, columns=columns).set_index(["task", "metric", "method", "baseline"]))


UNDEFINED = "undefined"  # how a table shows a relative improvement over a base that scores 0


def relative_improvement(values: pd.DataFrame, higher: pd.Series, method: str, base: str = "none") -> pd.Series:
    """Per row, (method - base) / base in the metric's direction (an error that drops is a gain).

    Undefined (NaN) where the base scores 0: no ratio measures a gain over nothing."""
    sign = np.where(higher, 1.0, -1.0)
    base_values = values[base].where(values[base] != 0)
    return sign * (values[method] - base_values) / base_values


def average_relative_improvement(values: pd.DataFrame, higher: pd.Series, base: str = "none") -> pd.Series:
    """Per method, the mean over the rows (task and metric) where :func:`relative_improvement` is
    defined; NaN when it is defined on none (see :func:`undefined_rows`)."""
    return pd.Series({m: float(relative_improvement(values, higher, m, base).mean())
                      for m in values.columns if m != base}, dtype=float)


def undefined_rows(values: pd.DataFrame, base: str = "none") -> list:
    """The rows where a relative improvement over ``base`` is undefined (``base`` scores 0)."""
    return [r for r in values.index if values.loc[r, base] == 0]


def percent_or_undefined(frame: pd.DataFrame | pd.Series, digits: int = 1) -> pd.DataFrame | pd.Series:
    """``100 * frame`` rounded, with ``"undefined"`` where a value is NaN (for display)."""
    shown = (100 * frame).round(digits).astype(object)
    return shown.where(frame.notna(), UNDEFINED)


def paper_values(paper: pd.DataFrame, methods: Sequence[str] = METHODS) -> tuple[pd.DataFrame, pd.Series]:
    """The paper's Table 3 (``lampkit.analysis.paper.paper_table("table3")``) in this module's shape."""
    p = paper.set_index(["task", "metric"])
    values = pd.DataFrame({m: p[PAPER_COLUMN[m]] for m in methods})
    higher = p["higher_is_better"].astype(str).str.lower().eq("true")
    return values, higher


def _best_of(values: pd.DataFrame, higher: pd.Series, columns: Sequence[str]) -> pd.Series:
    signed = values[list(columns)].mul(np.where(higher, 1.0, -1.0), axis=0)
    return signed.idxmax(axis=1)


def reading(ours: Table3, paper: pd.DataFrame) -> str:
    """Markdown sentences comparing this build with the paper, computed from both tables."""
    p_values, p_higher = paper_values(paper, list(ours.values.columns))
    rows = [r for r in ours.values.index if r in p_values.index]
    main = [r for r in rows if r[1] == get_task(r[0]).main_metric]
    lines = []
    ours_best, paper_best = ours.best(), _best_of(p_values, p_higher, p_values.columns)
    same = [r for r in main if ours_best[r] == paper_best[r]]
    lines.append(f"- The best method of a task (main metric) is the paper's on {len(same)} of {len(main)} tasks"
                 + (f" ({', '.join(r[0] for r in same)})." if same else "."))
    singles = [m for m in (*BASELINES[1:], *ROPG) if m in ours.values.columns]
    for selector in ("rspg-post", "rspg-pre"):
        if selector not in ours.values.columns or ours.values[selector].isna().all():
            continue
        wins = [r for r in main if _beats_singles(ours.values, ours.higher, r, selector, singles)]
        paper_wins = [r for r in main if _beats_singles(p_values, p_higher, r, selector, singles)]
        lines.append(f"- {selector} beats every single retriever on {len(wins)} of {len(main)} tasks "
                     f"(the paper: {len(paper_wins)} of {len(main)}).")
    for method in ROPG:
        if method not in ours.values.columns or ours.values[method].isna().all():
            continue
        gains = [r for r in main if _gain(ours.values, ours.higher, r, method, "dense")]
        paper_gains = [r for r in main if _gain(p_values, p_higher, r, method, "dense")]
        lines.append(f"- {method} improves the dense retriever it starts from on {len(gains)} of {len(main)} tasks "
                     f"(the paper: {len(paper_gains)} of {len(main)}).")
    ours_avg = average_relative_improvement(ours.values.loc[rows], ours.higher.loc[rows])
    paper_avg = average_relative_improvement(p_values.loc[rows], p_higher.loc[rows])
    undefined = undefined_rows(ours.values.loc[rows])
    if ours_avg.isna().all():
        lines.append(f"- The relative improvement on no personalization is {UNDEFINED} on every row here: no "
                     f"personalization scores 0 on all {len(rows)} (the paper's best, {paper_avg.idxmax()}: "
                     f"{100 * paper_avg.max():+.1f}%).")
        return "\n".join(lines)
    top = ours_avg.idxmax()
    left_out = (f" ({UNDEFINED} on {len(undefined)} of {len(rows)} rows, where no personalization scores 0, "
                f"which the average leaves out)") if undefined else ""
    lines.append(f"- Averaged over every task and metric{left_out}, {top} improves most on no personalization: "
                 f"{100 * ours_avg[top]:+.1f}% (the paper's {top}: {100 * paper_avg[top]:+.1f}%; the paper's best, "
                 f"{paper_avg.idxmax()}: {100 * paper_avg.max():+.1f}%).")
    return "\n".join(lines)


def _gain(values: pd.DataFrame, higher: pd.Series, row, method: str, base: str) -> bool:
    """Whether ``method`` does better than ``base`` on ``row`` (defined when ``base`` scores 0, too)."""
    return bool(direction(higher[row]) * (values.loc[row, method] - values.loc[row, base]) > 0)


def _beats_singles(values: pd.DataFrame, higher: pd.Series, row, selector: str, singles: Sequence[str]) -> bool:
    sign = direction(higher[row])
    return bool(sign * values.loc[row, selector] > max(sign * values.loc[row, m] for m in singles))


def collect_predictions(baseline_feedback: Mapping[str, pd.DataFrame], selections: Mapping[str, object],
                        examples: Mapping[str, Sequence], rrf_feedback: Mapping[str, pd.DataFrame] | None = None,
                        ) -> tuple[dict[str, dict[str, list[str]]], dict[str, list[str]]]:
    """Every method's outputs per task, in the order of ``examples[task]``, and the golds.

    ``baseline_feedback``: pool feedback of the baselines (``experiment.run_baselines``) on the
    evaluation split; ``selections``: ``rspg_run.Selection`` per task on the same split (its pool
    gives the ROPG retrievers' outputs, its choices RSPG-Pre's and RSPG-Post's); ``rrf_feedback``
    (optional, per task): feedback of an ``rrf`` retriever that replaces the baselines' RRF (the
    paper's Table 3 fuses every retriever: :func:`lampkit.rspg.stage.rrf_over_pool`).
    """
    predictions: dict[str, dict[str, list[str]]] = {}
    golds: dict[str, list[str]] = {}
    for task, exs in examples.items():
        ids = [str(ex.id) for ex in exs]
        golds[task] = [ex.output or "" for ex in exs]
        wide = baseline_feedback[task].pivot(index="example_id", columns="retriever", values="output").reindex(ids)
        by_method = {m: list(wide[m]) for m in METHODS if m in wide.columns}
        if rrf_feedback is not None and task in rrf_feedback:
            fused = rrf_feedback[task].pivot(index="example_id", columns="retriever", values="output")
            by_method["rrf"] = list(fused["rrf"].reindex(ids))
        sel = selections.get(task)
        if sel is not None:
            sel_wide = sel.feedback.pivot(index="example_id", columns="retriever", values="output")
            for name in ROPG:
                if name in sel_wide.columns:
                    by_method[name] = list(sel_wide[name].reindex(ids))
            order = list(dict.fromkeys(sel.feedback["example_id"]))
            position = {example_id: i for i, example_id in enumerate(order)}
            outputs = sel_wide.reindex(order)[sel.pool].to_numpy()
            for mode in SELECTORS:
                if mode in sel.choices:
                    chosen = np.asarray(sel.choices[mode])
                    by_method[mode] = [outputs[position[i], chosen[position[i]]] for i in ids]
        missing = [m for m, outs in by_method.items() if any(not isinstance(o, str) for o in outs)]
        if missing:
            raise ValueError(f"{task}: no output for some inputs from {', '.join(missing)}")
        predictions[task] = by_method
    return predictions, golds
