"""``arun_batch`` and ``run_batch``: which tasks to run, on which executor, with every
result appended to the results file the moment it ends, and progress as events."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import InvalidArgumentError
from ._local import Executor, LocalExecutor
from ._result import ResultWriter, TaskResult, read_results
from ._runner import DEFAULT_TIMEOUT, BatchSettings
from ._task import Task, load_tasks

__all__ = ["BatchEvent", "BatchProgress", "arun_batch", "plan_batch", "run_batch"]

TaskSource = Sequence[Task] | str | os.PathLike[str]


@dataclass
class BatchProgress:
    """Where a batch stands: what is done, running and left, and how fast it goes."""

    total: int
    skipped: int = 0
    running: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: {"passed": 0, "failed": 0, "error": 0, "timeout": 0}
    )
    started: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    @property
    def rate_per_minute(self) -> float:
        elapsed = time.monotonic() - self.started
        return 60.0 * self.done / elapsed if elapsed > 0 and self.done else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far (None before the first task ends)."""
        rate = self.rate_per_minute
        return 60.0 * (self.total - self.done) / rate if rate else None

    def as_dict(self) -> dict[str, Any]:
        eta = self.eta_s
        return {
            "total": self.total,
            "skipped": self.skipped,
            "done": self.done,
            "running": self.running,
            **self.counts,
            "rate_per_minute": round(self.rate_per_minute, 2),
            "eta_s": round(eta, 1) if eta is not None else None,
        }


@dataclass(frozen=True)
class BatchEvent:
    """A step of a batch: ``started`` (the plan), ``task_started``, ``task_finished``
    (with ``result``) and ``finished``; ``progress`` is the state after it."""

    kind: Literal["started", "task_started", "task_finished", "finished"]
    progress: BatchProgress
    task_id: str | None = None
    result: TaskResult | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"event": self.kind, **self.progress.as_dict()}
        if self.task_id is not None:
            data["id"] = self.task_id
        if self.result is not None:
            data["status"] = self.result.status
            data["duration_s"] = self.result.duration_s
            data["error"] = self.result.error
        return data


OnEvent = Callable[[BatchEvent], None]


def plan_batch(
    tasks: Sequence[Task], out: str | os.PathLike[str] | None, *, retry_failed: bool = False
) -> tuple[list[Task], list[Task]]:
    """The tasks to run and those to skip: a task with a result in ``out`` is finished,
    unless ``retry_failed`` and it did not pass."""
    if out is None:
        return list(tasks), []
    stored = read_results(out).results
    run: list[Task] = []
    skip: list[Task] = []
    for task in tasks:
        earlier = stored.get(task.id)
        done = earlier is not None and (earlier.status == "passed" or not retry_failed)
        (skip if done else run).append(task)
    return run, skip


def make_executor(
    executor: Executor | Literal["local", "ray"],
    *,
    concurrency: int,
    ray_address: str | None,
    client_options: Mapping[str, Any],
) -> Executor:
    if isinstance(executor, Executor):
        return executor
    if executor == "local":
        if ray_address is not None:
            raise InvalidArgumentError("ray_address needs executor='ray'")
        return LocalExecutor(concurrency, client_options=client_options)
    if executor == "ray":
        from ._ray import RayExecutor

        return RayExecutor(concurrency, address=ray_address, client_options=client_options)
    raise InvalidArgumentError(f"executor must be 'local', 'ray' or an Executor, not {executor!r}")


async def arun_batch(
    tasks: TaskSource,
    *,
    out: str | os.PathLike[str] | None = None,
    concurrency: int = 4,
    executor: Executor | Literal["local", "ray"] = "local",
    ray_address: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = 2,
    retry_failed: bool = False,
    settings: BatchSettings | None = None,
    client_options: Mapping[str, Any] | None = None,
    on_event: OnEvent | None = None,
) -> AsyncGenerator[TaskResult, None]:
    """Run ``tasks`` (a list of :class:`Task` or the path of a task file) and yield each
    result as it finishes. With ``out``, each result is appended to that file as it
    ends and tasks already there are skipped (``retry_failed``: those that did not
    pass are run again). ``timeout`` and ``retries`` apply to tasks that do not say
    otherwise (``settings`` sets every option of :class:`BatchSettings` at once);
    ``client_options`` go to each :class:`~codexkit.AsyncCodex` (``codex_home``, ...).
    ``on_event`` is called with each :class:`BatchEvent`."""
    if not isinstance(tasks, Sequence) or isinstance(tasks, str):
        tasks = load_tasks(tasks)  # every invalid line is reported before anything runs
    if settings is None:
        settings = BatchSettings(timeout=timeout, retries=retries)
    if settings.retries < 0 or settings.timeout <= 0:
        raise InvalidArgumentError("retries must be at least 0 and timeout more than 0")
    chosen = make_executor(
        executor,
        concurrency=concurrency,
        ray_address=ray_address,
        client_options=client_options or {},
    )
    run, skip = plan_batch(tasks, out, retry_failed=retry_failed)
    progress = BatchProgress(total=len(run), skipped=len(skip))
    emit = on_event or (lambda event: None)

    def running(task_id: str, now: bool) -> None:
        progress.running += 1 if now else -1
        if now:
            emit(BatchEvent("task_started", progress, task_id=task_id))

    writer = ResultWriter(out) if out is not None else None
    emit(BatchEvent("started", progress))
    try:
        # aclosing: a batch left early stops its executor here and now (its workers,
        # its app-servers), not whenever the garbage collector finalizes the generator.
        async with contextlib.aclosing(chosen.run(run, settings, running)) as results:
            async for result in results:
                if writer is not None:
                    writer.write(result)
                progress.counts[result.status] += 1
                emit(BatchEvent("task_finished", progress, task_id=result.id, result=result))
                yield result
    finally:
        if writer is not None:
            writer.close()
    emit(BatchEvent("finished", progress))


def run_batch(tasks: TaskSource, **options: Any) -> Generator[TaskResult, None, None]:
    """:func:`arun_batch` for synchronous code: yields each result as it finishes. The
    batch runs on an event loop of its own thread; leaving the loop early stops it."""
    from .._sync.portal import Portal

    portal = Portal()
    results = arun_batch(tasks, **options)

    async def step() -> TaskResult:
        return await results.__anext__()

    try:
        while True:
            try:
                yield portal.call(step())
            except StopAsyncIteration:
                return
    finally:
        portal.call(results.aclose())
        portal.close()
