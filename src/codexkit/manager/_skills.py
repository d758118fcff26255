"""``cm.remote_skills``: Python functions served as a session's dynamic tools.

A skill is a :class:`codexkit.tools.Tool` (name, description and input schema come from
the signature and docstring, as for ``@tool``). The skills are sent as ``dynamicTools``
when the session is created and with every message. When the agent calls one, the
server holds the call as a pending request and announces it on the websocket
(``app_server.request.item.tool.call`` with the ``requestId`` its REST list shows); a
process serving the skills runs the handler and answers through
``POST /api/tool-calls/{requestId}/response``. The REST list backs the socket up: it is
read when serving starts, after a replay that lost events and while the socket is quiet.

Each call is answered once. The server decides who answers: a second answer (another
worker's, or one to a call the server already expired) comes back 404 or 409
``in_flight``, which counts as done; the dispatch then says ``answered=False``. In one
process a call delivered twice (socket and list) runs its handler once.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from websockets.exceptions import WebSocketException

from ..tools import Tool, ToolResult
from ._bridge import Bridge
from ._domains import ToolCallsApi
from ._sessions import SessionsApi
from ._skill_calls import (
    DEFAULT_HANDLER_TIMEOUT,
    RemoteSkillError,
    Skill,
    SkillDispatch,
    SkillRunResult,
    check_timeout,
)
from ._socket import RAW_FALLBACKS, StreamConnection, StreamEvent
from ._wait import TERMINAL_TURN_STATUSES, TurnEvents, reply_in, turn_status_in
from .errors import ManagerError, ServerError, TransportError

__all__ = [
    "RemoteSkillError",
    "RemoteSkillsApi",
    "SessionSkills",
    "SkillDispatch",
    "SkillLifecycle",
    "SkillRunResult",
    "SkillSession",
]

log = logging.getLogger("codexkit.manager")

TOOL_CALL_FRAME = "app_server.request.item.tool.call"
POLL_SECONDS = 5.0  # how often a quiet socket is backed up by the REST list
MAX_REMEMBERED = 10_000  # request ids a process remembers having taken (duplicates)
MAX_DISPATCHES = 1_000  # dispatches kept on ``SessionSkills.dispatches``
MAX_IN_FLIGHT = 32  # handlers running at once for one session's skills

Register = Callable[["SessionSkills"], Any]
F = TypeVar("F", bound=Callable[..., Any])


def _passthrough(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return coroutine


class SessionSkills:
    """One session's skills: register them, send messages with them, serve their calls.

    Methods that talk to the server return their value on the sync client and a
    coroutine of it on the async one, like every domain of the client.
    """

    def __init__(
        self,
        bridge: Bridge,
        session_id: str | None = None,
        *,
        handler_timeout_seconds: float | None = DEFAULT_HANDLER_TIMEOUT,
    ) -> None:
        check_timeout(handler_timeout_seconds)
        self._bridge = bridge
        self._async = _async_domains(bridge)
        self.session_id = session_id
        self.handler_timeout_seconds = handler_timeout_seconds
        self.dispatches: deque[SkillDispatch] = deque(maxlen=MAX_DISPATCHES)
        self._skills: dict[str, Skill] = {}
        self._taken: OrderedDict[str, None] = OrderedDict()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._serving = asyncio.Event()

    # -- the catalog --------------------------------------------------------------------

    @overload
    def skill(self, fn: F, /) -> F: ...

    @overload
    def skill(
        self,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        input_schema: dict[str, Any] | None = None,
        timeout_seconds: float | None = None,
    ) -> Callable[[F], F]: ...

    def skill(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        input_schema: dict[str, Any] | None = None,
        timeout_seconds: float | None = None,
    ) -> Any:
        """Decorator (``@skills.skill()`` or ``@skills.skill``): register the function as
        a skill and return it unchanged. ``name``, ``description`` and ``input_schema``
        override what the signature and docstring say; ``timeout_seconds`` overrides
        the handler timeout for this skill."""

        def decorate(function: F) -> F:
            self.register(
                function,
                name=name,
                description=description,
                input_schema=input_schema,
                timeout_seconds=timeout_seconds,
            )
            return function

        return decorate if fn is None else decorate(fn)

    def register(
        self,
        handler: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        input_schema: dict[str, Any] | None = None,
        timeout_seconds: float | None = None,
    ) -> Tool[..., Any]:
        """Register ``handler`` (sync or async, or a ``Tool``); ``ValueError`` if its
        name is taken or invalid. Register before the session is created: codex fixes a
        thread's tools when it starts, so a skill added later is not offered to its
        agent."""
        check_timeout(timeout_seconds)
        tool = Tool(handler, name=name, description=description)
        if tool.name in self._skills:
            raise ValueError(f"a skill named {tool.name!r} is already registered")
        self._skills[tool.name] = Skill(tool, input_schema, timeout_seconds)
        return tool

    def unregister(self, name: str) -> None:
        self._skills.pop(name, None)

    @property
    def names(self) -> list[str]:
        return list(self._skills)

    def dynamic_tools(self) -> list[dict[str, Any]]:
        """The ``dynamicTools`` list these skills are sent as."""
        return [skill.spec() for skill in self._skills.values()]

    # -- sending --------------------------------------------------------------------------

    def _session(self) -> str:
        if self.session_id is None:
            raise RuntimeError("these skills have no session: use create_session() or attach()")
        return self.session_id

    async def _send(self, text: str, options: dict[str, Any]) -> Any:
        options.setdefault("dynamic_tools", self.dynamic_tools())
        return await self._async.sessions.send_message(
            session_id=self._session(), text=text, **options
        )

    def send(self, text: str, **send_options: Any) -> Any:
        """Send a message with the skills as its ``dynamicTools``: ``{status, sessionId,
        turnId}``. Its calls are served by whoever serves the session
        (:meth:`serve_forever` here or in a worker process)."""
        return self._bridge.run(self._send(text, dict(send_options)))

    def send_and_handle(
        self,
        text: str,
        *,
        require_assistant_reply: bool = False,
        timeout_seconds: float = 120.0,
        **send_options: Any,
    ) -> Any:
        """Send ``text``, serve the skills' calls until the turn ends and return a
        :class:`SkillRunResult`. ``TimeoutError`` past ``timeout_seconds``;
        :class:`RemoteSkillError` when ``require_assistant_reply`` and the turn ended
        without one."""
        run = self._send_and_handle(
            text, require_assistant_reply, timeout_seconds, dict(send_options)
        )
        return self._bridge.run(run)

    async def _send_and_handle(
        self, text: str, require_reply: bool, timeout: float, options: dict[str, Any]
    ) -> SkillRunResult:
        deadline = time.monotonic() + timeout
        session_id = self._session()
        served: list[SkillDispatch] = []
        connection = await self._open()  # before the send: no call can slip past
        try:
            accepted = await self._send(text, options)
            turn = TurnEvents(str(accepted["turnId"]))
            finished = asyncio.Event()

            async def check() -> None:
                # The socket may have missed the end: the session says it for sure.
                if turn.status in TERMINAL_TURN_STATUSES and turn.reply is not None:
                    finished.set()
                    return
                session = await self._async.sessions.get(session_id=session_id)
                status = turn_status_in(session, turn.turn_id)
                if status in TERMINAL_TURN_STATUSES:
                    turn.status, turn.reply = status, reply_in(session, turn.turn_id)
                    finished.set()

            async def on_event(event: StreamEvent) -> None:
                turn.see(event)
                if turn.ended.is_set():
                    turn.ended.clear()
                    await check()

            def record(dispatch: SkillDispatch) -> None:
                served.append(dispatch)
                self.dispatches.append(dispatch)

            await self._serve(connection, finished, on_event, check, deadline, record)
        finally:
            if connection is not None:
                await connection.aclose()
        status = str(turn.status)
        if require_reply and turn.reply is None:
            raise RemoteSkillError(
                f"turn {turn.turn_id} of session {session_id} ended {status} "
                "without an assistant reply"
            )
        return SkillRunResult(session_id, turn.turn_id, status, turn.reply, served)

    # -- serving ---------------------------------------------------------------------------

    def serve_forever(self, *, poll_seconds: float = POLL_SECONDS) -> Any:
        """Serve the session's tool calls until :meth:`stop` (from any thread): the loop
        of a worker process. Reconnects by itself; reads the REST list of pending calls
        on start, after lost events and every ``poll_seconds`` of quiet."""
        return self._bridge.run(self._serve_forever(poll_seconds))

    async def _serve_forever(self, poll_seconds: float) -> None:
        self._loop = asyncio.get_running_loop()
        stop = self._stop = asyncio.Event()
        if self._stop_requested:
            stop.set()
        connection = StreamConnection(
            self._bridge.core, self._session(), connected=self._serving, omit=RAW_FALLBACKS
        )
        # Subscribed before the first read of the list, so no call falls in between; a
        # refused connect is tried again by the frames' loop.
        with contextlib.suppress(OSError, WebSocketException, asyncio.TimeoutError, ServerError):
            await connection.open()
        try:

            async def nothing(_: StreamEvent | None = None) -> None:
                return None

            await self._serve(
                connection, stop, nothing, nothing, None, self.dispatches.append, poll_seconds
            )
        finally:
            self._stop = None
            self._stop_requested = False
            await connection.aclose()

    def wait_serving(self, *, timeout: float = 30.0) -> Any:
        """Return once ``serve_forever``'s socket is subscribed; ``TimeoutError`` past
        ``timeout``."""
        return self._bridge.run(asyncio.wait_for(self._serving.wait(), timeout))

    def stop(self) -> None:
        """End :meth:`serve_forever` (safe from any thread, handlers included)."""
        self._stop_requested = True
        stop, loop = self._stop, self._loop
        if stop is not None and loop is not None:
            loop.call_soon_threadsafe(stop.set)

    async def _open(self) -> StreamConnection | None:
        connection = StreamConnection(
            self._bridge.core, self._session(), max_failures=3, omit=RAW_FALLBACKS
        )
        try:
            await connection.open()
        except (OSError, WebSocketException, asyncio.TimeoutError, ManagerError) as error:
            log.warning("remote skills: no websocket (%s); polling the tool-call list", error)
            return None
        return connection

    async def _serve(
        self,
        connection: StreamConnection | None,
        done: asyncio.Event,
        on_event: Callable[[StreamEvent], Coroutine[Any, Any, None]],
        on_quiet: Callable[[], Coroutine[Any, Any, None]],
        deadline: float | None,
        record: Callable[[SkillDispatch], None],
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        """Dispatch the session's calls from the socket (and the REST list) until
        ``done`` is set; ``on_event`` sees every frame, ``on_quiet`` runs when the socket
        was quiet for ``poll_seconds``."""
        frames = connection.frames() if connection is not None else None
        handlers: set[asyncio.Task[SkillDispatch]] = set()

        def start(request_id: str, call: dict[str, Any]) -> None:
            if self._take(request_id):
                task = asyncio.ensure_future(self._dispatch(request_id, call, record))
                handlers.add(task)
                task.add_done_callback(handlers.discard)

        next_frame: asyncio.Future[StreamEvent] | None = None
        ended = asyncio.ensure_future(done.wait())
        try:
            await self._drain(start)
            while not done.is_set():
                wait = poll_seconds
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        raise TimeoutError(
                            f"the turn of session {self.session_id} did not end in time"
                        )
                if frames is not None and next_frame is None:
                    next_frame = asyncio.ensure_future(anext(frames))
                waiting = {ended} | ({next_frame} if next_frame is not None else set())
                finished, _ = await asyncio.wait(
                    waiting, timeout=wait, return_when=asyncio.FIRST_COMPLETED
                )
                if next_frame is not None and next_frame in finished:
                    event = _event_or_none(next_frame)
                    next_frame = None
                    if event is None:  # the socket is gone for good: poll the list
                        frames = None
                        continue
                    if event.type == TOOL_CALL_FRAME:
                        self._signalled(event, start)
                    elif event.type == "replay":  # events were lost: ask the list
                        await self._drain(start, quietly=True)
                    await on_event(event)
                elif not finished:
                    await self._drain(start, quietly=True)
                    await on_quiet()
        finally:
            ended.cancel()
            if next_frame is not None:
                next_frame.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await next_frame
            if frames is not None:
                await frames.aclose()
            if handlers:  # each is bounded by its handler timeout
                await asyncio.gather(*handlers, return_exceptions=True)

    def _signalled(self, event: StreamEvent, start: Callable[[str, dict[str, Any]], None]) -> None:
        payload = event.payload if isinstance(event.payload, dict) else {}
        params = payload.get("params")
        request_id = payload.get("requestId")
        if not isinstance(params, dict) or not isinstance(request_id, str):
            return
        if params.get("threadId") not in (None, self.session_id):
            return
        start(request_id, params)

    async def _drain(
        self, start: Callable[[str, dict[str, Any]], None], *, quietly: bool = False
    ) -> None:
        """Start the calls the REST list shows pending. ``quietly``: a list that cannot
        be read now (the server restarting, say) is logged, not raised: the socket or
        the next poll will bring the calls. A deleted session (``GoneError``) raises."""
        try:
            listed = await self._async.sessions.tool_calls(session_id=self._session())
        except (TransportError, ServerError) as error:
            if not quietly:
                raise
            log.warning("remote skills: the tool-call list could not be read (%s)", error)
            return
        for record in listed.get("data") or [] if isinstance(listed, dict) else []:
            if isinstance(record, dict) and isinstance(record.get("requestId"), str):
                start(record["requestId"], record)

    def _take(self, request_id: str) -> bool:
        """Whether this process takes the call (false: it took it already)."""
        if request_id in self._taken:
            return False
        self._taken[request_id] = None
        while len(self._taken) > MAX_REMEMBERED:
            self._taken.popitem(last=False)
        return True

    # -- one call -------------------------------------------------------------------------

    def respond_to_signal(self, signal: Any) -> Any:
        """Serve one ``app_server.request.item.tool.call`` signal (an ``AppServerSignal``
        from ``cm.stream.on_app_server_request``): its :class:`SkillDispatch`, or
        ``None`` for another kind of request, another session's, or one taken already."""

        async def respond() -> SkillDispatch | None:
            event = getattr(signal, "event", signal)
            if not isinstance(event, StreamEvent) or event.type != TOOL_CALL_FRAME:
                return None
            calls: list[tuple[str, dict[str, Any]]] = []
            self._signalled(event, lambda request_id, call: calls.append((request_id, call)))
            if not calls or not self._take(calls[0][0]):
                return None
            return await self._dispatch(*calls[0], self.dispatches.append)

        return self._bridge.run(respond())

    def drain_pending_calls(self) -> Any:
        """Serve every call the session's REST list shows pending: the dispatches."""

        async def drain() -> list[SkillDispatch]:
            calls: list[tuple[str, dict[str, Any]]] = []
            await self._drain(lambda request_id, call: calls.append((request_id, call)))
            served: list[SkillDispatch] = []
            for request_id, call in calls:
                if self._take(request_id):
                    served.append(await self._dispatch(request_id, call, self.dispatches.append))
            return served

        return self._bridge.run(drain())

    async def _dispatch(
        self, request_id: str, call: dict[str, Any], record: Callable[[SkillDispatch], None]
    ) -> SkillDispatch:
        name, arguments = str(call.get("tool") or ""), call.get("arguments")
        async with self._slots:
            started = time.monotonic()
            value, output = await self._run(name, arguments)
            duration = time.monotonic() - started
            answered = await self._answer(request_id, output)
        error = None if output.success else output.text
        dispatch = SkillDispatch(
            request_id=request_id,
            tool=name,
            arguments=arguments,
            result=value if output.success else None,
            error=error,
            duration=duration,
            answered=answered,
            turn_id=_text(call.get("turnId")),
            call_id=_text(call.get("callId")),
            output=output,
        )
        record(dispatch)
        return dispatch

    async def _run(self, name: str, arguments: Any) -> tuple[Any, ToolResult]:
        skill = self._skills.get(name)
        if skill is None:
            available = ", ".join(self._skills) or "none"
            return None, ToolResult.error(f"Unknown skill {name!r}. Available: {available}.")
        return await skill.call(arguments, self.handler_timeout_seconds)

    async def _answer(self, request_id: str, output: ToolResult) -> bool:
        """Post the answer; whether it was this one that reached the agent (404 and
        409 ``in_flight`` bodies come back for a call answered already)."""
        answer = await self._async.tool_calls.respond(
            request_id=request_id, response=output.to_wire()
        )
        return isinstance(answer, dict) and answer.get("status") == "ok"


class SkillSession:
    """What :meth:`RemoteSkillsApi.lifecycle` yields: the session and its skills."""

    def __init__(self, created: dict[str, Any], skills: SessionSkills) -> None:
        self.created = created
        self.skills = skills

    @property
    def session_id(self) -> str:
        return self.skills._session()


class SkillLifecycle:
    """``with`` (sync client) or ``async with`` (async client): a session created with
    the skills, deleted on exit unless ``keep_session``."""

    def __init__(
        self,
        api: RemoteSkillsApi,
        register: Register | None,
        *,
        keep: bool,
        handler_timeout: float | None,
        options: dict[str, Any],
    ) -> None:
        self._api = api
        self._register = register
        self._keep = keep
        self._handler_timeout = handler_timeout
        self._options = options
        self._run: SkillSession | None = None

    async def _enter(self, skills: SessionSkills, registering: Any) -> SkillSession:
        created, skills = await self._api._create(skills, registering, self._options)
        self._run = SkillSession(created, skills)
        return self._run

    def _prepare(self) -> tuple[SessionSkills, Any]:
        return self._api._registered(self._register, None, self._handler_timeout)

    async def _exit(self) -> None:
        run, self._run = self._run, None
        if run is not None and not self._keep:
            run.skills.stop()
            await self._api._sessions.delete(session_id=run.session_id)

    def __enter__(self) -> SkillSession:
        self._api._need(sync=True)
        result: SkillSession = self._api._bridge.run(self._enter(*self._prepare()))
        return result

    def __exit__(self, *exc: object) -> None:
        self._api._bridge.run(self._exit())

    async def __aenter__(self) -> SkillSession:
        self._api._need(sync=False)
        return await self._enter(*self._prepare())

    async def __aexit__(self, *exc: object) -> None:
        await self._exit()


class RemoteSkillsApi:
    """``cm.remote_skills``: sessions whose dynamic tools are Python functions here."""

    def __init__(self, bridge: Bridge) -> None:
        self._bridge = bridge
        domains = _async_domains(bridge)
        self._sessions = domains.sessions

    def _need(self, *, sync: bool) -> None:
        if self._bridge.sync != sync:
            raise TypeError(
                "lifecycle(): `with` goes with CodexManager, `async with` with AsyncCodexManager"
            )

    def session(
        self,
        session_id: str,
        *,
        handler_timeout_seconds: float | None = DEFAULT_HANDLER_TIMEOUT,
    ) -> SessionSkills:
        """Skills for an existing session, with nothing registered (no server call)."""
        return SessionSkills(
            self._bridge, session_id, handler_timeout_seconds=handler_timeout_seconds
        )

    def _registered(
        self, register: Register | None, session_id: str | None, timeout: float | None
    ) -> tuple[SessionSkills, Any]:
        """New skills with ``register(skills)`` called here, in the caller's thread (a
        sync register may use the sync client); an async register's awaitable comes
        back to be awaited (async client only)."""
        skills = SessionSkills(self._bridge, session_id, handler_timeout_seconds=timeout)
        outcome = register(skills) if register is not None else None
        if not inspect.isawaitable(outcome):
            return skills, None
        if self._bridge.sync:
            if inspect.iscoroutine(outcome):
                outcome.close()
            raise TypeError("the sync client takes a plain (not async) register function")
        return skills, outcome

    async def _create(
        self, skills: SessionSkills, registering: Any, options: dict[str, Any]
    ) -> tuple[dict[str, Any], SessionSkills]:
        if registering is not None:
            await registering
        created: dict[str, Any] = await self._sessions.create(
            **options, dynamic_tools=skills.dynamic_tools() or None
        )
        skills.session_id = str(created["session"]["sessionId"])
        return created, skills

    def create_session(
        self,
        *,
        register: Register | None = None,
        handler_timeout_seconds: float | None = DEFAULT_HANDLER_TIMEOUT,
        **create: Any,
    ) -> Any:
        """Create a session with the skills ``register(skills)`` registers as its dynamic
        tools; ``(created, skills)``. ``create``: as ``cm.sessions.create`` takes them
        (``cwd``, ``model``, ``approval_policy``, ...)."""
        skills, registering = self._registered(register, None, handler_timeout_seconds)
        return self._bridge.run(self._create(skills, registering, create))

    def attach(
        self,
        session_id: str,
        *,
        register: Register | None = None,
        handler_timeout_seconds: float | None = DEFAULT_HANDLER_TIMEOUT,
    ) -> Any:
        """Skills for an existing session (read first: ``NotFoundError``/``GoneError``
        for one that is unknown or deleted), as ``register(skills)`` registers them.
        Register the tools the session was created with: codex keeps those."""

        skills, registering = self._registered(register, session_id, handler_timeout_seconds)

        async def attach() -> SessionSkills:
            if registering is not None:
                await registering
            await self._sessions.get(session_id=session_id)
            return skills

        return self._bridge.run(attach())

    def lifecycle(
        self,
        *,
        register: Register | None = None,
        keep_session: bool = False,
        handler_timeout_seconds: float | None = DEFAULT_HANDLER_TIMEOUT,
        **create: Any,
    ) -> SkillLifecycle:
        """A session with the skills for the length of a ``with`` block (``async with``
        on the async client); deleted on exit unless ``keep_session``. ``create``: as
        :meth:`create_session` takes them."""
        check_timeout(handler_timeout_seconds)
        return SkillLifecycle(
            self,
            register,
            keep=keep_session,
            handler_timeout=handler_timeout_seconds,
            options=create,
        )


@dataclass(frozen=True)
class _AsyncDomains:
    sessions: SessionsApi
    tool_calls: ToolCallsApi


def _async_domains(bridge: Bridge) -> _AsyncDomains:
    """The domains as coroutines, for use inside this module's own coroutines whether
    the client is sync or async (one implementation of each request)."""
    inner = Bridge(bridge.core, _passthrough, sync=bridge.sync)
    return _AsyncDomains(SessionsApi(inner), ToolCallsApi(inner))


def _event_or_none(step: asyncio.Future[StreamEvent]) -> StreamEvent | None:
    try:
        return step.result()
    except (StopAsyncIteration, OSError, WebSocketException, asyncio.TimeoutError) as error:
        log.warning("remote skills: the websocket failed (%s); polling the list", error)
    except ManagerError as error:
        log.warning("remote skills: the websocket was refused (%s); polling the list", error)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
