"""Figures of the book (matplotlib + seaborn), computed from result frames only."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

__all__ = ["winning_rate_chart", "PIPELINE", "pipeline_figure"]


def winning_rate_chart(rates: pd.DataFrame, title: str = "Relative winning rate per retriever"):
    """Grouped bars: one group per task, one bar per retriever (``task, retriever, relative_rate``)."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(10, 4))
    sns.barplot(data=rates, x="task", y="relative_rate", hue="retriever", ax=ax)
    ax.set_ylabel("relative winning rate")
    ax.set_xlabel("")
    ax.set_title(title)
    ax.legend(ncol=len(rates["retriever"].unique()), loc="upper center", bbox_to_anchor=(0.5, -0.12),
              frameon=False)
    fig.tight_layout()
    return fig


# the stages of the pipeline, in order, with the module that computes each and the chapter that shows it
PIPELINE: tuple[tuple[str, str, str], ...] = (
    ("data", "lampkit.data.layout, lampkit.data.synth", "01"),
    ("queries and prompts", "lampkit.tasks", "01"),
    ("retrievers", "lampkit.retrievers", "02"),
    ("frozen LLM", "lampkit.llm.seq2seq", "02"),
    ("metrics", "lampkit.metrics.lamp", "02"),
    ("feedback cache", "lampkit.feedback", "02"),
    ("ROPG / RSPG training", "lampkit.ropg.method, lampkit.rspg.selector", "03-05"),
    ("analyses", "lampkit.analysis.winning, lampkit.metrics.significance, lampkit.analysis.table3", "02-06"),
)


def pipeline_figure():
    """The pipeline, one box per stage (name, module, chapter), arrows in its one direction."""
    fig, ax = plt.subplots(figsize=(12, 2.6))
    ax.set_axis_off()
    n = len(PIPELINE)
    width, gap = 1.15, 0.3
    for i, (stage, module, chapter) in enumerate(PIPELINE):
        x = i * (width + gap)
        ax.add_patch(plt.Rectangle((x, 0.0), width, 1.0, facecolor="#e8f0fa", edgecolor="#2d5b8c", linewidth=1.2))
        ax.text(x + width / 2, 0.68, stage.replace(" / ", " /\n").replace("queries and ", "queries and\n").replace(" cache", "\ncache"),
                ha="center", va="center", fontsize=9, weight="bold")
        ax.text(x + width / 2, 0.22, module.replace(", ", ",\n"), ha="center", va="center", fontsize=6,
                family="monospace")
        ax.text(x + width / 2, -0.18, f"chapter {chapter}", ha="center", va="center", fontsize=7, color="#555555")
        if i < n - 1:
            ax.annotate("", xy=(x + width + gap, 0.5), xytext=(x + width, 0.5),
                        arrowprops={"arrowstyle": "->", "color": "#2d5b8c"})
    ax.set_xlim(-0.1, n * (width + gap) - gap + 0.1)
    ax.set_ylim(-0.35, 1.1)
    fig.tight_layout()
    return fig
