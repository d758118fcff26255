"""A running turn: its event stream, its result, steering and interruption.

A turn talks to the app-server only through the router: it gives the router an inbox for
its thread's notifications (:func:`start_turn`) and sends its requests through it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .._structured import OutputSpec
from .._telemetry import end_span, start_span, within
from ..errors import (
    CodexError,
    CodexTimeoutError,
    ConcurrentConsumerError,
    EventBufferFullError,
    MethodNotFoundError,
    OutputParseError,
    ProtocolError,
    RpcError,
    TurnFailedError,
    error_object,
)
from ..events import (
    AgentMessageDelta,
    CommandOutputDelta,
    Event,
    FileChangeOutputDelta,
    ItemCompleted,
    ItemStarted,
    MalformedEvent,
    McpToolCallProgress,
    ReasoningDelta,
    StreamError,
    TokenUsageUpdated,
    TurnCompleted,
    TurnFailed,
    parse_event,
)
from ..types import (
    AgentMessageItem,
    InputLike,
    Item,
    McpToolCallItem,
    TokenUsage,
    TurnResult,
    normalize_input,
)

if TYPE_CHECKING:
    from ..protocol import ClientMethod
    from .router import Router

__all__ = ["AsyncTurn", "start_turn", "until_stopped"]

_log = logging.getLogger("codexkit")

Json = dict[str, Any]
_Entry = tuple[str, Json, Json]

# Bounds on stopping a turn: interrupting it and ending its commands, then the wait of a
# new turn on the thread for the stopped one to end.
_STOP_TIMEOUT = 10.0
# How long interrupt() and steer() wait for the runtime to start a turn it has accepted
# (it refuses both until then).
_START_TIMEOUT = 10.0
# Stops nobody awaits, kept here so they are not collected while they run.
_stopping_tasks: set[asyncio.Future[None]] = set()


class AsyncTurn:
    """One turn of a thread, already started on the app-server.

    Iterate it (``async for event in turn``) for typed events, or call :meth:`run` for
    the :class:`TurnResult`. Events are buffered from the moment the turn starts, so
    nothing is missed by iterating late, up to the client's ``max_buffered_events``
    (then :class:`EventBufferFullError`). One consumer at a time: asking for events while
    another consumer waits for them raises :class:`ConcurrentConsumerError`.
    """

    def __init__(
        self,
        router: Router,
        thread_id: str,
        *,
        idle_timeout: float | None,
        max_buffered_events: int | None,
        output: OutputSpec | None = None,
        on_finished: Callable[[AsyncTurn, Any], None] | None = None,
    ) -> None:
        self._router = router
        self._thread_id = thread_id
        self._inbox = _Inbox(self)
        self._on_finished = on_finished
        self._completed: Any = None  # the turn of turn/completed, as the server sent it
        self._output = output
        self._output_error: OutputParseError | None = None
        self.id: str | None = None
        self.idle_timeout = idle_timeout
        self._queue: collections.deque[_Entry] = collections.deque()
        self._max_buffered = max_buffered_events
        self._overflowed = False  # the buffer filled up: nothing more is kept
        self._waiter: asyncio.Future[None] | None = None
        self._failure: BaseException | None = None
        self._finished = False  # turn/completed was received
        self._drained = False  # ... and handed to the consumer
        self._items: list[Item] = []
        self._progress: dict[str, list[str]] = {}  # of MCP tool calls in flight
        self._usage: TokenUsage | None = None
        self._result: TurnResult | None = None
        self._deadline: float | None = None
        self._last_error: Json | None = None
        self._answering = 0
        self._interrupting: asyncio.Future[None] | None = None
        self._stopping = False  # the runtime accepted our interrupt (or the turn ended)
        self._started = asyncio.Event()  # the runtime started the turn (or it ended)
        self._ended = asyncio.Event()  # turn/completed came, or the turn failed
        self._span = start_span("codex.turn", **{"codex.thread_id": thread_id})

    @property
    def thread_id(self) -> str:
        return self._thread_id

    @property
    def result(self) -> TurnResult | None:
        """The result once the stream has reached the end of the turn."""
        return self._result

    @property
    def items(self) -> list[Item]:
        """The items completed so far, in order: all of the turn's once it ended, and what
        a turn that timed out or was abandoned got done before that."""
        return list(self._items)

    # -- fed by the router through the inbox (on the event loop, in arrival order) ------

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
        if not self._overflowed:
            if self._max_buffered is not None and len(self._queue) >= self._max_buffered:
                self._overflow()
            else:
                self._queue.append((method, params, raw))
        if method == "turn/started":
            self._started.set()
        elif method == "turn/completed":
            self._finished = True
            self._completed = params.get("turn")
            self._finish()
            self._mark_ended()
        self._wake()

    def _overflow(self) -> None:
        assert self._max_buffered is not None
        self._overflowed = True
        if self._failure is None:
            self._fail(EventBufferFullError(self.id, self._max_buffered))
            # Nobody is reading this turn: stop the agent rather than let it work unseen.
            self._stop_in_background()

    def _fail(self, error: BaseException) -> None:
        if not self._finished and self._failure is None:
            self._failure = error
            self._end_span(error=error)
            self._wake()
        self._mark_ended()  # no turn/completed will come for us

    def _finish(self) -> None:
        """The thread is free for a new turn: this one's notifications go elsewhere."""
        self._router.release(self._thread_id, self._inbox)
        if self._on_finished is not None:
            on_finished, self._on_finished = self._on_finished, None
            on_finished(self, self._completed)

    def _mark_ended(self) -> None:
        self._ended.set()
        self._started.set()  # nothing to wait for any more

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
        self._check_one_consumer()
        if self._drained:
            raise StopAsyncIteration
        if not self._queue:
            await self._ready()
        return self._pop()

    async def next_batch(self, limit: int | None = None) -> list[Event]:
        """Every event buffered now (at least one; up to ``limit`` if given), or ``[]`` at
        the end.

        One await for many events: the sync client uses it to cross threads once per
        batch instead of once per event. Taking all there is keeps a consumer on another
        thread from falling behind (and into ``max_buffered_events``) during a flood."""
        self._check_one_consumer()
        if self._drained:
            return []
        await self._ready()
        batch = [self._pop()]
        while self._queue and not self._drained and (limit is None or len(batch) < limit):
            batch.append(self._pop())
        return batch

    def _check_one_consumer(self) -> None:
        # Two consumers waiting at once would split the events and one would wait for
        # ever (only the latest waiter is woken): the second is refused.
        if self._waiter is not None:
            raise ConcurrentConsumerError(
                f"turn {self.id}: another consumer is already waiting for this turn's events"
            )

    async def _ready(self) -> None:
        while not self._queue:
            if self._failure is not None:
                raise self._failure
            await self._wait()

    def _pop(self) -> Event:
        method, params, raw = self._queue.popleft()
        event = parse_event(method, params, raw)
        try:
            self._collect(event)
        except Exception as exc:  # a payload no result can be built from: pass it on raw
            error = f"{type(exc).__name__}: {exc}"
            _log.warning("turn %s: cannot use its %s event (%s)", self.id, method, error)
            event = MalformedEvent(method, event.thread_id, event.turn_id, raw, error)
        if method == "turn/completed" and not self._drained:
            self._end_unread(event, raw)
        return event

    def _end_unread(self, event: Event, raw: Json) -> None:
        """The turn is over on the server but its turn/completed cannot say how: the
        stream ends with a typed error once this event is handed out."""
        why = event.error if isinstance(event, MalformedEvent) else "unexpected shape"
        self._failure = ProtocolError(f"turn {self.id}: unreadable turn/completed ({why})", raw=raw)
        self._end_span(error=self._failure)

    async def _wait(self) -> None:
        self._router.check_fork()  # in a forked child no event would ever come
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        limit, reason = self._next_limit()
        timer = (
            loop.call_later(limit, self._time_out, waiter, reason) if limit is not None else None
        )
        try:
            await waiter
        except asyncio.CancelledError:
            # Whoever waited on the turn gave up on it (a cancelled task, a timeout around
            # it, Ctrl-C in the sync client): stop the turn rather than let it run unread.
            if not self._ended.is_set():
                self._stop_in_background()
            raise
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
        self._stop_in_background()

    def _collect(self, event: Event) -> None:
        if type(event) in _PASSING:  # deltas and the like: nothing to keep (the common case)
            return
        if isinstance(event, ItemCompleted):
            item = event.item
            if isinstance(item, McpToolCallItem) and item.id in self._progress:
                item = replace(item, progress=tuple(self._progress.pop(item.id)))
                event.item = item
            self._items.append(item)
        elif isinstance(event, McpToolCallProgress):
            messages = self._progress.setdefault(event.item_id, [])
            if len(messages) < _PROGRESS_LIMIT:
                messages.append(event.message)
        elif isinstance(event, TokenUsageUpdated):
            self._usage = event.usage
        elif isinstance(event, (TurnCompleted, TurnFailed)):
            self._result = self._build_result(event)
            failed = isinstance(event, TurnFailed)
            self._end_span(error=TurnFailedError(self._result) if failed else None)
            self._drained = True  # last: a result that cannot be built ends it in _pop
        elif isinstance(event, StreamError) and not event.will_retry:
            self._last_error = event.error

    def _build_result(self, event: TurnCompleted | TurnFailed) -> TurnResult:
        turn = event.turn
        status = event.status if isinstance(event, TurnCompleted) else "failed"
        error = error_object(turn.get("error")) or self._last_error
        result = TurnResult(
            thread_id=self._thread_id,
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
        """Add input to the turn while it runs (from the moment ``turn()`` returned)."""
        await self._until_started()
        await self._router.request(
            "turn/steer",
            {
                "threadId": self._thread_id,
                "expectedTurnId": self._require_id(),
                "input": normalize_input(input),
            },
        )

    async def interrupt(self) -> None:
        """Ask the agent to stop, and end the commands it started: the stream then ends
        with status ``interrupted``, and no command the agent ran in this thread is left
        running (see :meth:`AsyncThread.clean_background_terminals`). Works from the
        moment ``turn()`` returned; the thread takes a new turn once this returns."""
        if await self._until_started():
            try:
                await self._router.request(
                    "turn/interrupt", {"threadId": self._thread_id, "turnId": self._require_id()}
                )
            except RpcError:
                if not self._ended.is_set():
                    raise  # else it ended on its own meanwhile: nothing left to interrupt
        self._stopping = True  # the runtime is ending the turn: a new one may wait for it
        try:
            await self._router.request(
                "thread/backgroundTerminals/clean", {"threadId": self._thread_id}
            )
        except MethodNotFoundError:  # a runtime without background terminals has none
            _log.debug("the app-server has no thread/backgroundTerminals/clean")

    async def _until_started(self) -> bool:
        """Wait (bounded) until the runtime has started this turn; False if it ended."""
        if not self._started.is_set():
            with contextlib.suppress(asyncio.TimeoutError):  # let the server answer then
                await asyncio.wait_for(self._started.wait(), _START_TIMEOUT)
        return not self._ended.is_set()

    def _stop_in_background(self) -> None:
        """Interrupt the turn and end its commands, with nobody awaiting it."""
        if self._interrupting is None:
            self._interrupting = task = asyncio.ensure_future(self._stop_quietly())
            _stopping_tasks.add(task)
            task.add_done_callback(_stopping_tasks.discard)

    async def _stop_quietly(self) -> None:
        with contextlib.suppress(CodexError, asyncio.TimeoutError):
            await asyncio.wait_for(self.interrupt(), _STOP_TIMEOUT)
        if self.id is None and not self._ended.is_set():
            # turn/start was cancelled and the runtime never started the turn: free the
            # thread rather than keep it waiting for a turn that does not exist.
            self._fail(CodexError("the turn was cancelled before it started"))
            self._finish()

    def _require_id(self) -> str:
        if self.id is None:
            raise CodexError("the turn has not started yet")
        return self.id

    def __repr__(self) -> str:
        return f"AsyncTurn(id={self.id!r}, thread_id={self._thread_id!r})"


class _Inbox:
    """The turn as the router sees it (see :class:`~codexkit._client.router.TurnInbox`)."""

    __slots__ = ("_turn",)

    def __init__(self, turn: AsyncTurn) -> None:
        self._turn = turn

    def owns(self, params: Json) -> bool:
        return self._turn._owns(params)

    def feed(self, method: str, params: Json, raw: Json) -> None:
        self._turn._feed(method, params, raw)

    def fail(self, error: BaseException) -> None:
        self._turn._fail(error)

    def answering_request(self) -> contextlib.AbstractContextManager[None]:
        return self._turn._answering_request()


async def start_turn(turn: AsyncTurn, method: ClientMethod, wire: Json) -> None:
    """Send the request that starts ``turn`` on its thread (a prompt, a compaction, a
    review); the turn receives its thread's notifications from before the request goes."""
    turn._router.claim(turn._thread_id, turn._inbox)
    try:
        result = await turn._router.request(method, wire)
    except asyncio.CancelledError:
        # The runtime has the request (it is sent before the first await) and may start
        # the turn: keep its events routed here and stop it.
        turn._stop_in_background()
        raise
    except BaseException as exc:
        turn._finish()
        turn._end_span(error=exc)
        raise
    started = result.get("turn") if isinstance(result, dict) else None
    if isinstance(started, dict) and started.get("id"):
        turn.id = str(started["id"])  # else the turn's own turn/started names it


async def until_stopped(turn: AsyncTurn) -> None:
    """If ``turn`` is being stopped, wait (bounded) for it to end, so that its thread can
    take a new turn: the runtime would fold one sent earlier into this one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _STOP_TIMEOUT
    if turn._interrupting is not None:
        # The stop bounds itself; this limit is a backstop. (asyncio.wait, unlike
        # wait_for, does not cancel what it waits for.)
        await asyncio.wait({turn._interrupting}, timeout=2 * _STOP_TIMEOUT)
    if turn._stopping:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(turn._ended.wait(), max(0.0, deadline - loop.time()))


# Event types that change nothing in the turn's result.
#: Progress messages kept per MCP tool call (a chatty tool must not grow memory).
_PROGRESS_LIMIT = 1000

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
