"""lampkit: retrieval-augmented personalization of LLMs on LaMP, reproducibly.

The public facade: the verbs a reader of the book uses, each one hop from the module that defines it
(``lampkit.run_ropg`` is :func:`lampkit.ropg.stage.run_ropg`). The names load lazily, on first use,
so ``import lampkit`` stays light (no torch, no transformers); ``dir(lampkit)`` and ``__all__``
list them. Each concept lives in its own module (``lampkit.tasks``, ``lampkit.data.layout``,
``lampkit.metrics.lamp``, ``lampkit.ropg.losses``, ...), which the API reference of the book
documents stage by stage.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> (module, name in that module)
_FACADE: dict[str, tuple[str, str]] = {
    # the build
    "__version__": ("lampkit.store.version", "__version__"),
    "code_version": ("lampkit.store.version", "code_version"),
    # tasks and data (chapter 1)
    "Task": ("lampkit.tasks", "Task"),
    "TASK_NAMES": ("lampkit.tasks", "TASK_NAMES"),
    "LAMP2_TAGS": ("lampkit.tasks", "LAMP2_TAGS"),
    "get_task": ("lampkit.tasks", "get_task"),
    "all_tasks": ("lampkit.tasks", "all_tasks"),
    "resolve_tasks": ("lampkit.tasks", "resolve_tasks"),
    "Example": ("lampkit.data.records", "Example"),
    "LampDataError": ("lampkit.data.records", "LampDataError"),
    "load_split": ("lampkit.data.layout", "load_split"),
    # the shared settings and the baselines (chapter 2)
    "Settings": ("lampkit.pipeline", "Settings"),
    "context": ("lampkit.pipeline", "context"),
    "load_examples": ("lampkit.pipeline", "load_examples"),
    "run_baselines": ("lampkit.pipeline", "run_baselines"),
    # ROPG (chapter 3)
    "RopgSetup": ("lampkit.ropg.config", "RopgSetup"),
    "run_ropg": ("lampkit.ropg.stage", "run_ropg"),
    "rl_loss": ("lampkit.ropg.losses", "rl_loss"),
    "kd_loss": ("lampkit.ropg.losses", "kd_loss"),
    # RSPG (chapters 4 and 5)
    "RspgConfig": ("lampkit.rspg.config", "RspgConfig"),
    "run_rspg": ("lampkit.rspg.stage", "run_rspg"),
    "run_ablation": ("lampkit.rspg.stage", "run_ablation"),
    "run_table3": ("lampkit.rspg.stage", "run_table3"),
    "run_claims": ("lampkit.rspg.claims", "run_claims"),
    "table4": ("lampkit.rspg.report", "table4"),
    "table5": ("lampkit.rspg.report", "table5"),
    # metrics and Table 3 (chapter 6)
    "evaluate": ("lampkit.metrics.lamp", "aggregate"),
    "evaluate_files": ("lampkit.metrics.lamp", "evaluate_files"),
    "table3": ("lampkit.analysis.table3", "table3"),
    "winning_rates": ("lampkit.analysis.winning", "winning_rates"),
    # Li et al.'s long-form writing (chapter 7)
    "LongformSettings": ("lampkit.longform.config", "LongformSettings"),
    "run_longform": ("lampkit.longform.experiment", "run"),
    # a chapter's parameters, validated
    "chapter_run": ("lampkit.chapters", "chapter_run"),
}

__all__ = list(_FACADE)


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first use and keep the object here."""
    try:
        module, attr = _FACADE[name]
    except KeyError:
        raise AttributeError(f"module 'lampkit' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
