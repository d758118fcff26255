"""``AsyncCodex``: one app-server, any number of threads and concurrent turns."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from .._defaults import (
    DEFAULT_CALLBACK_WORKERS,
    DEFAULT_MAX_BUFFERED_EVENTS,
    DEFAULT_MAX_MESSAGE_SIZE,
)
from ..errors import CodexError, InvalidArgumentError

# `from codexkit import AsyncCodex` loads this module and nothing heavy: the machinery
# (router, dispatcher, events, types, transports) is imported where a client first
# needs it, in __init__, start() and the methods below.
if TYPE_CHECKING:
    from .._connection.rpc import Connection, Middleware, RequestHandler
    from .._runtime.binary import CodexBinary
    from ..approvals import ApprovalPolicy
    from ..mcp import McpServer
    from ..protocol import ClientMethod
    from ..tools import Tool
    from ..transport import Transport
    from ..types import ServerInfo
    from .account import AsyncAccount, AsyncSettings
    from .mcp import AsyncMcp
    from .resources import (
        AsyncThreadListing,
        CommandResult,
        ModelInfo,
        OutputCallback,
        PathLike,
    )
    from .router import Listener
    from .thread import AsyncThread

__all__ = ["AsyncCodex"]

Json = dict[str, Any]


class AsyncCodex:
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

    ``mcp_servers`` are MCP servers the agent can use in every thread, by name
    (:class:`~codexkit.mcp.McpStdioServer`, :class:`~codexkit.mcp.McpHttpServer`);
    ``codex.mcp`` reports on them.

    ``transport`` connects through a :class:`~codexkit.transport.Transport` of your own
    (or one you built) instead of spawning the bundled binary.

    Plain (non-``async``) approval callbacks and tools run on up to ``callback_workers``
    threads of this client's own; they never keep the program from exiting.
    Memory is bounded: ``max_message_size`` bytes for one message from the server
    (:class:`MessageTooLargeError` past it) and ``max_buffered_events`` unread events per
    turn (:class:`EventBufferFullError`); ``None`` lifts a limit.
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
        mcp_servers: Mapping[str, McpServer] | None = None,
        connect: str | None = None,
        request_timeout: float | None = 120.0,
        startup_timeout: float = 30.0,
        turn_idle_timeout: float | None = 600.0,
        request_handler: RequestHandler | None = None,
        callback_workers: int = DEFAULT_CALLBACK_WORKERS,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        max_buffered_events: int | None = DEFAULT_MAX_BUFFERED_EVENTS,
        transport: Transport | None = None,
    ) -> None:
        from ..mcp import mcp_servers_config
        from ..options import check_directory, resolve_api_key

        check_directory(cwd)
        mcp_servers_config(mcp_servers or {})  # a bad entry fails here, before any start
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
        self.mcp_servers = dict(mcp_servers or {})
        # Only a server this client starts is signed in; one reached by `connect` is not.
        self._api_key = None if connect else resolve_api_key(api_key, self.env, codex_home)
        self.connect = connect
        self.request_timeout = request_timeout
        self.startup_timeout = startup_timeout
        self.turn_idle_timeout = turn_idle_timeout
        self.max_message_size = max_message_size
        self.max_buffered_events = max_buffered_events
        #: The connection to the server: the one given, else made by :meth:`start`.
        self.transport = transport
        from .dispatch import Dispatcher, thread_handlers
        from .router import Router
        from .thread import ThreadOpener

        self._dispatcher = Dispatcher(
            thread_handlers(approval_policy, tools), workers=callback_workers
        )
        # The router is what the connection calls back; it holds nothing of the client,
        # so a client dropped unclosed can be collected (and its server stopped).
        self._router = Router(self._dispatcher, request_handler)
        # Threads read the client's defaults through a weak proxy: no cycle keeps a
        # dropped client alive.
        self._threads = ThreadOpener(
            self._router,
            weakref.proxy(self),
            mcp_in_threads=connect is not None or transport is not None,
        )
        self._mcp: AsyncMcp | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._metadata: ServerInfo | None = None
        self._binary: CodexBinary | None = None
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
        self._router.check_fork()
        if self._router.connection is not None:
            return
        from .._connection.rpc import Connection
        from .launch import abandon, handshake, make_transport

        if self.transport is None:
            self.transport, self._binary = make_transport(self, api_key=self._api_key)
        transport = self.transport
        connection = Connection(
            transport,
            on_notification=self._router.route,
            request_handler=self._router.answer,
            request_timeout=self.request_timeout,
        )
        for hook in self._middleware:
            connection.use(hook)
        self._router.attach(connection)
        self._finalizer = weakref.finalize(self, abandon, transport)
        self._finalizer.atexit = False  # at exit the transport's own hook ends the server
        try:
            self._metadata = await handshake(self, connection, self._binary, api_key=self._api_key)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Shut the app-server down (or disconnect) and fail whatever still waits."""
        connection = self._router.detach()
        if self._finalizer is not None:
            self._finalizer.detach()
        if connection is not None:
            await connection.close()
        self._dispatcher.pool.close()

    @property
    def connection(self) -> Connection:
        """The low-level JSON-RPC connection of a started client: raw messages
        (:meth:`Connection.send`, :meth:`Connection.messages`) and
        :meth:`Connection.wait_for_notification`."""
        connection = self._router.connection
        if connection is None:
            raise CodexError("AsyncCodex is not started; use `async with AsyncCodex() as codex`")
        return connection

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
        mcp_servers: Mapping[str, McpServer] | None = None,
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
        ``"disabled"``). Each is a codex setting, over the same key in ``config``.
        ``mcp_servers`` are MCP servers of this thread alone, besides the client's.

        A turn waits until the thread's MCP servers have started or failed, up to 30 s
        (the runtime's ``mcp_optional_startup_grace_ms``, which codexkit sets unless
        ``config`` does): without it the first turn could reach the model without their
        tools."""
        from .dispatch import thread_handlers

        handlers = thread_handlers(approval_policy, tools)
        offered = self._dispatcher.tools
        if handlers.tools is not None:
            offered = offered.merged(handlers.tools) if offered else handlers.tools
        wire: Json = {"dynamicTools": offered.specs()} if offered else {}
        return await self._threads.open(
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
                mcp_servers=mcp_servers,
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
        from .dispatch import thread_handlers

        return await self._threads.resume(
            thread_id,
            thread_handlers(approval_policy),
            dict(
                cwd=cwd,
                model=model,
                sandbox=sandbox,
                approval_policy=approval_policy,
                config=config,
                params=params,
            ),
        )

    def thread(self, thread_id: str) -> AsyncThread:
        """A handle on a stored thread without loading it on the server: enough to read,
        rename, archive or delete it. Run turns on a thread from :meth:`resume_thread`."""
        return self._threads.handle(thread_id)

    # -- notifications ------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event no running turn claims (server-wide
        notifications, other threads' events). Returns a function that removes it."""
        return self._router.add_listener(listener)

    def use(self, middleware: Middleware) -> None:
        """Add a hook ``(direction, message)`` that sees every message in and out: a plain
        function (it runs as each message passes; a coroutine function raises
        :class:`TypeError`). One that raises is logged and the message goes on."""
        from .._connection.rpc import check_middleware

        check_middleware(middleware)
        self._middleware.append(middleware)
        if self._router.connection is not None:
            self._router.connection.use(middleware)

    # -- stored threads -----------------------------------------------------------------

    def list_threads(
        self,
        *,
        page_size: int | None = None,
        archived: bool = False,
        cwd: PathLike | Sequence[PathLike] | None = None,
        model_providers: Sequence[str] | None = None,
        search: str | None = None,
        sort_key: str | None = None,
        sort_direction: str | None = None,
        source_kinds: Sequence[str] | None = None,
        parent_thread_id: str | None = None,
        state_db_only: bool = False,
        cursor: str | None = None,
        params: Json | None = None,
    ) -> AsyncThreadListing:
        """The stored threads, newest first, across pages::

            async for thread in codex.list_threads(cwd="/src/project"):
                print(thread.id, thread.title)

        ``archived=True`` lists only archived threads (the default lists only the
        others). ``cwd`` keeps threads started in that directory (or any of several);
        ``model_providers`` those of these providers; ``search`` those whose title
        contains the text. ``sort_key`` is ``"created_at"`` (default), ``"updated_at"`` or
        ``"recency_at"``; ``sort_direction`` ``"desc"`` (default) or ``"asc"``.
        ``source_kinds`` (``"cli"``, ``"vscode"``, ``"exec"``, ``"appServer"``,
        ``"subAgent"``, ...) defaults to the interactive sources. ``parent_thread_id``
        keeps the sub-agent threads of one thread. ``page_size`` is the number of threads
        per request; ``cursor`` starts from a page's ``next_cursor``. ``params`` adds raw
        ``thread/list`` fields.

        ``state_db_only=True`` reads codex's state database only, without scanning the
        session files to repair it: faster, and its cursors are exact. Without it, codex
        0.163.0 pages by ``created_at`` with one-second cursors, so a page boundary can
        skip threads created in the same second as the page's last one; use
        ``state_db_only=True`` or ``sort_key="updated_at"`` when that matters.
        """
        from .resources import AsyncThreadListing, put

        cwd_filter: str | list[str] | None
        if cwd is None:
            cwd_filter = None
        elif isinstance(cwd, (str, os.PathLike)):
            cwd_filter = os.fspath(cwd)
        else:
            cwd_filter = [os.fspath(path) for path in cwd]
        wire: Json = {}
        put(
            wire,
            limit=page_size,
            archived=True if archived else None,
            cwd=cwd_filter,
            modelProviders=list(model_providers) if model_providers is not None else None,
            searchTerm=search,
            sortKey=sort_key,
            sortDirection=sort_direction,
            sourceKinds=list(source_kinds) if source_kinds is not None else None,
            parentThreadId=parent_thread_id,
            useStateDbOnly=True if state_db_only else None,
            cursor=cursor,
        )
        wire.update(params or {})
        return AsyncThreadListing(self._router, wire, archived=bool(wire.get("archived")))

    async def read_thread(self, thread_id: str, *, include_turns: bool = True) -> Json:
        """A stored thread by id, raw (``thread/read``), with its turns unless
        ``include_turns=False``. Works for threads not loaded in this server too, and for
        a thread started here that has had no turn yet (``turns`` is then empty)."""
        from .resources import read_thread

        return await read_thread(self._router, thread_id, include_turns, self._threads.fresh)

    # -- models -------------------------------------------------------------------------

    async def models(self, *, include_hidden: bool = False) -> list[ModelInfo]:
        """The models the server offers for selection (every page of ``model/list``).
        This is codex's built-in catalogue, whichever ``model_provider`` is configured."""
        from .resources import fetch_models

        return await fetch_models(self._router, include_hidden)

    # -- commands -----------------------------------------------------------------------

    async def exec_command(
        self,
        command: Sequence[str],
        *,
        cwd: PathLike | None = None,
        timeout: float | None = None,
        env: Mapping[str, str | None] | None = None,
        sandbox_policy: str | Mapping[str, Any] | None = None,
        permission_profile: str | None = None,
        output_bytes_cap: int | None = None,
        on_output: OutputCallback | None = None,
        params: Json | None = None,
    ) -> CommandResult:
        """Run one command (an argv list, no shell) in codex's sandbox, without a thread,
        and return its exit code and output (``command/exec``)::

            result = await codex.exec_command(["git", "status", "--short"], cwd=repo)

        ``cwd`` defaults to the server's directory. ``timeout`` is in seconds (codex's
        default is 10 s); the command is then killed and reports exit code 124. ``env``
        is merged over the server's environment (``None`` unsets a variable).
        ``sandbox_policy`` is ``"read-only"``, ``"workspace-write"``,
        ``"danger-full-access"`` or a raw ``SandboxPolicy`` dict; by default the
        configured sandbox applies. ``on_output(stream, chunk)`` receives the output as it
        arrives (``stream`` is ``"stdout"`` or ``"stderr"``); the result still holds all
        of it. ``output_bytes_cap`` limits the bytes kept per stream.
        """
        from .resources import put, run_command, sandbox_policy_wire

        argv = [os.fspath(arg) for arg in command]
        if not argv:
            raise ValueError("exec_command needs a non-empty argv list")
        wire: Json = {"command": argv}
        put(
            wire,
            cwd=os.fspath(cwd) if cwd is not None else None,
            timeoutMs=round(timeout * 1000) if timeout is not None else None,
            env=dict(env) if env is not None else None,
            sandboxPolicy=sandbox_policy_wire(sandbox_policy),
            permissionProfile=permission_profile,
            outputBytesCap=output_bytes_cap,
        )
        wire.update(params or {})
        # The server enforces `timeout`; give its answer some slack to arrive.
        rpc_timeout = timeout + 30.0 if timeout is not None else None
        return await run_command(self._router, wire, on_output, rpc_timeout)

    # -- account and settings -----------------------------------------------------------

    @property
    def account(self) -> AsyncAccount:
        """Sign-in state and credentials: see :class:`AsyncAccount`."""
        from .account import AsyncAccount

        return AsyncAccount(self._router)

    @property
    def mcp(self) -> AsyncMcp:
        """The MCP servers: status, reload, direct tool calls and resource reads; see
        :class:`AsyncMcp`."""
        if self._mcp is None:
            from .mcp import AsyncMcp

            self._mcp = AsyncMcp(self._router, self._mcp_thread)
        return self._mcp

    async def _mcp_thread(self) -> AsyncThread:
        """The thread ``codex.mcp`` calls go through when given none: the client's
        servers, nothing stored."""
        return await self.start_thread(ephemeral=True)

    @property
    def settings(self) -> AsyncSettings:
        """Codex's configuration files: see :class:`AsyncSettings`."""
        from .account import AsyncSettings

        return AsyncSettings(self._router)

    # -- requests -----------------------------------------------------------------------

    async def request(
        self, method: str, params: Any = None, *, timeout: float | None = None
    ) -> Any:
        """Send any app-server request and return its raw result (an escape hatch for
        methods without a wrapper). ``timeout`` defaults to ``request_timeout``."""
        # Any method, also one newer than the pinned schema: past the type checker's list.
        return await self._router.request(
            cast("ClientMethod", method), params, timeout=timeout, raw=True
        )

    def stderr_tail(self) -> str:
        """The last lines the app-server wrote to stderr."""
        connection = self._router.connection
        return connection.stderr_tail() if connection else ""
