"""``Thread`` and ``Turn``: the sync twins of :class:`AsyncThread` and :class:`AsyncTurn`.

Each wraps its async original and runs every call on the client's loop through the
``Runner`` it was given; turn events cross the thread in batches.
"""

from __future__ import annotations

import collections
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import Unpack

from ..events import Event
from ..options import CLIENT_DEFAULT, ThreadOptions, TurnOptions
from ..types import InputLike, Item, TurnResult
from .portal import Runner

if TYPE_CHECKING:
    from .._client.thread import AsyncThread
    from .._client.turn import AsyncTurn

__all__ = ["Thread", "Turn"]

_T = TypeVar("_T")
Json = dict[str, Any]


class Thread:
    """A thread on the app-server; the sync twin of :class:`AsyncThread`."""

    def __init__(self, run: Runner, thread: AsyncThread) -> None:
        self._run = run
        self._async = thread

    @property
    def id(self) -> str:
        return self._async.id

    @property
    def info(self) -> Json:
        return self._async.info

    def _call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        return self._run(coroutine)

    def turn(
        self,
        input: InputLike,
        *,
        model: str | None = None,
        reasoning_effort: str | None = None,
        cwd: str | None = None,
        output_type: type[Any] | None = None,
        output_schema: Json | None = None,
        approval_policy: str | None = None,
        summary: str | None = None,
        collaboration_mode: str | None = None,
        idle_timeout: float | None = CLIENT_DEFAULT,
        params: Json | None = None,
    ) -> Turn:
        """Start a turn and return it at once; iterate it or call ``turn.run()``. The
        options are those of :meth:`AsyncThread.turn`."""
        turn = self._async.turn(
            input,
            model=model,
            reasoning_effort=reasoning_effort,
            cwd=cwd,
            output_type=output_type,
            output_schema=output_schema,
            approval_policy=approval_policy,
            summary=summary,
            collaboration_mode=collaboration_mode,
            idle_timeout=idle_timeout,
            params=params,
        )
        return Turn(self._run, self._call(turn))

    def run(
        self, input: InputLike, *, timeout: float | None = None, **options: Unpack[TurnOptions]
    ) -> TurnResult:
        """Run one turn to the end and return its :class:`TurnResult`; ``options`` are
        those of :meth:`turn`."""
        return self.turn(input, **options).run(timeout=timeout)

    def ask(
        self, input: InputLike, *, timeout: float | None = None, **options: Unpack[TurnOptions]
    ) -> str:
        """Run one turn and return only the agent's final text ("" if it wrote none)."""
        return self.run(input, timeout=timeout, **options).final_response or ""

    def fork(self, **options: Unpack[ThreadOptions]) -> Thread:
        """A new thread with this thread's history; the original is left as it is."""
        return Thread(self._run, self._call(self._async.fork(**options)))

    def read(self, *, include_turns: bool = True) -> Json:
        """The thread as stored by the app-server (``thread/read``), with its turns."""
        return self._call(self._async.read(include_turns=include_turns))

    def review(
        self,
        *,
        base_branch: str | None = None,
        commit: str | None = None,
        commit_title: str | None = None,
        instructions: str | None = None,
        target: Json | None = None,
    ) -> Turn:
        """Start a review of code changes in the thread's directory, as a turn of the
        thread; see :meth:`AsyncThread.review`."""
        review = self._async.review(
            base_branch=base_branch,
            commit=commit,
            commit_title=commit_title,
            instructions=instructions,
            target=target,
        )
        return Turn(self._run, self._call(review))

    def refresh(self) -> Json:
        """Re-read the thread's metadata into :attr:`info` and return it."""
        return self._call(self._async.refresh())

    def set_name(self, name: str) -> None:
        """Give the thread a title (shown by ``list_threads`` as ``name``)."""
        self._call(self._async.set_name(name))

    def archive(self) -> None:
        """Archive the thread (it leaves the default listing and is unloaded)."""
        self._call(self._async.archive())

    def unarchive(self) -> Json:
        """Bring an archived thread back to the default listing; returns its metadata."""
        return self._call(self._async.unarchive())

    def delete(self) -> None:
        """Delete the thread and its stored history for good."""
        self._call(self._async.delete())

    def unsubscribe(self) -> str:
        """Stop receiving this thread's events on this connection."""
        return self._call(self._async.unsubscribe())

    def rollback(self, turns: int = 1) -> Json:
        """Drop the last ``turns`` turns from the thread's history (files the agent
        changed are not restored); returns the updated metadata."""
        return self._call(self._async.rollback(turns))

    def background_terminals(self) -> list[Json]:
        """The commands the agent started in this thread that are still running."""
        return self._call(self._async.background_terminals())

    def clean_background_terminals(self) -> None:
        """End every command the agent started in this thread that still runs."""
        self._call(self._async.clean_background_terminals())

    def compact(self, *, wait: bool = True, timeout: float | None = None) -> TurnResult | None:
        """Summarize the conversation so far to free the model's context window."""
        return self._call(self._async.compact(wait=wait, timeout=timeout))

    def __repr__(self) -> str:
        return f"Thread(id={self.id!r})"


class Turn:
    """A running turn; iterate it for events (synchronously) or call :meth:`run`."""

    def __init__(self, run: Runner, turn: AsyncTurn) -> None:
        self._run = run
        self._async = turn
        self._buffer: collections.deque[Event] = collections.deque()

    @property
    def id(self) -> str | None:
        return self._async.id

    @property
    def thread_id(self) -> str:
        return self._async.thread_id

    @property
    def idle_timeout(self) -> float | None:
        return self._async.idle_timeout

    @property
    def result(self) -> TurnResult | None:
        """The result once the stream has reached the end of the turn."""
        return self._async.result

    @property
    def items(self) -> list[Item]:
        """The items completed so far, in order: all of the turn's once it ended, and what
        a turn that timed out or was abandoned got done before that."""
        return self._async.items

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        if not self._buffer:
            self._buffer.extend(self._run(self._async.next_batch()))
            if not self._buffer:
                raise StopIteration
        return self._buffer.popleft()

    def run(self, *, timeout: float | None = None) -> TurnResult:
        """Consume the remaining events and return the result (errors as in
        :meth:`AsyncTurn.run`)."""
        self._buffer.clear()
        return self._run(self._async.run(timeout=timeout))

    def steer(self, input: InputLike) -> None:
        """Add input to the turn while it runs."""
        self._run(self._async.steer(input))

    def interrupt(self) -> None:
        """Ask the agent to stop; the stream then ends with status ``interrupted``."""
        self._run(self._async.interrupt())

    def __repr__(self) -> str:
        return f"Turn(id={self.id!r}, thread_id={self.thread_id!r})"
