"""The router: the one way a client, its threads and its turns reach the app-server.

Everything the SDK asks goes out through :meth:`Router.request`; everything the server
says comes in through :meth:`Router.route` (notifications) and :meth:`Router.answer`
(the server's own requests). A running turn hands the router an inbox for its thread
(:meth:`Router.claim`) and gets that thread's notifications in arrival order; what no
turn claims goes to the listeners. Threads and turns hold the router, never the client,
and the router holds none of them but the inboxes of running turns: a client dropped
without ``close()`` can still be collected.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import CodexError, ForkedClientError, InvalidParamsError, MethodNotFoundError
from ..events import Event, parse_event
from .registrations import ThreadRegistrations

if TYPE_CHECKING:
    from .._connection.rpc import Connection, RequestHandler, ServerRequest
    from ..protocol import ClientMethod
    from .dispatch import Dispatcher, ThreadHandlers

__all__ = ["Listener", "Router", "TurnInbox"]

_log = logging.getLogger("codexkit")
Json = dict[str, Any]
Listener = Callable[[Event], None]


class TurnInbox(Protocol):
    """What a running turn gives the router: a place for its thread's messages."""

    def owns(self, params: Json) -> bool:
        """Whether a notification of the turn's thread belongs to this turn."""

    def feed(self, method: str, params: Json, raw: Json) -> None:
        """One notification of this turn, in arrival order."""

    def fail(self, error: BaseException) -> None:
        """The connection is gone: end the turn's stream with ``error``."""

    def answering_request(self) -> contextlib.AbstractContextManager[None]:
        """Held while one of the turn's server requests is being answered."""


class Router:
    """Requests out; notifications and server requests in; for one client."""

    def __init__(self, dispatcher: Dispatcher, request_handler: RequestHandler | None) -> None:
        self.dispatcher = dispatcher
        self.registrations = ThreadRegistrations(dispatcher.threads)
        self._handler: RequestHandler = request_handler or dispatcher
        self._connection: Connection | None = None
        self._owner: int | None = None  # the pid of the process that connected
        self._turns: dict[str, TurnInbox] = {}
        self._listeners: list[Listener] = []
        # Check every request against the pinned schema before sending it (the test
        # suite runs so; it costs a pydantic validation per request).
        self._validate = os.environ.get("CODEXKIT_VALIDATE_REQUESTS") == "1"

    # -- the connection -------------------------------------------------------------------

    def attach(self, connection: Connection) -> None:
        self._connection = connection
        self._owner = os.getpid()
        connection.add_close_listener(self._closed)

    def detach(self) -> Connection | None:
        connection, self._connection = self._connection, None
        return connection

    @property
    def connection(self) -> Connection | None:
        return self._connection

    def check_fork(self) -> None:
        """Raise :class:`ForkedClientError` in a process forked from the one that started
        the server: its pipes and its event loop belong to the parent."""
        if self._owner is not None and self._owner != os.getpid():
            raise ForkedClientError(self._owner, os.getpid())

    # -- out ------------------------------------------------------------------------------

    async def request(
        self,
        method: ClientMethod,
        params: Any = None,
        *,
        timeout: float | None = None,
        raw: bool = False,
    ) -> Any:
        """Send one request and return its result; ``timeout`` defaults to the
        connection's ``request_timeout``. ``raw`` requests (the user's own, through
        ``AsyncCodex.request``) are never checked against the pinned schema: they may
        use a newer one."""
        self.check_fork()
        connection = self._connection
        if connection is None:
            raise CodexError("AsyncCodex is not started; use `async with AsyncCodex() as codex`")
        if self._validate and not raw:
            _check(method, params)
        if timeout is None:
            return await connection.request(method, params)
        return await connection.request(method, params, timeout=timeout)

    # -- threads and their turns --------------------------------------------------------------

    def handlers(self, thread_id: str) -> ThreadHandlers | None:
        """The approval policy and tools registered for one thread, if any."""
        return self.dispatcher.threads.get(thread_id)

    def claim(self, thread_id: str, turn: TurnInbox) -> None:
        """Send ``thread_id``'s notifications to ``turn`` from now on."""
        self._turns[thread_id] = turn

    def release(self, thread_id: str, turn: TurnInbox) -> None:
        if self._turns.get(thread_id) is turn:
            del self._turns[thread_id]

    # -- in -------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def route(self, method: str, params: Json, raw: Json) -> None:
        """One notification: to the turn that owns it, else to every listener."""
        if method == "item/started" or method == "item/completed":
            self.dispatcher.note_item(method, params)
        elif method == "thread/closed":
            self.registrations.drop(str(params.get("threadId")))
        thread_id = params.get("threadId")
        if isinstance(thread_id, str):
            turn = self._turns.get(thread_id)
            if turn is not None and turn.owns(params):
                turn.feed(method, params, raw)
                return
        elif thread_id is not None:  # names no thread of ours: listeners may still see it
            _log.warning("a %s notification whose threadId is not a string", method)
        if self._listeners:
            event = parse_event(method, params, raw)
            for listener in list(self._listeners):
                try:
                    listener(event)
                except Exception:
                    _log.exception("event listener failed")

    async def answer(self, request: ServerRequest) -> Any:
        """One server request. Its turn waits without an idle limit meanwhile: the
        silence is ours (a person reading an approval), not the agent's."""
        params = request.params if isinstance(request.params, dict) else {}
        turn = self._turns.get(str(params.get("threadId")))
        with turn.answering_request() if turn is not None else contextlib.nullcontext():
            return await self._handler(request)

    def _closed(self, error: Exception) -> None:
        """The connection closed: every running turn ends with ``error``."""
        for turn in list(self._turns.values()):
            turn.fail(error)
        self._turns.clear()


def _check(method: str, params: Any) -> None:
    """Raise :class:`InvalidParamsError` (:class:`MethodNotFoundError` for a method it
    lacks) for a request the pinned schema refuses."""
    from pydantic import ValidationError

    from ..protocol import validate_params

    try:
        validate_params(method, params)
    except KeyError:
        message = "not a method of the pinned schema"
        raise MethodNotFoundError(-32601, message, method=method) from None
    except ValidationError as exc:
        message = f"params the pinned schema refuses: {exc}"
        raise InvalidParamsError(-32602, message, method=method) from None
