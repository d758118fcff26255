"""Jobs run one at a time per session, in the order they were given.

A session's notifications are recorded (turns, transcript) and published in arrival
order, and the frames of its server requests take their place among them; sessions do
not wait for each other. A session's backlog is bounded; past it a job is refused with a
logged error (it means the database has stalled for a long while).

Items given to ``submit_batched`` while the same handler's batch is still the last job
waiting join that batch: a burst of notifications that piled up behind a slow job is
handled by one call (one transaction), still in order with every other job.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["OrderedJobs"]

_log = logging.getLogger("codexkit.server")
T = TypeVar("T")
Job = Callable[[], Awaitable[Any]]
BatchHandler = Callable[[str, list[Any]], Awaitable[Any]]
DEFAULT_BACKLOG = 100_000
DEFAULT_WAIT = 120.0
MAX_BATCH = 500  # items per batch: one transaction stays short


class _Batch:
    """A job that hands the items given to it, in order, to ``handler`` at once."""

    def __init__(self, key: str, handler: BatchHandler, item: Any) -> None:
        self.key = key
        self.handler = handler
        self.items = [item]

    def joins(self, handler: BatchHandler) -> bool:
        return self.handler == handler and len(self.items) < MAX_BATCH

    async def __call__(self) -> None:
        await self.handler(self.key, self.items)


class OrderedJobs:
    def __init__(self, backlog: int = DEFAULT_BACKLOG) -> None:
        self._backlog = backlog
        self._queues: dict[str, deque[Job]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def submit(self, key: str, job: Job) -> bool:
        """Run ``job`` after the jobs of ``key`` given before it; False if refused."""
        queue = self._queues.setdefault(key, deque())
        if len(queue) >= self._backlog:
            _log.error("session %s has %d jobs waiting; refusing one", key, len(queue))
            return False
        queue.append(job)
        if key not in self._tasks:
            self._tasks[key] = asyncio.get_running_loop().create_task(self._drain(key))
        return True

    def submit_batched(self, key: str, handler: BatchHandler, item: Any) -> bool:
        """Have ``handler(key, items)`` get ``item`` after the jobs of ``key`` given
        before it, together with the items given after it until another job is."""
        queue = self._queues.get(key)
        if queue:
            last = queue[-1]
            if isinstance(last, _Batch) and last.joins(handler):
                last.items.append(item)
                return True
        return self.submit(key, _Batch(key, handler, item))

    async def call(
        self, key: str, job: Callable[[], Awaitable[T]], *, timeout: float = DEFAULT_WAIT
    ) -> T:
        """Run ``job`` in ``key``'s order and return its result; ``TimeoutError`` when it
        has not run within ``timeout`` seconds (the store has stalled)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        async def run() -> None:
            try:
                result = await job()
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)

        if not self.submit(key, run):
            raise RuntimeError(f"session {key} has too many jobs waiting")
        return await asyncio.wait_for(future, timeout)

    async def settled(self, key: str) -> None:
        """Wait until every job of ``key`` given so far has run."""

        async def nothing() -> None:
            return None

        await self.call(key, nothing)

    async def _drain(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                job = queue.popleft()
                try:
                    await job()
                except Exception:
                    _log.exception("a job of session %s failed", key)
        finally:
            self._tasks.pop(key, None)
            if not queue:
                self._queues.pop(key, None)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._queues.clear()
