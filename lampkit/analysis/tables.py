"""Tables the book renders: task overviews and this build's numbers beside the paper's."""

from __future__ import annotations

import pandas as pd

from lampkit.tasks import Task, all_tasks
from lampkit.analysis.winning import failed_conditions

__all__ = ["task_overview", "side_by_side", "example_prompt", "results_table", "with_paper", "retrieval_matters_summary",
           "prompts_markdown"]


def task_overview(tasks: list[Task] | None = None) -> pd.DataFrame:
    """One row per task: kind, labels, metrics, profile fields, what is indexed and the entry prompt."""
    rows = []
    for t in tasks or all_tasks():
        rows.append({
            "task": t.name,
            "name": t.title,
            "kind": t.kind,
            "labels": ", ".join(t.labels) if t.labels else "(free text)",
            "metrics": ", ".join(t.metrics),
            "profile fields": ", ".join(t.profile_fields),
            "indexed text": " + ".join(t.index_fields) + " + date",
            "entry prompt (PPEP)": t.entry_template.replace("{content}", "{" + t.content_field + "}"),
        })
    return pd.DataFrame(rows).set_index("task")


def side_by_side(ours: pd.DataFrame, paper: pd.DataFrame, on: str | list[str], columns: list[str],
                 ours_label: str = "this build", paper_label: str = "paper") -> pd.DataFrame:
    """Columns of ``ours`` and ``paper`` next to each other under a two-level header.

    The paper's numbers come from ``lampkit.analysis.paper`` and are labelled as such; nothing is
    computed from them.
    """
    keys = [on] if isinstance(on, str) else list(on)
    left = ours.set_index(keys)[columns]
    right = paper.set_index(keys)[columns].reindex(left.index)
    out = pd.concat({ours_label: left, paper_label: right}, axis=1)
    out = out.swaplevel(0, 1, axis=1)
    return out[[(c, lab) for c in columns for lab in (ours_label, paper_label)]]


def example_prompt(task: Task, example, k: int = 4, counter=None) -> dict[str, str]:
    """An example's input, query, gold and the prompt built with its ``k`` newest profile items.

    ``counter`` is the tokenizer adapter the budget uses (default: whitespace words).
    """
    from lampkit.data.layout import parse_date

    items = sorted(example.profile, key=lambda it: parse_date(str(it["date"])), reverse=True)[:k]
    return {
        "id": str(example.id),
        "input": example.input,
        "query": task.query(example.input) or "",
        "gold": "" if example.output is None else example.output,
        "prompt": task.build_prompt(example.input, items, counter),
    }


# this build's method names -> the column names of the paper's Table 3
PAPER_COLUMN = {"none": "no_personalization", "bm25": "bm25", "recency": "recency", "dense": "contriever",
                "rrf": "rrf", "ropg-rl": "ropg_rl", "ropg-kd": "ropg_kd", "rspg-pre": "rspg_pre",
                "rspg-post": "rspg_post"}


def results_table(per_task: dict[str, pd.DataFrame], methods: list[str]) -> pd.DataFrame:
    """Rows (task, metric), columns ``methods``, from ``{task: DataFrame(method x metric)}``."""
    from lampkit.tasks import get_task

    rows = []
    for task, frame in per_task.items():
        for metric in get_task(task).metrics:
            rows.append({"task": task, "metric": metric,
                         **{m: float(frame.loc[m, metric]) if m in frame.index else float("nan") for m in methods}})
    return pd.DataFrame(rows).set_index(["task", "metric"])


def with_paper(ours: pd.DataFrame, paper: pd.DataFrame, methods: list[str],
               ours_label: str = "this build", paper_label: str = "paper") -> pd.DataFrame:
    """``ours`` (from :func:`results_table`) beside the paper's Table 3, method by method."""
    p = paper.set_index(["task", "metric"])
    cols = {}
    for m in methods:
        cols[(m, ours_label)] = ours[m]
        cols[(m, paper_label)] = p[PAPER_COLUMN[m]].reindex(ours.index)
    return pd.DataFrame(cols)


def retrieval_matters_summary(matters: pd.DataFrame) -> str:
    """A sentence per task saying, with its numbers, whether retrieval matters (from the checks)."""
    lines = []
    for row in matters.to_dict("records"):
        verdict = "holds" if row["holds"] else "does **not** hold"
        if not row["holds"]:
            verdict += f" ({'; '.join(failed_conditions(row)) or 'see the table'})"
        lines.append(
            f"- **{row['task']}** ({row['metric']}): no personalization {row['no_personalization']:.3f}, "
            f"best single retriever {row['best_retriever']} {row['best_single']:.3f}, oracle "
            f"{row['oracle']:.3f}; retrievers differ on {100 * row['differing_share']:.1f}% of inputs; "
            f"largest relative winning rate {100 * row['max_relative_rate']:.1f}%: the condition {verdict}.")
    return "\n".join(lines)


def prompts_markdown(feedback: pd.DataFrame, example, retrievers: list[str]) -> str:
    """Markdown of each retriever's prompt and the LLM's output for one input."""
    rows = feedback[feedback["example_id"] == str(example.id)].set_index("retriever")
    parts = [f"### {example.id}\n\n**gold output**: {example.output}\n"]
    for name in retrievers:
        r = rows.loc[name]
        parts.append(f"**{name}** answered *{r['output']}* with the prompt:\n\n> {r['prompt']}\n")
    return "\n".join(parts)
