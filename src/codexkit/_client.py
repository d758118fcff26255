"""``AsyncCodex``: one app-server, any number of threads and concurrent turns."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._binary import CodexBinary, check_version, find_codex
from ._client_ops import ClientOpsMixin
from ._config import config_overrides, flatten_config
from ._dispatch import Dispatcher, ThreadHandlers
from ._errors import CodexError, InvalidArgumentError, RpcError
from ._options import check_directory, resolve_api_key, thread_settings
from ._rpc import Connection, Middleware, RequestHandler, ServerRequest
from ._thread import AsyncThread
from ._transport import StdioTransport, Transport, UnixSocketTransport
from ._turn import AsyncTurn
from .approvals import ApprovalPolicy
from .events import Event, parse_event
from .types import ServerInfo

if TYPE_CHECKING:
    from .tools import Tool, ToolRegistry

__all__ = ["AsyncCodex"]

_log = logging.getLogger("codexkit")
Json = dict[str, Any]
Listener = Callable[[Event], None]

_CLIENT_INFO = {"name": "codexkit", "title": "codexkit", "version": "0.1.0"}
#: How many threads started here and not yet given a turn are remembered (see _fresh).
_FRESH_LIMIT = 1024


class AsyncCodex(ClientOpsMixin):
    """An async client for one ``codex app-server``.

    ``async with AsyncCodex() as codex`` spawns the bundled binary (or connects to a
    running server with ``connect="unix:///path"``), performs the handshake, and on exit
    shuts the server down and reaps every process it started.

    ``model``, ``cwd`` and ``approval_policy`` are defaults for every thread; ``config`` is
    a nested dict of codex settings passed as ``-c key=value`` overrides; ``codex_home``
    sets ``CODEX_HOME`` for the server; ``env`` adds environment variables.

    ``approval_policy`` is a codex mode string (``never``, ``on-request``, ``untrusted``:
    codex decides when to ask, and what it asks is declined) or an :class:`ApprovalPolicy`
    (the handler that answers, carrying the mode to request). ``tools`` are Python
    functions (see :func:`codexkit.tool`) offered to every thread.

    ``reasoning_effort``, ``additional_directories`` (more writable roots),
    ``network_access`` and ``web_search`` are defaults for every thread too, as in
    :meth:`start_thread`. ``base_url`` sends the OpenAI provider's requests elsewhere
    (codex's ``openai_base_url``). ``api_key`` signs the server in with an API key, held
    in its memory only; without it ``CODEX_API_KEY`` does, or ``OPENAI_API_KEY`` when
    ``CODEX_HOME`` holds no sign-in (see ``docs/sdk.md``).
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
        codex_home: str | os.PathLike[str] | None = None,
        config: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        codex_bin: str | os.PathLike[str] | None = None,
        approval_policy: str | ApprovalPolicy | None = None,
        reasoning_effort: str | None = None,
        additional_directories: Sequence[str | os.PathLike[str]] | None = None,
        network_access: bool | None = None,
        web_search: bool | str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        tools: Iterable[Tool] | None = None,
        connect: str | None = None,
        request_timeout: float | None = 120.0,
        startup_timeout: float = 30.0,
        turn_idle_timeout: float | None = 600.0,
        request_handler: RequestHandler | None = None,
    ) -> None:
        check_directory(cwd)
        if api_key is not None and connect is not None:
            raise InvalidArgumentError(
                "api_key signs in the app-server this client starts; a server reached with "
                "connect= has its own sign-in (see codex.account.login_api_key)"
            )
        self.model = model
        self.cwd = os.fspath(cwd) if cwd is not None else None
        self.codex_home = os.fspath(codex_home) if codex_home is not None else None
        self.config = dict(config or {})
        self.env = dict(env or {})
        self.codex_bin = codex_bin
        self.approval_policy = approval_policy
        self.reasoning_effort = reasoning_effort
        self.additional_directories = additional_directories
        self.network_access = network_access
        self.web_search = web_search
        self.base_url = base_url
        # Only a server this client starts is signed in; one reached by `connect` is not.
        self._api_key = None if connect else resolve_api_key(api_key, self.env, codex_home)
        self.connect = connect
        self.request_timeout = request_timeout
        self.startup_timeout = startup_timeout
        self.turn_idle_timeout = turn_idle_timeout
        policy = approval_policy if isinstance(approval_policy, ApprovalPolicy) else None
        self._dispatcher = Dispatcher(policy or ApprovalPolicy.auto_decline(), _registry(tools))
        self._request_handler = request_handler or self._dispatcher
        self._connection: Connection | None = None
        self._metadata: ServerInfo | None = None
        self._binary: CodexBinary | None = None
        self._active: dict[str, AsyncTurn] = {}
        # Threads started here that have had no turn yet, with their thread/start params.
        # The runtime stores a thread at its first turn: until then it cannot resume, fork
        # or list its turns ("no rollout found"), and codexkit does it for it.
        self._fresh: dict[str, Json] = {}
        self._listeners: list[Listener] = []
        self._middleware: list[Middleware] = []

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> AsyncCodex:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Start (or connect to) the app-server and complete the handshake."""
        if self._connection is not None:
            return
        connection = Connection(
            self._make_transport(),
            on_notification=self._route,
            request_handler=self._answer,
            request_timeout=self.request_timeout,
        )
        for hook in self._middleware:
            connection.use(hook)
        connection.add_close_listener(self._on_closed)
        self._connection = connection
        try:
            await connection.start()
            result = await connection.request(
                "initialize",
                {"clientInfo": _CLIENT_INFO, "capabilities": {"experimentalApi": True}},
                timeout=self.startup_timeout,
            )
            connection.notify("initialized")
            if self._api_key is not None:
                await self._sign_in(connection, self._api_key)
        except BaseException:
            await self.close()
            raise
        self._metadata = self._server_info(result)

    async def _sign_in(self, connection: Connection, api_key: str) -> None:
        # The server was started with the ephemeral credential store: nothing is written.
        params = {"type": "apiKey", "apiKey": api_key}
        await connection.request("account/login/start", params, timeout=self.startup_timeout)

    async def close(self) -> None:
        """Shut the app-server down (or disconnect) and fail whatever still waits."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    def _make_transport(self) -> Transport:
        if self.connect is not None:
            path = self.connect.removeprefix("unix://")
            return UnixSocketTransport(path)
        self._binary = find_codex(self.codex_bin)
        env = dict(self.env)
        if self.codex_home is not None:
            env["CODEX_HOME"] = self.codex_home
        # An API key is held in the server's memory only, never written to CODEX_HOME.
        store = {"cli_auth_credentials_store": "ephemeral"} if self._api_key else {}
        argv = [self._binary.path, "app-server", *config_overrides({**store, **self.config})]
        return StdioTransport(argv, cwd=self.cwd, env=self._binary.child_env(env))

    def _server_info(self, result: Json) -> ServerInfo:
        user_agent = str(result.get("userAgent", ""))
        version = check_version(user_agent, self._binary) if self._binary else None
        return ServerInfo(
            name="codex app-server",
            version=version,
            user_agent=user_agent,
            codex_home=result.get("codexHome"),
            platform_os=result.get("platformOs"),
            raw=result,
        )

    @property
    def metadata(self) -> ServerInfo:
        """What the server said in the handshake (its version, ``CODEX_HOME``, platform)."""
        if self._metadata is None:
            raise CodexError("AsyncCodex is not started; use `async with AsyncCodex() as codex`")
        return self._metadata

    # -- threads ------------------------------------------------------------------------

    async def start_thread(
        self,
        *,
        cwd: str | os.PathLike[str] | None = None,
        model: str | None = None,
        reasoning_effort: str | None = None,
        sandbox: str | None = None,
        additional_directories: Sequence[str | os.PathLike[str]] | None = None,
        network_access: bool | None = None,
        web_search: bool | str | None = None,
        approval_policy: str | ApprovalPolicy | None = None,
        instructions: str | None = None,
        base_instructions: str | None = None,
        ephemeral: bool | None = None,
        config: Mapping[str, Any] | None = None,
        tools: Iterable[Tool] | None = None,
        params: Json | None = None,
    ) -> AsyncThread:
        """Start a new thread. ``instructions`` are developer instructions added to the
        agent's own; ``base_instructions`` replace them. ``approval_policy`` and ``tools``
        apply to this thread, over the client's. ``params`` adds raw fields.

        ``reasoning_effort`` is the model's (``"low"``, ``"medium"``, ``"high"``, ...);
        ``sandbox`` is ``read-only``, ``workspace-write`` or ``danger-full-access``;
        ``additional_directories`` are writable too and ``network_access`` lets commands
        reach the network, both under ``workspace-write``; ``web_search`` is ``True``
        (live), ``False`` (disabled) or a mode (``"live"``, ``"cached"``,
        ``"disabled"``). Each is a codex setting, over the same key in ``config``."""
        handlers = ThreadHandlers(_policy_of(approval_policy), _registry(tools))
        offered = self._dispatcher.tools
        if handlers.tools is not None:
            offered = offered.merged(handlers.tools) if offered else handlers.tools
        wire: Json = {"dynamicTools": offered.specs()} if offered else {}
        return await self._open_thread(
            "thread/start",
            wire,
            handlers,
            dict(
                cwd=cwd,
                model=model,
                reasoning_effort=reasoning_effort,
                sandbox=sandbox,
                additional_directories=additional_directories,
                network_access=network_access,
                web_search=web_search,
                approval_policy=approval_policy,
                instructions=instructions,
                base_instructions=base_instructions,
                ephemeral=ephemeral,
                config=config,
                params=params,
            ),
        )

    async def resume_thread(
        self,
        thread_id: str,
        *,
        cwd: str | os.PathLike[str] | None = None,
        model: str | None = None,
        sandbox: str | None = None,
        approval_policy: str | ApprovalPolicy | None = None,
        config: Mapping[str, Any] | None = None,
        params: Json | None = None,
    ) -> AsyncThread:
        """Open a stored thread (also from a new app-server on the same ``CODEX_HOME``).

        A thread this server has loaded is returned as it is: the runtime keeps its
        settings (give new ones per turn). That includes a thread started here that has
        had no turn yet, which the runtime has not stored and cannot resume."""
        handlers = ThreadHandlers(_policy_of(approval_policy))
        options: dict[str, Any] = dict(
            cwd=cwd,
            model=model,
            sandbox=sandbox,
            approval_policy=approval_policy,
            config=config,
            params=params,
        )
        try:
            return await self._open_thread(
                "thread/resume", {"threadId": thread_id}, handlers, options
            )
        except RpcError:
            if thread_id not in self._fresh:
                raise
        thread = AsyncThread(self, await self.read_thread(thread_id, include_turns=False))
        self._register(thread.id, handlers)
        return thread

    def thread(self, thread_id: str) -> AsyncThread:
        """A handle on a stored thread without loading it on the server: enough to read,
        rename, archive or delete it. Run turns on a thread from :meth:`resume_thread`."""
        return AsyncThread(self, {"id": thread_id})

    async def _open_thread(
        self, method: str, wire: Json, handlers: ThreadHandlers, options: Mapping[str, Any]
    ) -> AsyncThread:
        fields = _merged(self._client_params(), self._thread_params(**options))
        return await self._send_open(method, {**wire, **fields}, handlers)

    async def _send_open(self, method: str, wire: Json, handlers: ThreadHandlers) -> AsyncThread:
        result = await self._request(method, wire)
        thread = AsyncThread(self, result["thread"])
        self._register(thread.id, handlers)
        if method == "thread/start":
            self._fresh[thread.id] = wire
            while len(self._fresh) > _FRESH_LIMIT:  # the oldest loses only the stand-ins
                del self._fresh[next(iter(self._fresh))]
        return thread

    async def _fork_thread(
        self, thread_id: str, handlers: ThreadHandlers, options: Mapping[str, Any]
    ) -> AsyncThread:
        wire: Json = {"threadId": thread_id}
        try:
            return await self._open_thread("thread/fork", wire, handlers, options)
        except RpcError:
            started = self._fresh.get(thread_id)
            if started is None:
                raise
        # A thread with no turn has no history to copy: its fork is a new thread started
        # with its settings (the client's defaults among them), the fork's own over them.
        start = _merged(started, self._thread_params(**options))
        return await self._send_open("thread/start", start, handlers)

    def _register(self, thread_id: str, handlers: ThreadHandlers) -> None:
        if handlers.policy is not None or handlers.tools is not None:
            self._dispatcher.threads[thread_id] = handlers

    def _handlers_of(self, thread_id: str) -> ThreadHandlers:
        return self._dispatcher.threads.get(thread_id) or ThreadHandlers()

    def _thread_params(
        self,
        *,
        cwd: str | os.PathLike[str] | None = None,
        model: str | None = None,
        reasoning_effort: str | None = None,
        sandbox: str | None = None,
        additional_directories: Sequence[str | os.PathLike[str]] | None = None,
        network_access: bool | None = None,
        web_search: bool | str | None = None,
        approval_policy: str | ApprovalPolicy | None = None,
        instructions: str | None = None,
        base_instructions: str | None = None,
        ephemeral: bool | None = None,
        config: Mapping[str, Any] | None = None,
        params: Json | None = None,
    ) -> Json:
        """The wire fields of these thread options alone (see :meth:`_client_params`)."""
        check_directory(cwd, base=self.cwd)  # a relative one is the server's to resolve
        settings = thread_settings(
            reasoning_effort=reasoning_effort,
            writable_roots=additional_directories,
            network_access=network_access,
            web_search=web_search,
        )
        wire = _present(
            cwd=os.fspath(cwd) if cwd is not None else None,
            model=model or None,
            sandbox=sandbox,
            approvalPolicy=_mode_of(approval_policy or None),
            developerInstructions=instructions,
            baseInstructions=base_instructions,
            ephemeral=ephemeral,
            config={**flatten_config(config or {}), **flatten_config(settings)} or None,
        )
        wire.update(params or {})
        return wire

    def _client_params(self) -> Json:
        """The wire fields every thread this client opens gets, unless its own say else."""
        settings = thread_settings(
            reasoning_effort=self.reasoning_effort,
            writable_roots=self.additional_directories,
            network_access=self.network_access,
            web_search=self.web_search,
        )
        if self.base_url is not None:
            settings["openai_base_url"] = self.base_url
        return _present(
            cwd=self.cwd,
            model=self.model,
            approvalPolicy=_mode_of(self.approval_policy),
            config=flatten_config(settings) or None,
        )

    # -- notifications ------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event no running turn claims (server-wide
        notifications, other threads' events). Returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def use(self, middleware: Middleware) -> None:
        """Add a hook ``(direction, message)`` that sees every message in and out."""
        self._middleware.append(middleware)
        if self._connection is not None:
            self._connection.use(middleware)

    def _route(self, method: str, params: Json, raw: Json) -> None:
        if method == "item/started" or method == "item/completed":
            self._dispatcher.note_item(method, params)
        thread_id = params.get("threadId")
        if thread_id is not None:
            turn = self._active.get(thread_id)
            if turn is not None and turn._owns(params):
                turn._feed(method, params, raw)
                return
        if self._listeners:
            event = parse_event(method, params, raw)
            for listener in list(self._listeners):
                try:
                    listener(event)
                except Exception:
                    _log.exception("event listener failed")

    async def _answer(self, request: ServerRequest) -> Any:
        params = request.params if isinstance(request.params, dict) else {}
        turn = self._active.get(str(params.get("threadId")))
        if turn is None:
            return await self._request_handler(request)
        with turn._answering_request():
            return await self._request_handler(request)

    def _claim(self, thread_id: str, turn: AsyncTurn) -> None:
        self._active[thread_id] = turn

    def _release(self, thread_id: str, turn: AsyncTurn) -> None:
        if self._active.get(thread_id) is turn:
            del self._active[thread_id]

    def _on_closed(self, error: Exception) -> None:
        for turn in list(self._active.values()):
            turn._fail(error)
        self._active.clear()

    # -- requests -----------------------------------------------------------------------

    async def request(
        self, method: str, params: Any = None, *, timeout: float | None = None
    ) -> Any:
        """Send any app-server request and return its raw result (an escape hatch for
        methods without a wrapper). ``timeout`` defaults to ``request_timeout``."""
        return await self._request(method, params, timeout=timeout)

    async def _request(
        self, method: str, params: Any = None, *, timeout: float | None = None
    ) -> Any:
        if self._connection is None:
            raise CodexError("AsyncCodex is not started; use `async with AsyncCodex() as codex`")
        if timeout is None:
            return await self._connection.request(method, params)
        return await self._connection.request(method, params, timeout=timeout)

    def stderr_tail(self) -> str:
        """The last lines the app-server wrote to stderr."""
        return self._connection.stderr_tail() if self._connection else ""


def _present(**fields: Any) -> Json:
    return {key: value for key, value in fields.items() if value is not None}


def _merged(base: Json, over: Json) -> Json:
    """``over``'s fields over ``base``'s, their ``config`` settings merged key by key."""
    merged = {**base, **over}
    config = {**base.get("config", {}), **over.get("config", {})}
    if config:
        merged["config"] = config
    return merged


def _policy_of(policy: str | ApprovalPolicy | None) -> ApprovalPolicy | None:
    return policy if isinstance(policy, ApprovalPolicy) else None


def _mode_of(policy: str | ApprovalPolicy | None) -> str | None:
    return policy.mode if isinstance(policy, ApprovalPolicy) else policy


def _registry(tools: Iterable[Tool] | None) -> ToolRegistry | None:
    if tools is None:
        return None
    from .tools import ToolRegistry

    return ToolRegistry(tools)
