"""The private event loop of a sync client, on a thread of its own.

A :class:`Portal` runs coroutines on its loop for callers on other threads; the sync
twins hold a :class:`Runner` (the client's ``_call``) to reach it, never the client.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from ..errors import CodexError, ForkedClientError

__all__ = ["Portal", "Runner"]

_T = TypeVar("_T")


class Runner(Protocol):
    """Runs a coroutine on a sync client's loop and waits for its result."""

    def __call__(self, coroutine: Coroutine[Any, Any, _T], /) -> _T: ...


class Portal:
    """A private event loop on a thread of its own; sync calls run their work there."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="codexkit-loop", daemon=True)
        self._thread.start()
        self._owner = os.getpid()

    @property
    def inherited(self) -> bool:
        """Whether this is a forked copy, in a child where the loop's thread does not run."""
        return self._owner != os.getpid()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        if pending:
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    def submit(self, coroutine: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        """Start ``coroutine`` on the private loop; the future holds its outcome."""
        if self.inherited:  # nothing would ever run it: fail now rather than hang
            coroutine.close()
            raise ForkedClientError(self._owner, os.getpid())
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise CodexError(
                "a sync codexkit call was made from codexkit's own loop thread (from an "
                "async callback or a listener?); use the async API there"
            )
        if self._loop.is_closed():
            coroutine.close()
            raise CodexError("this Codex client is closed")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` on the private loop and return its result (or raise)."""
        future = self.submit(coroutine)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt: do not leave the work running
            raise

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def close_soon(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run ``coroutine``, then stop the loop and its thread, without waiting for
        either: callable from any thread, the loop's own included (a finalizer)."""
        try:
            self._loop.call_soon_threadsafe(self._finish, coroutine)
        except RuntimeError:  # the loop is closed already
            coroutine.close()

    def _finish(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = self._loop.create_task(coroutine)
        task.add_done_callback(lambda _: self._loop.stop())
