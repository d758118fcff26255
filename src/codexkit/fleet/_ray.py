"""The Ray executor: each task a Ray task, results streamed back as each finishes.

Every node needs only ``pip install 'codexkit[ray]'`` (the codex binary comes with it).
A Ray worker process keeps one app-server for the tasks it runs, one after another. A
worker that dies mid-task (its node lost, the process killed) is a system failure to
Ray, which runs the task again on another worker, up to ``max_retries`` times; a task
whose attempts all died ends as ``error``. Tasks read their ``workdir`` or ``repo`` and
``CODEX_HOME`` at the same paths on every node: a shared filesystem, or the same
checkout everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from ..errors import InvalidArgumentError
from ._local import Executor, OnRunning, client_factory
from ._pool import ClientPool
from ._result import TaskResult
from ._runner import BatchSettings, run_task
from ._task import Task

__all__ = ["RayExecutor"]


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InvalidArgumentError(
            "the Ray executor needs Ray: pip install 'codexkit[ray]'"
        ) from None
    return ray


class RayExecutor(Executor):
    """Up to ``concurrency`` tasks at once as Ray tasks on the cluster at ``address``
    (default: the one ``ray.init()`` finds or starts). ``num_cpus`` is what each task
    reserves on its node (mostly the agent waits for its model: a fraction of a CPU);
    ``max_retries`` how often a task whose worker died is run again."""

    def __init__(
        self,
        concurrency: int = 4,
        *,
        address: str | None = None,
        client_options: Mapping[str, Any] | None = None,
        num_cpus: float = 0.25,
        max_retries: int = 3,
    ) -> None:
        if concurrency < 1:
            raise InvalidArgumentError(f"concurrency must be at least 1, not {concurrency}")
        if num_cpus <= 0 or max_retries < 0:
            raise InvalidArgumentError("num_cpus must be more than 0 and max_retries at least 0")
        self.concurrency = concurrency
        self.address = address
        self.client_options = dict(client_options or {})
        self.num_cpus = num_cpus
        self.max_retries = max_retries
        self._ray = _import_ray()

    async def run(
        self, tasks: Sequence[Task], settings: BatchSettings, on_running: OnRunning | None = None
    ) -> AsyncGenerator[TaskResult, None]:
        ray = self._ray
        started_here = not ray.is_initialized()
        if started_here:
            await asyncio.to_thread(
                ray.init,
                address=self.address,
                include_dashboard=False,
                logging_level=logging.WARNING,
                log_to_driver=False,
            )
        remote = ray.remote(_run_remote).options(
            num_cpus=self.num_cpus, max_retries=self.max_retries, retry_exceptions=False
        )
        todo = iter(tasks)
        pending: dict[asyncio.Future[Any], Task] = {}
        refs: dict[asyncio.Future[Any], Any] = {}
        try:
            while True:
                while len(pending) < self.concurrency and (task := next(todo, None)):
                    ref = remote.remote(task.model_dump(), settings, self.client_options)
                    future = asyncio.wrap_future(ref.future())
                    pending[future], refs[future] = task, ref
                    if on_running is not None:
                        on_running(task.id, True)
                if not pending:
                    return
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    task = pending.pop(future)
                    refs.pop(future)
                    if on_running is not None:
                        on_running(task.id, False)
                    yield _result_of(future, task)
        finally:
            for future in pending:  # the batch was stopped: so are its tasks on the cluster
                future.cancel()
                with contextlib.suppress(Exception):
                    ray.cancel(refs[future], force=True)
            if started_here:
                await asyncio.to_thread(ray.shutdown)


def _result_of(future: asyncio.Future[Any], task: Task) -> TaskResult:
    error = future.exception()
    if error is None:
        return TaskResult.model_validate(future.result())
    # The task's every attempt died with its worker, or Ray could not run it at all.
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return TaskResult(
        id=task.id, status="error", error=f"Ray: {type(error).__name__}: {first}"[:2000]
    )


# -- on the worker ------------------------------------------------------------------------

#: This worker process's event loop thread and app-server pool, kept between the tasks it
#: runs (one at a time): (client options, portal, pool).
_worker: tuple[dict[str, Any], Any, ClientPool] | None = None


def _worker_pool(options: dict[str, Any]) -> tuple[Any, ClientPool]:
    global _worker
    from .._sync.portal import Portal

    if _worker is not None and _worker[0] == options:
        return _worker[1], _worker[2]
    if _worker is not None:
        _, old_portal, old_pool = _worker
        with contextlib.suppress(Exception):
            old_portal.call(old_pool.close())
        old_portal.close()
    portal = Portal()
    pool = ClientPool(1, client_factory(options))
    _worker = (options, portal, pool)
    return portal, pool


def _run_remote(
    task_data: dict[str, Any], settings: BatchSettings, client_options: dict[str, Any]
) -> dict[str, Any]:
    """Run one task on this worker's app-server; the result as plain data."""
    task = Task.model_validate(task_data)
    portal, pool = _worker_pool(client_options)
    worker = f"{socket.gethostname()}:{os.getpid()}"

    async def run() -> TaskResult:
        async with pool.lease() as codex:
            return await run_task(task, codex, settings, worker=worker)

    result: TaskResult = portal.call(run())
    return result.model_dump(mode="json")
