"""Fleet: many agent tasks at once, on this machine or a Ray cluster, with a result line
per task written as it ends, resumable after a crash.

::

    from codexkit.fleet import run_batch

    for result in run_batch("tasks.jsonl", out="results.jsonl", concurrency=8):
        print(result.id, result.status)

See ``docs/fleet.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._batch import BatchEvent, BatchProgress, arun_batch, plan_batch, run_batch
from ._local import Executor, LocalExecutor
from ._result import (
    CheckOutcome,
    CommandRun,
    ResultWriter,
    Status,
    StoredResults,
    TaskResult,
    TaskUsage,
    read_results,
)
from ._runner import DEFAULT_TIMEOUT, BatchSettings, is_retryable, run_task
from ._task import Task, TaskFileError, TaskProblem, load_tasks, parse_tasks

if TYPE_CHECKING:
    from ._ray import RayExecutor as RayExecutor

__all__ = [
    "DEFAULT_TIMEOUT",
    "BatchEvent",
    "BatchProgress",
    "BatchSettings",
    "CheckOutcome",
    "CommandRun",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "ResultWriter",
    "Status",
    "StoredResults",
    "Task",
    "TaskFileError",
    "TaskProblem",
    "TaskResult",
    "TaskUsage",
    "arun_batch",
    "is_retryable",
    "load_tasks",
    "parse_tasks",
    "plan_batch",
    "read_results",
    "run_batch",
    "run_task",
]


def __getattr__(name: str) -> object:
    if name == "RayExecutor":  # needs the `ray` extra: imported only when asked for
        from ._ray import RayExecutor

        return RayExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
