"""The local executor: tasks in this process, sharing a bounded pool of app-servers."""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from typing import Any

from .._client.client import AsyncCodex
from ..errors import CodexError, InvalidArgumentError
from ._pool import ClientPool
from ._result import TaskResult
from ._runner import BatchSettings, run_task
from ._task import Task

__all__ = ["ClientOptions", "Executor", "LocalExecutor", "OnRunning"]

#: Called with a task's id and True when an executor starts running it, and with False
#: when it stopped running (just before its result is yielded).
OnRunning = Callable[[str, bool], None]

#: How many tasks share one app-server by default (a server runs many threads at once;
#: a few processes spread the model-event work over the machine's cores).
TASKS_PER_SERVER = 4


class ClientOptions(dict[str, Any]):
    """Keyword arguments for each :class:`~codexkit.AsyncCodex` an executor starts
    (``codex_home``, ``codex_bin``, ``config``, ``env``, ...): a plain picklable dict."""


class Executor:
    """Runs tasks and yields their results as they finish (any order)."""

    concurrency: int

    def run(
        self, tasks: Sequence[Task], settings: BatchSettings, on_running: OnRunning | None = None
    ) -> AsyncGenerator[TaskResult, None]:
        raise NotImplementedError


def client_factory(options: Mapping[str, Any]) -> Callable[[], AsyncCodex]:
    """Makes the clients tasks run on: a task's own ``timeout`` bounds its turn, so no
    idle limit ends one early."""

    def make() -> AsyncCodex:
        return AsyncCodex(**{"turn_idle_timeout": None, **options})

    return make


class LocalExecutor(Executor):
    """Up to ``concurrency`` tasks at once in this process, on ``servers`` app-servers
    (default: one per four tasks). ``client_options`` go to each
    :class:`~codexkit.AsyncCodex` (``codex_home``, ``codex_bin``, ``config``, ``env``)."""

    def __init__(
        self,
        concurrency: int = 4,
        *,
        servers: int | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        if concurrency < 1:
            raise InvalidArgumentError(f"concurrency must be at least 1, not {concurrency}")
        if servers is not None and servers < 1:
            raise InvalidArgumentError(f"servers must be at least 1, not {servers}")
        self.concurrency = concurrency
        self.servers = servers or math.ceil(concurrency / TASKS_PER_SERVER)
        self.client_options = dict(client_options or {})

    async def run(
        self, tasks: Sequence[Task], settings: BatchSettings, on_running: OnRunning | None = None
    ) -> AsyncGenerator[TaskResult, None]:
        todo = iter(tasks)
        done: asyncio.Queue[TaskResult] = asyncio.Queue(maxsize=self.concurrency)
        async with ClientPool(self.servers, client_factory(self.client_options)) as pool:
            workers = [
                asyncio.create_task(_work(todo, pool, settings, done, on_running))
                for _ in range(min(self.concurrency, len(tasks)) or 1)
            ]
            try:
                for _ in range(len(tasks)):
                    yield await _next_result(done, workers)
                await asyncio.gather(*workers)
            finally:
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)


async def _next_result(
    done: asyncio.Queue[TaskResult], workers: list[asyncio.Task[None]]
) -> TaskResult:
    """The next result; a worker that crashed (a bug: run_task reports failures in its
    result) raises here instead of leaving the batch waiting."""
    getter: asyncio.Future[Any] = asyncio.ensure_future(done.get())
    while True:
        waiting: list[asyncio.Future[Any]] = [getter]
        waiting.extend(worker for worker in workers if not worker.done())
        finished, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if getter in finished:
            result = getter.result()
            assert isinstance(result, TaskResult)
            return result
        for worker in finished:
            error = worker.exception()
            if error is not None:
                getter.cancel()
                raise error


async def _work(
    todo: Iterator[Task],
    pool: ClientPool,
    settings: BatchSettings,
    done: asyncio.Queue[TaskResult],
    on_running: OnRunning | None,
) -> None:
    for task in todo:  # workers share the iterator: each task is taken once
        if on_running is not None:
            on_running(task.id, True)
        result = await _run_one(task, pool, settings)
        if on_running is not None:
            on_running(task.id, False)
        await done.put(result)


async def _run_one(task: Task, pool: ClientPool, settings: BatchSettings) -> TaskResult:
    try:
        async with pool.lease() as codex:
            return await run_task(task, codex, settings)
    except (CodexError, OSError) as exc:  # no app-server could be started for it
        return TaskResult(
            id=task.id,
            status="error",
            error=f"no app-server for the task: {exc}",
            worker=f"local:{os.getpid()}",
        )
