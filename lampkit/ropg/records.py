"""ROPG's training data: per input, the query, the initial retriever's top l items and EVAL of each.

:func:`feedback_records` reads the item feedback of :func:`lampkit.feedback.item_feedback` (per
training input, EVAL of the LLM's output with each of those items alone; ``position`` 0 is the
initial retriever's top-1) into one :class:`FeedbackRecord` per input, checking every row against
the input's profile. Profiles with fewer than l = 16 items give shorter records; :func:`targets`
pads them into [B, l] tensors with a mask, so the losses never see the padding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from lampkit.data.layout import Example, LampDataError
from lampkit.ropg.config import DEPTH  # (importable from here too)
from lampkit.tasks import Task, get_task

__all__ = ["FEEDBACK_SOURCE", "FeedbackRecord", "feedback_records", "targets"]

FEEDBACK_SOURCE = "item feedback frame"  # the "file" named by LampDataError for a bad frame
_FEEDBACK_COLUMNS = ("example_id", "position", "item_index", "item_id", "eval")

@dataclass(frozen=True)
class FeedbackRecord:
    """One training input: its query, the index texts of its top items (initial order) and their EVAL."""

    example_id: str
    query: str
    docs: tuple[str, ...]
    eval: tuple[float, ...]


def feedback_records(task: str | Task, examples: Sequence[Example], frame: pd.DataFrame,
                     depth: int = DEPTH) -> list[FeedbackRecord]:
    """Training records for ``examples`` from an :func:`~lampkit.feedback.item_feedback` frame.

    Texts are the Dense retriever's: ``task.query(example.input)`` and ``task.index_text(item)``.
    An example keeps the rows of positions ``0 .. min(n, depth) - 1``; examples without rows
    (an empty profile) are left out. A frame that does not match the examples (positions not
    0..n-1, an item index outside the profile, another item id, a non-finite EVAL) raises a
    :class:`~lampkit.data.records.LampDataError` naming the example and the field.
    """
    t = get_task(task)
    missing = [c for c in _FEEDBACK_COLUMNS if c not in frame.columns]
    if missing:
        raise LampDataError(FEEDBACK_SOURCE, f"missing column(s) {', '.join(missing)}")
    groups = {str(eid): g.sort_values("position", kind="stable")
              for eid, g in frame.groupby(frame["example_id"].astype(str), sort=False)}
    records = []
    for ex in examples:
        rows = groups.get(str(ex.id))
        if rows is None or rows.empty:
            continue
        positions = rows["position"].to_numpy()
        if not np.array_equal(positions, np.arange(len(rows))):
            raise LampDataError(FEEDBACK_SOURCE, f"positions {positions.tolist()} are not 0..{len(rows) - 1}",
                                record=str(ex.id), field="position")
        rows = rows.iloc[:depth]
        docs, evals = [], []
        for index, item_id, value in zip(rows["item_index"], rows["item_id"], rows["eval"]):
            index = int(index)
            if not 0 <= index < len(ex.profile):
                raise LampDataError(FEEDBACK_SOURCE, f"item index {index} outside a profile of {len(ex.profile)}",
                                    record=str(ex.id), field="item_index")
            if str(ex.profile[index]["id"]) != str(item_id):
                raise LampDataError(FEEDBACK_SOURCE, f"item id {item_id!r} but profile[{index}] has id "
                                    f"{ex.profile[index]['id']!r}", record=str(ex.id), field="item_id")
            if not math.isfinite(float(value)):
                raise LampDataError(FEEDBACK_SOURCE, f"EVAL {value!r} is not finite", record=str(ex.id),
                                    field="eval")
            docs.append(t.index_text(ex.profile[index]))
            evals.append(float(value))
        query = t.query(ex.input)
        if query is None:
            raise LampDataError(FEEDBACK_SOURCE, f"no {t.official} query in the input", record=str(ex.id),
                                field="input")
        records.append(FeedbackRecord(str(ex.id), query, tuple(docs), tuple(evals)))
    return records


def targets(records: Sequence[FeedbackRecord], depth: int,
             device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """EVAL [B, depth] (0 in masked slots) and the mask [B, depth] of real items."""
    evals = torch.zeros(len(records), depth)
    mask = torch.zeros(len(records), depth, dtype=torch.bool)
    for i, rec in enumerate(records):
        evals[i, :len(rec.eval)] = torch.tensor(rec.eval)
        mask[i, :len(rec.eval)] = True
    return evals.to(device), mask.to(device)
