"""Dataset statistics in the shape of the paper's Table 1."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from lampkit.data.layout import Example
from lampkit.tasks import Task, get_task

__all__ = ["TABLE1_COLUMNS", "task_statistics", "statistics_table"]

TABLE1_COLUMNS = ["task", "name", "train", "dev", "test", "input_len_mean", "input_len_std",
                  "output_len_mean", "output_len_std", "profile_size_mean", "profile_size_std", "classes"]


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std())


def task_statistics(task: str | Task, splits: Mapping[str, Sequence[Example]]) -> dict[str, object]:
    """One Table 1 row: split sizes; input, output (generation tasks) and profile sizes over all splits.

    Lengths are whitespace tokens (words); standard deviations are population ones (ddof=0).
    """
    t = get_task(task)
    examples = [ex for split in ("train", "dev", "test") for ex in splits.get(split, [])]
    in_mean, in_std = _mean_std([len(ex.input.split()) for ex in examples])
    prof_mean, prof_std = _mean_std([len(ex.profile) for ex in examples])
    out_mean = out_std = float("nan")
    if t.kind == "generation":
        out_mean, out_std = _mean_std([len(ex.output.split()) for ex in examples if ex.output is not None])
    return {
        "task": t.name, "name": t.title,
        "train": len(splits.get("train", [])), "dev": len(splits.get("dev", [])),
        "test": len(splits.get("test", [])),
        "input_len_mean": in_mean, "input_len_std": in_std,
        "output_len_mean": out_mean, "output_len_std": out_std,
        "profile_size_mean": prof_mean, "profile_size_std": prof_std,
        "classes": len(t.labels) if t.labels is not None else float("nan"),
    }


def statistics_table(per_task: Mapping[str, Mapping[str, Sequence[Example]]]) -> pd.DataFrame:
    """Table 1 rows for several tasks: ``{task: {split: examples}}``."""
    rows = [task_statistics(name, splits) for name, splits in per_task.items()]
    return pd.DataFrame(rows, columns=TABLE1_COLUMNS)
