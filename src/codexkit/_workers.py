"""Threads for the plain (non-``async``) callbacks and ``@tool`` functions a client runs.

A plain callback may block for as long as it likes: a person at a prompt, a hung network
call. Run on the event loop's default executor it would do harm twice over: that executor
has a handful of threads, so a few blocked callbacks keep every later one from running, and
``asyncio.run`` (like the interpreter, through ``concurrent.futures``' exit hook) waits for
its threads before it returns. A :class:`CallbackPool` has its own threads, grows up to
its size as calls arrive, and makes them daemon threads nobody joins: a callback still
running when the program ends is abandoned, not waited for.

Each client owns one pool (``callback_workers=`` sets its size), so a client whose
callbacks hang cannot starve another client in the same process. Code that runs outside
any client (``await some_tool.invoke(...)``) uses a shared pool of the default size.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ._defaults import DEFAULT_CALLBACK_WORKERS

__all__ = ["DEFAULT_CALLBACK_WORKERS", "CallbackPool", "reset_pool", "run_plain", "using_pool"]

_T = TypeVar("_T")
_Work = tuple["concurrent.futures.Future[Any]", Callable[[], Any]]


class CallbackPool:
    """Up to ``size`` daemon threads running plain callbacks. Threads start as calls
    arrive and end after ``idle_seconds`` without work (or at :meth:`close`)."""

    def __init__(
        self,
        size: int = DEFAULT_CALLBACK_WORKERS,
        *,
        name: str = "codexkit-callback",
        idle_seconds: float = 60.0,
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"callback_workers must be an int, got {size!r}")
        if size < 1:
            raise ValueError(f"callback_workers must be at least 1, got {size}")
        self.size = size
        self._name = name
        self._idle_seconds = idle_seconds
        self._work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        # Counts, not thread objects: any serving thread may take any queued call.
        self._threads = 0  # threads serving the pool (not those told to leave)
        self._idle = 0  # ... of which wait for work that no queued call has claimed

    def submit(self, fn: Callable[..., _T], /, *args: Any) -> concurrent.futures.Future[_T]:
        """Run ``fn(*args)`` on a pool thread (in the caller's context variables).

        Cancelling the future before a thread takes the call means it never runs; a call
        already running cannot be stopped, and its result is dropped."""
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        with self._lock:
            self._work.put((future, call))
            if self._idle:
                self._idle -= 1  # a waiting thread takes it
                return future
            if self._threads >= self.size:
                return future  # it waits in the queue for a thread to come free
            self._threads += 1
            number = self._threads
        thread = threading.Thread(target=self._serve, name=f"{self._name}-{number}", daemon=True)
        thread.start()
        return future

    def close(self) -> None:
        """End the idle threads now; busy ones end once idle for ``idle_seconds``.
        The pool stays usable: a later call starts threads again."""
        with self._lock:
            leaving, self._idle = self._idle, 0
            self._threads -= leaving
            for _ in range(leaving):
                self._work.put(None)

    def _serve(self) -> None:
        while True:
            try:
                work = self._work.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._idle:  # nobody counts on this thread: leave
                        self._idle -= 1
                        self._threads -= 1
                        return
                continue  # a call is on its way to a waiting thread; maybe this one
            if work is None:  # told to leave by close(), which did the counting
                return
            future, call = work
            del work
            if future.set_running_or_notify_cancel():
                try:
                    result = call()
                except BaseException as exc:  # handed to the waiting coroutine
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, call
            with self._lock:
                self._idle += 1

    def __repr__(self) -> str:
        return f"CallbackPool(size={self.size}, threads={self._threads})"


_shared: CallbackPool | None = None
_shared_lock = threading.Lock()
_current: contextvars.ContextVar[CallbackPool | None] = contextvars.ContextVar(
    "codexkit_callback_pool", default=None
)


def _pool() -> CallbackPool:
    pool = _current.get()
    if pool is not None:
        return pool
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = CallbackPool(name="codexkit-shared-callback")
        return _shared


def using_pool(pool: CallbackPool) -> contextvars.Token[CallbackPool | None]:
    """Make ``pool`` the one :func:`run_plain` uses in the current context (a client sets
    its own while it answers a request); undo with ``reset_pool(token)``."""
    return _current.set(pool)


def reset_pool(token: contextvars.Token[CallbackPool | None]) -> None:
    _current.reset(token)


async def run_plain(fn: Callable[..., _T], /, *args: Any) -> _T:
    """Await ``fn(*args)`` run on the current client's pool (see :func:`using_pool`)."""
    return await asyncio.wrap_future(_pool().submit(fn, *args))
