"""The websocket ``/api/stream``: a connection that reconnects without losing events,
and the router that hands each event to its handlers.

Every frame the server sends carries ``seq`` (one counter for all frames). A connection
remembers the last ``seq`` it saw and reconnects with ``?since=SEQ``: the server replays
what came after it from its bounded log (2 000 frames per thread), so a reconnect within
that window loses nothing and repeats nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, overload
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from ..contract import app_server_event_type
from ._core import AsyncCore, decode_json
from .errors import ServerError, error_for

__all__ = [
    "AppServerSignal",
    "EventStream",
    "StreamConnection",
    "StreamContext",
    "StreamEvent",
    "StreamRouter",
]

log = logging.getLogger("codexkit.manager")

#: Frames about the socket itself, not events: never handed to handlers.
CONTROL_FRAMES = frozenset({"ready", "pong", "error", "replay"})
MAX_FRAME = 16 * 1024 * 1024


@dataclass(frozen=True)
class StreamEvent:
    """One event: ``type`` (``approval``, ``app_server.turn.completed``, ...), the thread
    it belongs to (``None``: a broadcast), its ``payload`` and its ``seq``."""

    type: str
    thread_id: str | None
    payload: Any
    seq: int | None
    raw: dict[str, Any]

    @classmethod
    def from_frame(cls, frame: dict[str, Any]) -> StreamEvent:
        seq = frame.get("seq")
        return cls(
            type=str(frame.get("type")),
            thread_id=frame.get("threadId"),
            payload=frame.get("payload"),
            seq=seq if isinstance(seq, int) else None,
            raw=frame,
        )


@dataclass(frozen=True)
class StreamContext:
    """The second argument of handlers that take two: which thread the stream follows
    and how many times it has reconnected."""

    thread_id: str | None
    reconnect_count: int


@dataclass(frozen=True)
class AppServerSignal:
    """What ``on_app_server``/``on_app_server_request`` handlers get: the envelope of
    one app-server message. ``request_id`` (requests only) is the id the REST lists
    show: answer the request with it (``cm.approvals.decide(approval_id=...)``, ...)."""

    event_type: str
    method: str | None
    signal_type: str | None
    received_at: str | None
    context: dict[str, Any]
    params: Any
    session: dict[str, Any] | None
    request_id: str | None
    event: StreamEvent

    @classmethod
    def from_event(cls, event: StreamEvent) -> AppServerSignal:
        payload = event.payload if isinstance(event.payload, dict) else {}

        def text(key: str) -> str | None:
            value = payload.get(key)
            return value if isinstance(value, str) else None

        context, session = payload.get("context"), payload.get("session")
        return cls(
            event_type=event.type,
            method=text("method"),
            signal_type=text("signalType"),
            received_at=text("receivedAt"),
            context=context if isinstance(context, dict) else {},
            params=payload.get("params"),
            session=session if isinstance(session, dict) else None,
            request_id=text("requestId"),
            event=event,
        )


@dataclass(frozen=True)
class Backoff:
    """Waits between reconnects: doubling from ``initial`` to ``maximum`` seconds."""

    initial: float = 0.2
    maximum: float = 5.0

    def delay(self, failures: int) -> float:
        return float(min(self.maximum, self.initial * 2 ** max(0, failures - 1)))


class StreamConnection:
    """Frames of one thread (or of all, ``thread_id=None``), across reconnects.

    ``frames()`` yields every event frame once, in order; it reconnects after a dropped
    socket with ``since`` set, so the server replays what was missed. ``connected``
    is set while a socket is open (after its ``ready`` frame).
    """

    def __init__(
        self,
        core: AsyncCore,
        thread_id: str | None = None,
        *,
        since: int | None = None,
        backoff: Backoff | None = None,
        max_failures: int | None = None,
        connected: asyncio.Event | None = None,
    ) -> None:
        self._core = core
        self.thread_id = thread_id
        self.last_seq = since
        self.backoff = backoff or Backoff()
        self.max_failures = max_failures  # consecutive failed connects before giving up
        self.connected = connected or asyncio.Event()
        self.reconnects = 0
        self.incomplete_replays = 0  # reconnects that could not get every missed event
        self._socket: ClientConnection | None = None
        self._early: list[dict[str, Any]] = []  # an event that came before `ready`

    def url(self) -> str:
        query: dict[str, str] = {}
        if self.thread_id:
            query["threadId"] = self.thread_id
        if self.last_seq is not None:
            query["since"] = str(self.last_seq)
        url = self._core.config.stream_url
        return url + ("?" + urlencode(query) if query else "")

    async def open(self) -> ClientConnection:
        """One socket, subscribed. A refused handshake raises the contract's error for
        its status (``AuthError`` for a wrong token: trying again would not help)."""
        try:
            socket = await connect(
                self.url(),
                additional_headers=await self._core.headers(),
                max_size=MAX_FRAME,
                open_timeout=self._core.config.timeout,
            )
        except InvalidStatus as refused:
            status = refused.response.status_code
            body = decode_json(bytes(refused.response.body or b""))
            raise error_for(status, body, "connectEventStream") from refused
        try:
            await self._handshake(socket)
        except BaseException:
            await socket.close()
            raise
        self._socket = socket
        self.connected.set()
        return socket

    async def frames(self) -> AsyncGenerator[StreamEvent, None]:
        failures = 0
        while True:
            try:
                socket = self._socket or await self.open()
            except (OSError, WebSocketException, asyncio.TimeoutError, ServerError) as error:
                failures += 1
                if self.max_failures is not None and failures >= self.max_failures:
                    raise
                log.warning("stream: connect failed (%s); retrying", error)
                await asyncio.sleep(self.backoff.delay(failures))
                continue
            failures = 0
            try:
                async for frame in self._received(socket):
                    event = StreamEvent.from_frame(frame)
                    if event.type == "replay":
                        self._check_replay(event)
                    if event.type in CONTROL_FRAMES:
                        continue
                    if event.seq is not None:
                        if self.last_seq is not None and event.seq <= self.last_seq:
                            continue  # already seen (a replay overlapping the live feed)
                        self.last_seq = event.seq
                    yield event
            except (OSError, WebSocketException) as error:
                log.info("stream: connection lost (%s); reconnecting", error)
            finally:
                self.connected.clear()
                self._socket = None
            self.reconnects += 1
            await asyncio.sleep(self.backoff.delay(1))

    async def _handshake(self, socket: ClientConnection) -> None:
        """Make sure of the subscription before calling the socket connected.

        The server sends ``ready {seq}`` first and subscribes the socket after it. A
        first connection to a thread therefore subscribes again with ``since`` that
        ``seq`` (the server replays anything that came in between), then pings: commands
        are handled in order, so the ``pong`` says the subscription is in place. Frames
        that arrive meanwhile are kept for ``frames()``.
        """
        timeout = self._core.config.timeout
        ready = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        seq = ready.get("seq") if isinstance(ready, dict) else None
        if self.last_seq is None and self.thread_id and isinstance(seq, int):
            self.last_seq = seq
            subscribe = {"type": "subscribe", "threadId": self.thread_id, "since": seq}
            await socket.send(json.dumps(subscribe))
        await socket.send(json.dumps({"type": "ping"}))
        while True:
            frame = json.loads(await asyncio.wait_for(socket.recv(), timeout))
            if not isinstance(frame, dict) or frame.get("type") == "pong":
                return
            self._early.append(frame)

    async def _received(self, socket: ClientConnection) -> AsyncGenerator[dict[str, Any], None]:
        while self._early:
            yield self._early.pop(0)
        async for text in socket:
            frame = json.loads(text)
            if isinstance(frame, dict):
                yield frame

    def _check_replay(self, event: StreamEvent) -> None:
        payload = event.payload if isinstance(event.payload, dict) else {}
        if payload.get("complete") is False:
            # The server no longer held everything since our last frame: some events are
            # lost for good. Say so; readers of state should re-read the session.
            self.incomplete_replays += 1
            log.warning("stream: the replay since %s was incomplete", payload.get("since"))

    async def drop(self) -> None:
        """Close the current socket (the next ``frames()`` step reconnects)."""
        if self._socket is not None:
            await self._socket.close()

    async def aclose(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            await socket.close()


Handler = Callable[..., Any]  # (event) or (event, context)
ErrorHandler = Callable[[StreamEvent, BaseException], Any]


class StreamRouter:
    """Handlers by exact type and by prefix; each event goes to every handler that
    matches, in the order they were added. A handler that raises is logged and reported
    to the ``on_handler_error`` handlers; the others still run."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, bool, Handler]] = []  # (type or prefix, is prefix, handler)
        self._error_handlers: list[ErrorHandler] = []

    def add(self, key: str, handler: Handler, *, prefix: bool = False) -> Handler:
        self._routes.append((key, prefix, handler))
        return handler

    def add_error_handler(self, handler: ErrorHandler) -> ErrorHandler:
        self._error_handlers.append(handler)
        return handler

    def handlers_for(self, event_type: str) -> list[Handler]:
        return [
            handler
            for key, prefix, handler in self._routes
            if (event_type.startswith(key) if prefix else event_type == key)
        ]

    async def dispatch(self, event: StreamEvent, context: StreamContext, invoke: Invoker) -> None:
        for handler in self.handlers_for(event.type):
            try:
                await invoke(handler, event, context)
            except Exception as error:
                log.exception("stream handler %r failed on %s", handler, event.type)
                for on_error in self._error_handlers:
                    try:
                        await invoke(on_error, event, error)
                    except Exception:
                        log.exception("stream error handler %r failed", on_error)


Invoker = Callable[..., Awaitable[Any]]


def invoker(*, sync: bool) -> Invoker:
    """How handlers run: ``async`` ones on the loop; plain ones on the loop for the async
    client, on a worker thread for the sync one (so they may call the sync client)."""

    async def invoke(handler: Callable[..., Any], event: Any, extra: Any) -> Any:
        # Handlers take the event, or the event and its context (codex-manager's shape).
        args = (event, extra) if _arity(handler) >= 2 else (event,)
        if inspect.iscoroutinefunction(handler):
            return await handler(*args)
        if sync:
            result = await asyncio.to_thread(handler, *args)
        else:
            result = handler(*args)
        return await result if inspect.isawaitable(result) else result

    return invoke


def _arity(handler: Callable[..., Any]) -> int:
    try:
        parameters = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return 1
    if any(p.kind == p.VAR_POSITIONAL for p in parameters):
        return 2
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)


def _app_server_type(name: str, *, request: bool) -> str:
    """``item/started``, ``item.started`` or the whole frame type, to the frame type."""
    prefix = "app_server.request." if request else "app_server."
    if name.startswith("app_server."):
        return name
    if "/" in name:
        return app_server_event_type(name, request=request)
    return prefix + name


class EventStream:
    """``cm.stream``: register handlers, then ``run_forever()`` until ``stop()``."""

    def __init__(
        self,
        core: AsyncCore,
        run: Callable[[Any], Any],
        *,
        sync: bool,
        router: StreamRouter | None = None,
    ) -> None:
        self._core = core
        self._run = run
        self.router = router or StreamRouter()
        self._invoke = invoker(sync=sync)
        self._stop: asyncio.Event | None = None
        self._stop_requested = False  # a stop() that came before run_forever() started
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = asyncio.Event()  # set while run_forever's socket is open
        self.connection: StreamConnection | None = None

    # -- registration (decorators; each returns the handler) --------------------------

    def on_event(self, event_type: str) -> Callable[[Handler], Handler]:
        return lambda handler: self.router.add(event_type, handler)

    def on_event_prefix(self, prefix: str) -> Callable[[Handler], Handler]:
        return lambda handler: self.router.add(prefix, handler, prefix=True)

    def on_app_server(self, method: str) -> Callable[[Handler], Handler]:
        """An app-server notification (``item/started``, ``item.started`` or the frame
        type); the handler gets an :class:`AppServerSignal`."""
        return self._on_signal(_app_server_type(method, request=False))

    def on_app_server_request(self, method: str) -> Callable[[Handler], Handler]:
        """An app-server request (``item/tool/call``, ``item.tool.call``, ...); the
        handler gets an :class:`AppServerSignal` whose ``request_id`` answers it."""
        return self._on_signal(_app_server_type(method, request=True))

    def _on_signal(self, event_type: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.router.add(event_type, self._signal_handler(handler))
            return handler

        return register

    def _signal_handler(self, handler: Handler) -> Handler:
        invoke = self._invoke

        async def as_signal(event: StreamEvent, context: StreamContext) -> Any:
            return await invoke(handler, AppServerSignal.from_event(event), context)

        return as_signal

    @overload
    def on_turn_started(self, handler: None = None) -> Callable[[Handler], Handler]: ...

    @overload
    def on_turn_started(self, handler: Handler) -> Handler: ...

    def on_turn_started(self, handler: Handler | None = None) -> Any:
        """A turn started (``app_server.turn.started``). Use as ``@on_turn_started`` or,
        as codex-manager's client has it, ``@on_turn_started()``."""
        if handler is None:
            return self.on_event("app_server.turn.started")
        return self.router.add("app_server.turn.started", handler)

    def on_handler_error(self, handler: ErrorHandler) -> ErrorHandler:
        return self.router.add_error_handler(handler)

    # -- running ------------------------------------------------------------------------

    async def _run_forever(
        self, thread_id: str | None, since: int | None, stop_event: asyncio.Event | None
    ) -> None:
        self._loop = asyncio.get_running_loop()
        stop = self._stop = stop_event or asyncio.Event()
        if self._stop_requested:
            stop.set()
        self.connection = connection = StreamConnection(
            self._core, thread_id, since=since, connected=self._connected
        )
        frames = connection.frames()
        try:
            while not stop.is_set():
                next_frame = asyncio.ensure_future(anext(frames))
                stopped = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait(
                    {next_frame, stopped}, return_when=asyncio.FIRST_COMPLETED
                )
                stopped.cancel()
                if next_frame not in done:
                    # Let the generator finish its step before it is closed below.
                    next_frame.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await next_frame
                    break
                context = StreamContext(thread_id, connection.reconnects)
                await self.router.dispatch(next_frame.result(), context, self._invoke)
        finally:
            self._stop = None
            self._stop_requested = False
            await frames.aclose()
            await connection.aclose()

    def run_forever(
        self,
        *,
        thread_id: str | None = None,
        stop_event: asyncio.Event | None = None,
        since: int | None = None,
    ) -> Any:
        """Receive events and run their handlers until :meth:`stop` (from a handler or
        any thread) or ``stop_event`` (async client) is set. ``thread_id`` subscribes to
        one session's thread (broadcasts still come); ``since`` starts after a known
        ``seq``. Reconnects by itself, replaying what it missed."""
        return self._run(self._run_forever(thread_id, since, stop_event))

    def wait_connected(self, *, timeout: float = 30.0) -> Any:
        """Return once ``run_forever``'s socket is open and subscribed (so what happens
        next reaches the handlers); ``TimeoutError`` past ``timeout``."""
        return self._run(asyncio.wait_for(self._connected.wait(), timeout))

    def subscribe(
        self, thread_id: str | None = None, *, since: int | None = None
    ) -> StreamConnection:
        """A connection of your own: ``async for event in conn.frames()`` (async only),
        with the same reconnect and replay; ``await conn.aclose()`` ends it."""
        return StreamConnection(self._core, thread_id, since=since)

    def stop(self) -> None:
        """End ``run_forever`` (safe from any thread, handlers included)."""
        self._stop_requested = True
        stop, loop = self._stop, self._loop
        if stop is not None and loop is not None:
            loop.call_soon_threadsafe(stop.set)
