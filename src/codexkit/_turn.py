"""A running turn: its event stream, its result, steering and interruption."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from ._errors import (
    CodexError,
    CodexTimeoutError,
    OutputParseError,
    TransportClosedError,
    TurnFailedError,
)
from ._structured import OutputSpec
from ._telemetry import end_span, start_span, within
from .events import (
    AgentMessageDelta,
    CommandOutputDelta,
    Event,
    FileChangeOutputDelta,
    ItemCompleted,
    ItemStarted,
    ReasoningDelta,
    StreamError,
    TokenUsageUpdated,
    TurnCompleted,
    TurnFailed,
    parse_event,
)
from .types import (
    AgentMessageItem,
    InputLike,
    Item,
    TokenUsage,
    TurnResult,
    error_object,
    normalize_input,
)

if TYPE_CHECKING:
    from ._thread import AsyncThread

__all__ = ["AsyncTurn"]

Json = dict[str, Any]
_Entry = tuple[str, Json, Json]


class AsyncTurn:
    """One turn of a thread, already started on the app-server.

    Iterate it (``async for event in turn``) for typed events, or call :meth:`run` for
    the :class:`TurnResult`. Events are buffered from the moment the turn starts, so
    nothing is missed by iterating late. One consumer per turn.
    """

    def __init__(
        self, thread: AsyncThread, *, idle_timeout: float | None, output: OutputSpec | None = None
    ) -> None:
        self.thread = thread
        self._output = output
        self._output_error: OutputParseError | None = None
        self.id: str | None = None
        self.idle_timeout = idle_timeout
        self._queue: collections.deque[_Entry] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._failure: BaseException | None = None
        self._finished = False  # turn/completed was received
        self._drained = False  # ... and handed to the consumer
        self._items: list[Item] = []
        self._usage: TokenUsage | None = None
        self._result: TurnResult | None = None
        self._deadline: float | None = None
        self._last_error: Json | None = None
        self._answering = 0
        self._interrupting: asyncio.Future[None] | None = None
        self._span = start_span("codex.turn", **{"codex.thread_id": thread.id})

    @property
    def thread_id(self) -> str:
        return self.thread.id

    @property
    def result(self) -> TurnResult | None:
        """The result once the stream has reached the end of the turn."""
        return self._result

    # -- fed by the client's router (on the event loop, in arrival order) -------------

    def _owns(self, params: Json) -> bool:
        turn_id = params.get("turnId")
        if turn_id is None:
            turn = params.get("turn")
            if isinstance(turn, dict):
                # A review's turn/started names its inner turn and points at ours as root.
                if self.id is not None and turn.get("rootTurnId") == self.id:
                    return True
                turn_id = turn.get("id")
        return turn_id is None or self.id is None or turn_id == self.id

    def _feed(self, method: str, params: Json, raw: Json) -> None:
        if self.id is None and method == "turn/started":
            turn = params.get("turn")  # a turn started without an id in the request's answer
            if isinstance(turn, dict) and turn.get("id"):
                self.id = str(turn["id"])
        self._queue.append((method, params, raw))
        if method == "turn/completed":
            self._finished = True
            self.thread._record_turn(params.get("turn"))
            self.thread._turn_finished(self)
        self._wake()

    def _fail(self, error: BaseException) -> None:
        if not self._finished and self._failure is None:
            self._failure = error
            self._end_span(error=error)
            self._wake()

    def _end_span(self, *, error: BaseException | None = None) -> None:
        span, self._span = self._span, None
        result = self._result
        end_span(
            span,
            error=error,
            **{
                "codex.turn_id": self.id,
                "codex.turn.status": result.status if result else None,
                "codex.usage.total_tokens": result.usage.total_tokens
                if result and result.usage
                else None,
            },
        )

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- consuming ----------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        if self._drained:
            raise StopAsyncIteration
        if not self._queue:
            await self._ready()
        return self._pop()

    async def next_batch(self, limit: int = 512) -> list[Event]:
        """Every event buffered now (at least one; up to ``limit``), or ``[]`` at the end.

        One await for many events: the sync client uses it to cross threads once per
        batch instead of once per event."""
        if self._drained:
            return []
        await self._ready()
        batch = [self._pop()]
        while self._queue and not self._drained and len(batch) < limit:
            batch.append(self._pop())
        return batch

    async def _ready(self) -> None:
        while not self._queue:
            if self._failure is not None:
                raise self._failure
            await self._wait()

    def _pop(self) -> Event:
        method, params, raw = self._queue.popleft()
        event = parse_event(method, params, raw)
        self._collect(event)
        return event

    async def _wait(self) -> None:
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        limit, reason = self._next_limit()
        timer = (
            loop.call_later(limit, self._time_out, waiter, reason) if limit is not None else None
        )
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _next_limit(self) -> tuple[float | None, str]:
        # While the agent waits for one of our answers (an approval a person is reading,
        # say) its silence is ours, not its: only the turn's own deadline applies.
        idle = None if self._answering else self.idle_timeout
        if self._deadline is None:
            return idle, f"no event for {idle:g} s" if idle is not None else ""
        left = max(0.0, self._deadline - time.monotonic())
        if idle is not None and idle < left:
            return idle, f"no event for {idle:g} s"
        return left, "the turn's time limit passed"

    @contextlib.contextmanager
    def _answering_request(self) -> Iterator[None]:
        """Mark that a request of this turn's agent is being answered (see above); tool
        calls answered meanwhile trace as children of the turn."""
        self._answering += 1
        self._wake()  # re-arm the wait without the idle limit
        try:
            with within(self._span):
                yield
        finally:
            self._answering -= 1
            self._wake()  # and with it again

    def _time_out(self, waiter: asyncio.Future[None], reason: str) -> None:
        if waiter.done():
            return
        self._failure = CodexTimeoutError(f"turn {self.id}: {reason}")
        self._end_span(error=self._failure)
        waiter.set_result(None)
        # Stop the agent too: a turn nobody waits for should not keep working.
        self._interrupting = asyncio.ensure_future(self._interrupt_quietly())

    def _collect(self, event: Event) -> None:
        if type(event) in _PASSING:  # deltas and the like: nothing to keep (the common case)
            return
        if isinstance(event, ItemCompleted):
            self._items.append(event.item)
        elif isinstance(event, TokenUsageUpdated):
            self._usage = event.usage
        elif isinstance(event, (TurnCompleted, TurnFailed)):
            self._drained = True
            self._result = self._build_result(event)
            failed = isinstance(event, TurnFailed)
            self._end_span(error=TurnFailedError(self._result) if failed else None)
        elif isinstance(event, StreamError) and not event.will_retry:
            self._last_error = event.error

    def _build_result(self, event: TurnCompleted | TurnFailed) -> TurnResult:
        turn = event.turn
        status = event.status if isinstance(event, TurnCompleted) else "failed"
        error = error_object(turn.get("error")) or self._last_error
        result = TurnResult(
            thread_id=self.thread.id,
            turn_id=str(turn.get("id") or self.id),
            status=status,
            final_response=_final_text(self._items),
            items=list(self._items),
            usage=self._usage,
            error=error,
            duration_ms=turn.get("durationMs"),
        )
        if self._output is None:
            return result
        result, self._output_error = self._output.apply(result)
        return result

    async def run(self, *, timeout: float | None = None) -> TurnResult:
        """Consume the remaining events and return the result.

        Raises :class:`TurnFailedError` (with the partial result) when the turn fails,
        :class:`OutputParseError` when a structured answer does not parse,
        :class:`CodexTimeoutError` when ``timeout`` seconds pass (the turn is then
        interrupted), and :class:`TransportClosedError` if the app-server goes away.
        """
        if timeout is not None:
            self._deadline = time.monotonic() + timeout
        try:
            async for _ in self:
                pass
        finally:
            self._deadline = None
        assert self._result is not None
        if self._result.status == "failed":
            raise TurnFailedError(self._result)
        if self._output_error is not None:
            raise self._output_error
        return self._result

    # -- controlling --------------------------------------------------------------------

    async def steer(self, input: InputLike) -> None:
        """Add input to the turn while it runs."""
        await self.thread.codex._request(
            "turn/steer",
            {
                "threadId": self.thread.id,
                "expectedTurnId": self._require_id(),
                "input": normalize_input(input),
            },
        )

    async def interrupt(self) -> None:
        """Ask the agent to stop; the stream then ends with status ``interrupted``."""
        await self.thread.codex._request(
            "turn/interrupt", {"threadId": self.thread.id, "turnId": self._require_id()}
        )

    async def _interrupt_quietly(self) -> None:
        if self.id is None or self._finished:
            return
        with contextlib.suppress(CodexError, TransportClosedError):
            await self.interrupt()

    def _require_id(self) -> str:
        if self.id is None:
            raise CodexError("the turn has not started yet")
        return self.id

    def __repr__(self) -> str:
        return f"AsyncTurn(id={self.id!r}, thread_id={self.thread.id!r})"


# Event types that change nothing in the turn's result.
_PASSING = frozenset(
    {AgentMessageDelta, CommandOutputDelta, FileChangeOutputDelta, ReasoningDelta, ItemStarted}
)


def _final_text(items: list[Item]) -> str | None:
    """The last agent message that is not commentary, else the last agent message."""
    messages = [item for item in items if isinstance(item, AgentMessageItem)]
    for message in reversed(messages):
        if message.phase != "commentary":
            return message.text
    return messages[-1].text if messages else None
