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
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from ..errors import CodexTimeoutError, RpcError, TransportClosedError
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


class Connection:
    """One JSON-RPC session with an app-server.

    ``on_notification(method, params, message)`` is called synchronously on the event
    loop for each notification, in order. Server requests run as tasks, so a slow handler
    never holds up notifications or other requests.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        on_notification: NotificationHandler,
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

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        await self._transport.start(self)

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
            self._send(message)
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
