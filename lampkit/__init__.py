"""lampkit: retrieval-augmented personalization of LLMs on LaMP, reproducibly.

The public facade; each concept lives in its own module (``lampkit.tasks``, ``lampkit.data.layout``,
``lampkit.metrics.lamp``, ``lampkit.data.synth``, ...).
"""

from lampkit.data.layout import Example, LampDataError, load_split
from lampkit.tasks import LAMP2_TAGS, TASK_NAMES, Task, all_tasks, get_task, resolve_tasks
from lampkit.store.version import __version__, code_version

__all__ = [
    "__version__", "code_version",
    "Task", "TASK_NAMES", "LAMP2_TAGS", "get_task", "all_tasks", "resolve_tasks",
    "Example", "LampDataError", "load_split",
]
