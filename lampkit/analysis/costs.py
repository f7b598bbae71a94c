"""What running the whole pipeline costs in LLM calls, and the memory of the paper's models.

Counts follow the pipeline: ROPG's feedback asks the LLM once per training input and each of the
top ``l`` items of the initial retriever (one item per prompt); RSPG's training feedback asks it
once per training input and retriever of the pool; the results tables ask it once per evaluation
input and retriever (the pool plus RRF). Prompts shared by two retrievers are generated once by
the feedback store, so these are upper bounds.
"""

from __future__ import annotations

from typing import Mapping

import pandas as pd

__all__ = ["MODEL_PARAMETERS", "llm_calls", "calls_table", "weights_gib"]

# parameter counts of the paper's models (published model cards), for memory estimates
MODEL_PARAMETERS: dict[str, float] = {
    "google/flan-t5-small": 77e6,
    "google/flan-t5-base": 248e6,
    "google/flan-t5-large": 783e6,
    "google/flan-t5-xl": 2.85e9,
    "google/flan-t5-xxl": 11.3e9,
    "facebook/contriever": 110e6,
    "allenai/longformer-base-4096": 149e6,
}


def llm_calls(train: int, dev: int, test: int, pool: int = 6, l: int = 16, extra_eval: int = 1) -> dict[str, int]:
    """LLM generations per stage for one task with ``train``/``dev``/``test`` inputs.

    ``pool``: retrievers RSPG selects from (the paper's six); ``extra_eval``: retrievers only in
    the results tables (RRF); ``l``: items per training input in ROPG's feedback.
    """
    if min(train, dev, test) < 0 or pool < 1 or l < 1 or extra_eval < 0:
        raise ValueError("input counts must be non-negative; pool and l at least 1")
    calls = {
        "ROPG feedback (train x l)": train * l,
        "RSPG feedback (train x pool)": train * pool,
        "results (dev+test x pool+RRF)": (dev + test) * (pool + extra_eval),
    }
    calls["total"] = sum(calls.values())
    return calls


def calls_table(sizes: Mapping[str, Mapping[str, int]], pool: int = 6, l: int = 16) -> pd.DataFrame:
    """One row per task of :func:`llm_calls`, from ``{task: {"train": n, "dev": n, "test": n}}``."""
    rows = [{"task": task, **llm_calls(int(s["train"]), int(s["dev"]), int(s["test"]), pool, l)}
            for task, s in sizes.items()]
    return pd.DataFrame(rows).set_index("task")


def weights_gib(parameters: float, bytes_per_parameter: int = 2) -> float:
    """Memory of the weights alone in GiB (2 bytes a parameter in bfloat16, 4 in float32)."""
    return parameters * bytes_per_parameter / 2**30
