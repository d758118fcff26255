"""JSON-RPC over a transport: requests, notifications and the server's own requests.

The app-server's dialect has no ``"jsonrpc"`` field. Our requests and the server's
requests are numbered independently (the server counts from 0 too), so a message is
classified by shape, never by id alone: ``method`` + ``id`` is a server request,
``method`` alone a notification, ``id`` alone a response to us.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import reprlib
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Literal

from ..errors import CodexTimeoutError, EventBufferFullError, RpcError, TransportClosedError
from ..transport import Transport

__all__ = [
    "Connection",
    "Direction",
    "Middleware",
    "RequestHandler",
    "ServerRequest",
    "check_middleware",
]

_log = logging.getLogger("codexkit")

#: How long a request whose send found the pipe broken waits for the closing report.
_CLOSE_REPORT_WAIT = 2.0

Direction = Literal["incoming", "outgoing"]
#: Sees every message (a parsed dict) before it is handled or sent; may mutate it.
Middleware = Callable[[Direction, dict[str, Any]], None]
RequestId = int | str

# Log excerpts of messages: short, and safe on any nesting.
_excerpt = reprlib.Repr()
_excerpt.maxstring = _excerpt.maxother = 200


def check_middleware(middleware: Middleware) -> None:
    """Refuse what cannot be a middleware: it is called on the event loop, in the middle
    of reading, where nothing can be awaited."""
    if not callable(middleware):
        raise TypeError(f"middleware must be callable, not {type(middleware).__name__}")
    call = getattr(middleware, "__call__", None)  # noqa: B004 - an object's async __call__
    if inspect.iscoroutinefunction(middleware) or inspect.iscoroutinefunction(call):
        raise TypeError(
            f"middleware must be a plain function, not a coroutine function ({middleware!r}): "
            "it runs on the event loop as each message passes and is never awaited"
        )


class ServerRequest:
    """A request the app-server sent us; the handler's return value is the result."""

    __slots__ = ("id", "method", "params")

    def __init__(self, id: RequestId, method: str, params: Any) -> None:
        self.id = id
        self.method = method
        self.params = params

    def __repr__(self) -> str:
        return f"ServerRequest(id={self.id!r}, method={self.method!r})"


RequestHandler = Callable[[ServerRequest], Awaitable[Any]]
NotificationHandler = Callable[[str, dict[str, Any], dict[str, Any]], None]


async def _no_handler(request: ServerRequest) -> Any:
    raise RpcError(-32601, f"no handler for server request {request.method!r}")


def _drop(method: str, params: dict[str, Any], message: dict[str, Any]) -> None:
    pass


class Connection:
    """One JSON-RPC session with an app-server: the low-level client.

    ``on_notification(method, params, message)`` is called synchronously on the event
    loop for each notification, in order. Server requests run as tasks, so a slow handler
    never holds up notifications or other requests; without a ``request_handler`` they
    are answered "method not found".

    On its own, over any :class:`~codexkit.transport.Transport`::

        async with Connection(StdioTransport([codex, "app-server"])) as connection:
            await connection.request("initialize", {"clientInfo": {...}})
            connection.notify("initialized")
            await connection.request("thread/start", {})
            started = await connection.wait_for_notification("thread/started", timeout=10)

    ``send`` writes any JSON-RPC message as it is, and ``messages()`` yields every message
    received, raw. A running :class:`~codexkit.AsyncCodex` lends its own as
    ``codex.connection``.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        on_notification: NotificationHandler = _drop,
        request_handler: RequestHandler = _no_handler,
        request_timeout: float | None = 120.0,
    ) -> None:
        self._transport = transport
        self._on_notification = on_notification
        self._request_handler = request_handler
        self.request_timeout = request_timeout
        self._middleware: list[Middleware] = []
        self._next_id = 0
        self._pending: dict[RequestId, tuple[asyncio.Future[Any], str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed_error: TransportClosedError | None = None
        self._close_listeners: list[Callable[[TransportClosedError], None]] = []
        self._taps: list[_Tap] = []  # raw readers and notification waiters

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        await self._transport.start(self)

    async def __aenter__(self) -> Connection:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._transport.close()
        for task in list(self._tasks):
            task.cancel()

    @property
    def closed_error(self) -> TransportClosedError | None:
        """Why the connection closed, or ``None`` while it is open."""
        return self._closed_error

    def add_close_listener(self, listener: Callable[[TransportClosedError], None]) -> None:
        self._close_listeners.append(listener)

    def use(self, middleware: Middleware) -> None:
        """Add a hook that sees every incoming and outgoing message (a plain function:
        a coroutine function raises :class:`TypeError`)."""
        check_middleware(middleware)
        self._middleware.append(middleware)

    def stderr_tail(self) -> str:
        return self._transport.stderr_tail()

    # -- outgoing ---------------------------------------------------------------------

    async def request(
        self,
        method: str,
        params: Any = None,
        *,
        timeout: float | Literal["default"] | None = "default",
    ) -> Any:
        """Send a request and wait for its result (raises :class:`RpcError` on an error
        answer, :class:`CodexTimeoutError` when ``timeout`` seconds pass)."""
        if self._closed_error is not None:
            raise self._closed_error
        self._next_id += 1
        request_id = self._next_id
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending[request_id] = (future, method)
        message: dict[str, Any] = {"id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        limit = self.request_timeout if timeout == "default" else timeout
        timer = None
        if limit is not None:
            timer = loop.call_later(limit, self._expire, request_id, limit)
        try:
            try:
                self._send(message)
            except TransportClosedError as broken:
                if self._closed_error is not None:
                    raise
                # The pipe broke before the exit was seen. The transport's own report
                # (exit code, stderr) follows within moments and says more: wait for it.
                try:
                    return await asyncio.wait_for(asyncio.shield(future), _CLOSE_REPORT_WAIT)
                except asyncio.TimeoutError:
                    raise broken from None
            return await future
        finally:
            self._pending.pop(request_id, None)
            if timer is not None:
                timer.cancel()

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"method": method}
        if params is not None:
            message["params"] = params
        self._send(message)

    def send(self, message: dict[str, Any]) -> None:
        """Write one JSON-RPC message as it is (middleware sees it first). Answers to
        requests sent this way are not matched: read them from :meth:`messages`."""
        self._send(message)

    # -- raw reading ------------------------------------------------------------------

    def messages(self, *, max_buffered: int = 10_000) -> AsyncIterator[dict[str, Any]]:
        """Every message received from now on, raw and in order (responses, notifications
        and server requests alike, after middleware), until the connection closes.

        Handled as usual besides: this only watches. A reader that falls more than
        ``max_buffered`` messages behind gets :class:`EventBufferFullError`."""
        tap = _Tap(None, None, max_buffered)
        self._taps.append(tap)
        return self._drain(tap)

    async def _drain(self, tap: _Tap) -> AsyncIterator[dict[str, Any]]:
        try:
            while True:
                message = await tap.get()
                if message is None:
                    return
                yield message
        finally:
            self._untap(tap)

    async def wait_for_notification(
        self,
        method: str,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        *,
        timeout: float | None,
    ) -> dict[str, Any]:
        """The params of the next notification ``method`` (whose params satisfy
        ``predicate``, if given) arriving from now on. Raises :class:`CodexTimeoutError`
        after ``timeout`` seconds (``None``: no limit) and the closing error if the
        connection closes first."""
        tap = _Tap(method, predicate, 1)
        self._taps.append(tap)
        try:
            message = await asyncio.wait_for(tap.get(), timeout)
        except asyncio.TimeoutError:
            raise CodexTimeoutError(f"no {method} notification in {timeout:g} s") from None
        finally:
            self._untap(tap)
        if message is None:
            raise self._closed_error or TransportClosedError("the connection closed")
        params = message.get("params")
        return params if isinstance(params, dict) else {}

    def _untap(self, tap: _Tap) -> None:
        with contextlib.suppress(ValueError):
            self._taps.remove(tap)

    def _send(self, message: dict[str, Any]) -> None:
        if self._closed_error is not None:
            raise self._closed_error
        for hook in self._middleware:
            self._run_hook(hook, "outgoing", message)
        self._transport.send(json.dumps(message, separators=(",", ":")).encode())

    def _expire(self, request_id: RequestId, limit: float) -> None:
        entry = self._pending.pop(request_id, None)
        if entry and not entry[0].done():
            entry[0].set_exception(
                CodexTimeoutError(f"{entry[1]}: no answer from the app-server in {limit:g} s")
            )

    # -- incoming (MessageSink) ---------------------------------------------------------

    def on_message(self, data: bytes) -> None:
        try:
            message = json.loads(data)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python goes
            _log.warning("ignoring a malformed message from the app-server: %.200r", data)
            return
        self.on_parsed(message)

    def on_parsed(self, message: Any) -> None:
        if self._closed_error is not None:
            return  # read after the connection failed (see MessageTooLargeError): too late
        if not isinstance(message, dict):
            _log.warning(
                "ignoring a non-object message from the app-server: %s", _excerpt.repr(message)
            )
            return
        if self._middleware:
            for hook in self._middleware:
                self._run_hook(hook, "incoming", message)
        if self._taps:
            for tap in list(self._taps):
                tap.offer(message)
        # Each message on its own: one that breaks a handler must not cost the others.
        try:
            self._dispatch(message)
        except Exception:
            _log.exception(
                "could not handle a message from the app-server: %s", _excerpt.repr(message)
            )

    def _run_hook(self, hook: Middleware, direction: Direction, message: dict[str, Any]) -> None:
        try:
            hook(direction, message)
        except Exception:  # the user's bug: the message is still handled (or sent)
            _log.exception("middleware %r failed on an %s message", hook, direction)

    def _dispatch(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method is None:
            self._on_response(message)
        elif not isinstance(method, str):
            _log.warning("ignoring a message with a non-string method: %.200r", message)
        elif "id" in message:
            self._on_server_request(message["id"], method, message.get("params"))
        else:
            params = message.get("params")
            self._on_notification(method, params if isinstance(params, dict) else {}, message)

    def on_closed(self, error: TransportClosedError) -> None:
        if self._closed_error is not None:
            return
        self._closed_error = error
        for future, _ in list(self._pending.values()):
            if not future.done():
                future.set_exception(error)
        self._pending.clear()
        for tap in self._taps:
            tap.close(error)
        for listener in self._close_listeners:
            try:
                listener(error)
            except Exception:  # a listener's bug must not stop the others
                _log.exception("close listener failed")

    def _on_response(self, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        # Ours are ints; a list or dict would not even hash, and true would pass for 1.
        if not isinstance(request_id, (int, str)) or isinstance(request_id, bool):
            _log.warning("ignoring a response with an unusable id: %s", _excerpt.repr(message))
            return
        entry = self._pending.pop(request_id, None)
        if entry is None:
            _log.debug("response to an unknown or expired request: %.200r", message)
            return
        future, method = entry
        if future.done():
            return
        error = message.get("error")
        if error is not None:
            err = error if isinstance(error, dict) else {"message": str(error)}
            future.set_exception(RpcError.from_error(err, method=method))
        else:
            future.set_result(message.get("result"))

    def _on_server_request(self, request_id: RequestId, method: str, params: Any) -> None:
        task = asyncio.ensure_future(self._answer(ServerRequest(request_id, method, params)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, request: ServerRequest) -> None:
        try:
            result = await self._request_handler(request)
        except RpcError as exc:
            reply: dict[str, Any] = {"id": request.id, "error": _error_body(exc)}
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _log.exception("handler for %s failed", request.method)
            reply = {"id": request.id, "error": {"code": -32603, "message": repr(exc)}}
        else:
            reply = {"id": request.id, "result": result}
        if self._closed_error is None:
            with contextlib.suppress(TransportClosedError):
                self._send(reply)


def _error_body(exc: RpcError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.data is not None:
        body["data"] = exc.data
    return body


class _Tap:
    """A bounded queue of the messages one raw reader or notification waiter wants."""

    def __init__(
        self,
        method: str | None,
        predicate: Callable[[dict[str, Any]], bool] | None,
        limit: int,
    ) -> None:
        self._method = method
        self._predicate = predicate
        self._limit = limit
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._failure: BaseException | None = None

    def offer(self, message: dict[str, Any]) -> None:
        if self._method is not None:
            if message.get("method") != self._method or "id" in message:
                return
            params = message.get("params")
            if self._predicate is not None:
                try:
                    if not self._predicate(params if isinstance(params, dict) else {}):
                        return
                except Exception as exc:  # the caller's predicate: its error is theirs
                    self._failure = exc
                    self._queue.put_nowait(None)
                    return
        if self._queue.qsize() >= self._limit:
            if self._method is None and self._failure is None:
                self._failure = EventBufferFullError(
                    None, self._limit, message=f"{self._limit} messages waited unread"
                )
                self._queue.put_nowait(None)
            return
        self._queue.put_nowait(message)

    def close(self, error: TransportClosedError) -> None:
        self._queue.put_nowait(None)

    async def get(self) -> dict[str, Any] | None:
        message = await self._queue.get()
        if message is None and self._failure is not None:
            raise self._failure
        return message
