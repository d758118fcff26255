"""A thread's own handlers (its approval policy and tools), kept as long as the thread can
still send requests for them, and no longer."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .dispatch import ThreadHandlers

__all__ = ["ThreadRegistrations"]


class ThreadRegistrations:
    """The dispatcher's table of per-thread handlers, with a count of live handles.

    A thread's entry goes when the last :class:`AsyncThread` handle of it is collected,
    when it is unsubscribed, archived or deleted, or when the app-server says it closed:
    a long-lived client that opens many threads keeps only those still in use. Handles
    opened later on the same thread (a resume, ``codex.thread(id)``) share its entry;
    one opened with new handlers replaces it, and the older handles stop counting.
    """

    def __init__(self, table: dict[str, ThreadHandlers]) -> None:
        self._table = table  # the dispatcher answers requests from it
        self._handles: dict[str, int] = {}

    def hold(self, thread_id: str, handle: object, handlers: ThreadHandlers | None = None) -> None:
        """Register ``handlers`` for the thread if it has any of its own, and keep the
        thread's entry while ``handle`` (a thread handle) is alive."""
        if handlers is not None and (handlers.policy is not None or handlers.tools is not None):
            self._table[thread_id] = handlers
            self._handles[thread_id] = 0
        held = self._table.get(thread_id)
        if held is None:
            return
        self._handles[thread_id] = self._handles.get(thread_id, 0) + 1
        # The callback holds the entry it counts for, not the client (nor the thread).
        weakref.finalize(handle, self._let_go, thread_id, held).atexit = False

    def drop(self, thread_id: str) -> None:
        """Forget the thread's handlers: it can no longer send requests."""
        self._table.pop(thread_id, None)
        self._handles.pop(thread_id, None)

    def _let_go(self, thread_id: str, held: ThreadHandlers) -> None:
        if self._table.get(thread_id) is not held:
            return  # dropped, or replaced by a later registration
        left = self._handles.get(thread_id, 1) - 1
        if left > 0:
            self._handles[thread_id] = left
        else:
            self.drop(thread_id)
