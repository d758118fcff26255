"""``cm.stream``: handlers by event type or prefix, run by ``run_forever()`` over a
:class:`._socket.StreamConnection` (reconnects with replay), until ``stop()``."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, overload

from ..contract import app_server_event_type
from ._core import AsyncCore
from ._socket import AppServerSignal, StreamConnection, StreamContext, StreamEvent

__all__ = ["EventStream", "StreamRouter"]

log = logging.getLogger("codexkit.manager")


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
        self,
        thread_id: str | None,
        since: int | None,
        stop_event: asyncio.Event | None,
        omit: Sequence[str],
    ) -> None:
        self._loop = asyncio.get_running_loop()
        stop = self._stop = stop_event or asyncio.Event()
        if self._stop_requested:
            stop.set()
        self.connection = connection = StreamConnection(
            self._core, thread_id, since=since, connected=self._connected, omit=omit
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
        omit: Sequence[str] = (),
    ) -> Any:
        """Receive events and run their handlers until :meth:`stop` (from a handler or
        any thread) or ``stop_event`` (async client) is set. ``thread_id`` subscribes to
        one session's thread (broadcasts still come); ``since`` starts after a known
        ``seq``; ``omit`` names frame types to leave out (``RAW_FALLBACKS`` for the raw
        ``notification`` and ``server_request`` frames, which repeat the typed ones).
        Reconnects by itself, replaying what it missed."""
        return self._run(self._run_forever(thread_id, since, stop_event, omit))

    def wait_connected(self, *, timeout: float = 30.0) -> Any:
        """Return once ``run_forever``'s socket is open and subscribed (so what happens
        next reaches the handlers); ``TimeoutError`` past ``timeout``."""
        return self._run(asyncio.wait_for(self._connected.wait(), timeout))

    def subscribe(
        self, thread_id: str | None = None, *, since: int | None = None, omit: Sequence[str] = ()
    ) -> StreamConnection:
        """A connection of your own: ``async for event in conn.frames()`` (async only),
        with the same reconnect and replay (and ``omit`` as for ``run_forever``);
        ``await conn.aclose()`` ends it."""
        return StreamConnection(self._core, thread_id, since=since, omit=omit)

    def stop(self) -> None:
        """End ``run_forever`` (safe from any thread, handlers included)."""
        self._stop_requested = True
        stop, loop = self._stop, self._loop
        if stop is not None and loop is not None:
            loop.call_soon_threadsafe(stop.set)
