"""What chapter 07 shows besides its tables: data statistics, one input through the pipeline,
the generators' outputs, and sentences written from the numbers."""

from __future__ import annotations

import html
from typing import Sequence

import pandas as pd

from lampkit.metrics.significance import paired_ttest
from lampkit.longform.data import Document, LongformExample
from lampkit.longform.metrics import METRIC_NAMES, METRICS
from lampkit.longform.rankers import concat_entries
from lampkit.longform.synthesis import DocumentFrequencies, key_elements, summarize

__all__ = ["statistics", "pipeline_markdown", "outputs_markdown", "findings_markdown"]


def statistics(splits: dict[str, Sequence[Document]]) -> pd.DataFrame:
    """Per split: authors, documents, documents per author and mean document length."""
    rows = {}
    for split, docs in splits.items():
        authors = {d.author for d in docs}
        rows[split] = {"authors": len(authors), "documents": len(docs),
                       "documents per author": round(len(docs) / max(1, len(authors)), 2),
                       "mean characters": round(sum(len(d.text) for d in docs) / max(1, len(docs)), 1)}
    return pd.DataFrame.from_dict(rows, orient="index")


def _quote(text: str, limit: int | None = None) -> str:
    shown = text if limit is None or len(text) <= limit else text[:limit] + " ..."
    return html.escape(shown).replace("|", "&#124;")


def pipeline_markdown(results, index: int = 0, dfs: DocumentFrequencies | None = None, limit: int = 160) -> str:
    """One evaluation input through the pipeline: its context and real continuation, the first
    two entries of every ranker, and the summary and key elements of the ablation's ranker."""
    ex: LongformExample = results.examples[index]
    lines = [f"**Input `{ex.id}`** (author `{ex.author}`, {len(ex.past)} past documents)", "",
             f"- immediate context: {_quote(ex.context)}", f"- real continuation: {_quote(ex.target)}", "",
             "| ranker | rank | score | entry |", "|---|---|---|---|"]
    for ranker, per_example in results.entries.items():
        for r, e in enumerate(per_example[index][:2]):
            lines.append(f"| {ranker} | {r + 1} | {e.score:.3f} | {_quote(e.text, limit)} |")
    ablation = results.ablation[0].ranker
    entries = results.entries.get(ablation)
    if entries is not None:
        lines += ["", f"Summary of {ablation}'s entries: {_quote(summarize([e.text for e in entries[index]]))}"]
        if dfs is not None:
            words = key_elements(concat_entries(entries[index]), dfs)
            lines += ["", f"Key elements: {_quote(', '.join(words)) or '(none)'}"]
    return "\n".join(lines)


def outputs_markdown(results, index: int = 0) -> str:
    """Every configuration's output for one evaluation input, with its ROUGE-L."""
    ex = results.examples[index]
    lines = [f"Real continuation of `{ex.id}`: {_quote(ex.target)}", "", "| configuration | ROUGE-L | output |",
             "|---|---|---|"]
    for name, preds in results.predictions.items():
        lines.append(f"| {name} | {results.scores[name].loc[index, 'rougeL']:.3f} | {_quote(preds[index])} |")
    return "\n".join(lines)


def _compare(results, a: str, b: str, metric: str) -> str:
    """``a`` against ``b`` on ``metric``: the difference (x 100) and whether it is significant."""
    diff = 100 * (results.metrics.loc[a, metric] - results.metrics.loc[b, metric])
    p = paired_ttest(results.scores[a][metric], results.scores[b][metric])[1]
    verdict = "significant" if p < 0.05 else "not significant"
    return f"{diff:+.2f} ({verdict}, p = {p:.3g})"


def findings_markdown(results, metric: str = "rougeL") -> str:
    """Sentences about both tables, written from the numbers (``metric`` as the main one)."""
    if metric not in METRICS:
        raise KeyError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
    name = METRIC_NAMES[metric]
    none, recent = results.rankers[0].name, "RecentDoc"
    rankers = [c.name for c in results.rankers[1:]]
    best = max(rankers, key=lambda r: results.metrics.loc[r, metric])
    beat_none = [r for r in rankers if results.metrics.loc[r, metric] > results.metrics.loc[none, metric]
                 and paired_ttest(results.scores[r][metric], results.scores[none][metric])[1] < 0.05]
    lines = [f"- Against *{none}*: {len(beat_none)} of the {len(rankers)} rankers are significantly better on "
             f"{name}; the best, {best}, differs by {_compare(results, best, none, metric)} points."]
    relevance = [r for r in rankers if r != recent]
    lines.append(f"- Ranking by relevance against recency on {name}: "
                 + "; ".join(f"{r} {_compare(results, r, recent, metric)}" for r in relevance) + ".")
    rows = [c.name for c in results.ablation]
    steps = [f"{rows[i]} {_compare(results, rows[i], rows[i - 1], metric)}" for i in range(1, len(rows))]
    lines.append(f"- Each step of the ablation against the row above it on {name}: " + "; ".join(steps) + ".")
    return "\n".join(lines)
