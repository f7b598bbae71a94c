"""Figures of the book (matplotlib + seaborn), computed from result frames only."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

__all__ = ["winning_rate_chart"]


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
