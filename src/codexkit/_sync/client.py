"""``Codex``: the synchronous twin of :class:`AsyncCodex`, name for name.

Every ``Codex`` owns one private event loop running on its own thread; each call hands
a coroutine to that loop and waits for it. Nothing uses ``asyncio.run`` or the caller's
loop, so the sync client works the same in a script, a thread, a Jupyter cell or code
that already runs an event loop. Turn events cross the thread in batches.

Callbacks you give the client run where the async client would run them: approval
callbacks and ``@tool`` functions that are plain functions run on the client's callback
threads (they may block, and may use this client); listeners (:meth:`Codex.add_listener`) run on the
loop thread. Only ``exec_command``'s ``on_output`` is brought back to the calling thread.
"""

from __future__ import annotations

import concurrent.futures
import os
import queue
import warnings
import weakref
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from .._client.client import AsyncCodex
from .._client.resources import CommandResult, ModelInfo, OutputCallback
from .._connection.rpc import Middleware, RequestHandler
from .._defaults import (
    DEFAULT_CALLBACK_WORKERS,
    DEFAULT_MAX_BUFFERED_EVENTS,
    DEFAULT_MAX_MESSAGE_SIZE,
)
from ..approvals import ApprovalPolicy
from ..errors import CodexError
from ..events import Event
from ..mcp import McpServer
from ..transport import Transport
from ..types import ServerInfo
from .account import Account, Settings, ThreadListing
from .mcp import Mcp
from .portal import Portal
from .thread import Thread

if TYPE_CHECKING:
    from ..tools import Tool

__all__ = ["Codex"]

_T = TypeVar("_T")
Json = dict[str, Any]
PathLike = str | os.PathLike[str]


class Codex:
    """A synchronous client for one ``codex app-server``; see :class:`AsyncCodex`.

    ::

        with Codex() as codex:
            thread = codex.start_thread()
            print(thread.ask("Say hello"))
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
        self._async = AsyncCodex(
            model=model,
            cwd=cwd,
            codex_home=codex_home,
            config=config,
            env=env,
            codex_bin=codex_bin,
            approval_policy=approval_policy,
            reasoning_effort=reasoning_effort,
            additional_directories=additional_directories,
            network_access=network_access,
            web_search=web_search,
            api_key=api_key,
            base_url=base_url,
            tools=tools,
            mcp_servers=mcp_servers,
            connect=connect,
            request_timeout=request_timeout,
            startup_timeout=startup_timeout,
            turn_idle_timeout=turn_idle_timeout,
            request_handler=request_handler,
            callback_workers=callback_workers,
            max_message_size=max_message_size,
            max_buffered_events=max_buffered_events,
            transport=transport,
        )
        self._portal: Portal | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @property
    def transport(self) -> Transport | None:
        """The connection to the server (see :attr:`AsyncCodex.transport`)."""
        return self._async.transport

    @property
    def async_client(self) -> AsyncCodex:
        """The :class:`AsyncCodex` underneath (run its coroutines on its own loop only)."""
        return self._async

    def __enter__(self) -> Codex:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start (or connect to) the app-server and complete the handshake."""
        if self._portal is None:
            self._portal = Portal()
            # Both hold the loop thread and the server; neither refers back to self.
            self._finalizer = weakref.finalize(self, _abandon, self._portal, self._async)
            self._finalizer.atexit = False
        try:
            self._call(self._async.start())
        except BaseException:
            self.close()  # a failed start leaves no loop thread behind
            raise

    def close(self) -> None:
        """Shut the app-server down and stop the private loop. In a process forked from
        the one that started it, only forget them: they are the parent's."""
        portal, self._portal = self._portal, None
        if self._finalizer is not None:
            self._finalizer.detach()
        if portal is not None and not portal.inherited:
            try:
                portal.call(self._async.close())
            finally:
                portal.close()

    def _submit(self, coroutine: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        if self._portal is None:
            coroutine.close()
            raise CodexError("Codex is not started; use `with Codex() as codex`")
        return self._portal.submit(coroutine)

    def _call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        if self._portal is None:
            coroutine.close()
            raise CodexError("Codex is not started; use `with Codex() as codex`")
        return self._portal.call(coroutine)

    @property
    def metadata(self) -> ServerInfo:
        """What the server said in the handshake (its version, ``CODEX_HOME``, platform)."""
        return self._async.metadata

    # -- threads ------------------------------------------------------------------------

    def start_thread(
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
    ) -> Thread:
        """Start a new thread; see :meth:`AsyncCodex.start_thread`."""
        thread = self._async.start_thread(
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
            tools=tools,
            params=params,
        )
        return Thread(self._call, self._call(thread))

    def resume_thread(
        self,
        thread_id: str,
        *,
        cwd: str | os.PathLike[str] | None = None,
        model: str | None = None,
        sandbox: str | None = None,
        approval_policy: str | ApprovalPolicy | None = None,
        config: Mapping[str, Any] | None = None,
        params: Json | None = None,
    ) -> Thread:
        """Open a stored thread; see :meth:`AsyncCodex.resume_thread`."""
        thread = self._async.resume_thread(
            thread_id,
            cwd=cwd,
            model=model,
            sandbox=sandbox,
            approval_policy=approval_policy,
            config=config,
            params=params,
        )
        return Thread(self._call, self._call(thread))

    def thread(self, thread_id: str) -> Thread:
        """A handle on a stored thread without loading it; see :meth:`AsyncCodex.thread`."""
        return Thread(self._call, self._async.thread(thread_id))

    def request(self, method: str, params: Any = None, *, timeout: float | None = None) -> Any:
        """Send any app-server request and return its raw result."""
        return self._call(self._async.request(method, params, timeout=timeout))

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
    ) -> ThreadListing:
        """The stored threads, newest first, fetched page by page as you iterate
        (``for thread in codex.list_threads(): ...``); see :meth:`AsyncCodex.list_threads`."""
        listing = self._async.list_threads(
            page_size=page_size,
            archived=archived,
            cwd=cwd,
            model_providers=model_providers,
            search=search,
            sort_key=sort_key,
            sort_direction=sort_direction,
            source_kinds=source_kinds,
            parent_thread_id=parent_thread_id,
            state_db_only=state_db_only,
            cursor=cursor,
            params=params,
        )
        return ThreadListing(self._call, listing)

    def read_thread(self, thread_id: str, *, include_turns: bool = True) -> Json:
        """A stored thread by id, raw (``thread/read``), with its turns unless
        ``include_turns=False``."""
        return self._call(self._async.read_thread(thread_id, include_turns=include_turns))

    # -- the rest of the server -----------------------------------------------------------

    def models(self, *, include_hidden: bool = False) -> list[ModelInfo]:
        """The models the server offers for selection; see :meth:`AsyncCodex.models`."""
        return self._call(self._async.models(include_hidden=include_hidden))

    def exec_command(
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
        """Run one command (an argv list) in codex's sandbox, without a thread; see
        :meth:`AsyncCodex.exec_command`. ``on_output(stream, chunk)`` is called in the
        calling thread as the output arrives (so it may be slow, or use this client)."""
        chunks: queue.SimpleQueue[tuple[str, bytes] | None] = queue.SimpleQueue()
        work = self._async.exec_command(
            command,
            cwd=cwd,
            timeout=timeout,
            env=env,
            sandbox_policy=sandbox_policy,
            permission_profile=permission_profile,
            output_bytes_cap=output_bytes_cap,
            on_output=None if on_output is None else lambda s, c: chunks.put((s, c)),
            params=params,
        )
        if on_output is None:
            return self._call(work)
        future = self._submit(work)
        future.add_done_callback(lambda _: chunks.put(None))  # after every chunk
        try:
            while (chunk := chunks.get()) is not None:
                on_output(*chunk)
            return future.result()
        except BaseException:
            future.cancel()
            raise

    @property
    def account(self) -> Account:
        """Sign-in state and credentials: see :class:`Account`."""
        return Account(self._call, self._async.account)

    @property
    def mcp(self) -> Mcp:
        """The MCP servers: see :class:`AsyncMcp`."""
        return Mcp(self._call, self._async.mcp)

    @property
    def settings(self) -> Settings:
        """Codex's configuration files: see :class:`Settings`."""
        return Settings(self._call, self._async.settings)

    def add_listener(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener`` with every event no running turn claims; returns a function
        that removes it. The listener runs on the client's loop thread: keep it quick
        (hand work to a queue) and do not call this client from it."""
        return self._async.add_listener(listener)

    def use(self, middleware: Middleware) -> None:
        """Add a hook ``(direction, message)`` that sees every message in and out (it
        runs on the client's loop thread)."""
        self._async.use(middleware)

    def stderr_tail(self) -> str:
        """The last lines the app-server wrote to stderr."""
        return self._async.stderr_tail()


def _abandon(portal: Portal, client: AsyncCodex) -> None:
    """Finalizer of a started ``Codex`` collected without ``close()``: close its server
    and stop its loop thread, and say so (as ``subprocess.Popen`` does)."""
    if portal.inherited:
        return
    portal.close_soon(client.close())
    warnings.warn(
        "a codexkit Codex was garbage-collected without close(); its app-server was "
        "stopped. Close clients with `with Codex() as codex` or close().",
        ResourceWarning,
        stacklevel=2,
    )
