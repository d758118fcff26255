"""MCP servers from the client's side: their start-up per thread, and ``codex.mcp``.

The runtime starts a thread's MCP servers in the background and does not hold the
thread's first turn for them: a turn sent at once would reach the model without their
tools. :class:`McpStartup` follows the start-up notifications of each thread so that a
turn waits (bounded) until the servers it expects have started or failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..mcp import McpResourceContent, McpServerStatus, McpToolResult
from .resources import put

if TYPE_CHECKING:
    from .router import Router
    from .thread import AsyncThread

__all__ = ["AsyncMcp", "McpStartup"]

_log = logging.getLogger("codexkit")
Json = dict[str, Any]

#: Start-up states after which a server will not change on its own.
_SETTLED = frozenset({"ready", "failed", "cancelled"})
#: Threads whose start-up is remembered; the oldest are forgotten past this.
_THREAD_LIMIT = 1024
#: The runtime's own start-up timeout of a server that sets none, in seconds: past it,
#: it reports the server failed.
RUNTIME_STARTUP_TIMEOUT = 10.0
#: How long a turn waits for servers it was not told of (from ``config.toml``), which it
#: learns of from their "starting" notification.
DEFAULT_STARTUP_WAIT = 30.0


class McpStartup:
    """The start-up state of each thread's MCP servers, from the runtime's
    ``mcpServer/startupStatus/updated`` notifications."""

    def __init__(self) -> None:
        self._states: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._expected: dict[str, tuple[set[str], float]] = {}
        self._changed = asyncio.Event()  # bound to a loop at its first wait only

    def note(self, params: Json) -> None:
        """One start-up notification."""
        thread_id, name = params.get("threadId"), params.get("name")
        if not isinstance(thread_id, str) or not isinstance(name, str):
            return
        self._thread(thread_id)[name] = str(params.get("status"))
        self._wake()

    def expect(self, thread_id: str, names: Iterable[str], wait: float) -> None:
        """The thread was started with these servers: its turns wait up to ``wait``
        seconds for each to report, even before the first notification arrives."""
        expected = set(names)
        if expected:
            self._thread(thread_id)
            self._expected[thread_id] = (expected, wait)

    def pending(self, thread_id: str) -> list[str]:
        """The servers of the thread still starting (or expected and not yet heard of)."""
        states = self._states.get(thread_id, {})
        expected, _ = self._expected.get(thread_id, (set(), 0.0))
        names = expected | set(states)
        return sorted(n for n in names if states.get(n) not in _SETTLED)

    async def settled(self, thread_id: str) -> None:
        """Wait until no server of the thread is starting, at most the thread's start-up
        wait; past it, log which servers never answered and go on."""
        if not self.pending(thread_id):
            self._expected.pop(thread_id, None)
            return
        _, wait = self._expected.get(thread_id, (set(), DEFAULT_STARTUP_WAIT))
        deadline = time.monotonic() + wait
        while pending := self.pending(thread_id):
            left = deadline - time.monotonic()
            if left <= 0:
                _log.warning(
                    "MCP servers %s of thread %s did not start within %.0f s; "
                    "the turn goes on without their tools",
                    ", ".join(pending),
                    thread_id,
                    wait,
                )
                break
            changed = self._changed
            changed.clear()
            try:
                await asyncio.wait_for(changed.wait(), left)
            except asyncio.TimeoutError:
                continue
        self._expected.pop(thread_id, None)

    def _thread(self, thread_id: str) -> dict[str, str]:
        states = self._states.get(thread_id)
        if states is None:
            states = self._states[thread_id] = {}
            while len(self._states) > _THREAD_LIMIT:
                old, _ = self._states.popitem(last=False)
                self._expected.pop(old, None)
        return states

    def _wake(self) -> None:
        self._changed.set()


class AsyncMcp:
    """The MCP servers of a client (``codex.mcp``): their status, and their tools and
    resources called directly, without the model.

    Calls go through a thread's connection to the server: ``thread=`` picks one (its own
    servers included); without it the client uses a thread of its own, started on first
    use and never stored (``ephemeral``), that has the client's servers.
    """

    def __init__(self, router: Router, start_thread: Callable[[], Awaitable[AsyncThread]]) -> None:
        self._router = router
        self._start_thread = start_thread
        self._own: AsyncThread | None = None
        self._starting: asyncio.Lock | None = None

    async def status(
        self,
        *,
        thread: AsyncThread | str | None = None,
        server: str | None = None,
        tools: bool = True,
    ) -> list[McpServerStatus]:
        """Every configured server with its tools, resources, sign-in state and start-up
        error (all pages of ``mcpServerStatus/list``). With ``thread``, the servers of
        that thread and their connection state in it (``status``); ``server`` keeps one.
        ``tools=False`` skips listing resources (faster)."""
        wire: Json = {}
        put(
            wire,
            threadId=_thread_id(thread),
            serverName=server,
            detail=None if tools else "toolsAndAuthOnly",
        )
        servers: list[McpServerStatus] = []
        while True:
            page = await self._router.request("mcpServerStatus/list", wire)
            servers += [McpServerStatus.from_wire(entry) for entry in page.get("data") or []]
            cursor = page.get("nextCursor")
            if not cursor:
                return servers
            wire = {**wire, "cursor": cursor}

    async def reload(self) -> None:
        """Read the MCP server settings again from the configuration files; threads
        started from now on use them (``config/mcpServer/reload``)."""
        await self._router.request("config/mcpServer/reload", None)

    async def call_tool(
        self,
        server: str,
        tool: str,
        arguments: Json | None = None,
        *,
        thread: AsyncThread | str | None = None,
        timeout: float | None = None,
    ) -> McpToolResult:
        """Call one tool of ``server`` and return its result. A tool that fails answers
        a result with ``is_error=True``; a server that is not there or did not start
        raises :class:`~codexkit.RpcError` with the runtime's reason."""
        wire: Json = {
            "threadId": await self._thread_for(thread),
            "server": server,
            "tool": tool,
            "arguments": dict(arguments or {}),
        }
        result = await self._router.request("mcpServer/tool/call", wire, timeout=timeout)
        return McpToolResult.from_wire(result)

    async def read_resource(
        self,
        server: str,
        uri: str,
        *,
        thread: AsyncThread | str | None = None,
        timeout: float | None = None,
    ) -> list[McpResourceContent]:
        """Read the resource ``uri`` of ``server`` (``mcpServer/resource/read``)."""
        wire: Json = {"threadId": await self._thread_for(thread), "server": server, "uri": uri}
        result = await self._router.request("mcpServer/resource/read", wire, timeout=timeout)
        return [McpResourceContent.from_wire(c) for c in result.get("contents") or []]

    async def oauth_login(
        self,
        server: str,
        *,
        scopes: list[str] | None = None,
        timeout: float | None = None,
        thread: AsyncThread | str | None = None,
    ) -> Json:
        """Start the OAuth sign-in of an HTTP server that needs one
        (``mcpServer/oauth/login``). Returns ``{"authorizationUrl", "loginId"}``: open the
        URL in a browser on the machine of the app-server, which receives the callback;
        ``mcpServer/oauthLogin/completed`` then arrives as an event. ``timeout`` is
        how long the runtime waits for the browser, in seconds."""
        wire: Json = {"name": server}
        put(
            wire,
            scopes=scopes,
            timeoutSecs=round(timeout) if timeout is not None else None,
            threadId=_thread_id(thread),
        )
        result: Json = await self._router.request("mcpServer/oauth/login", wire)
        return result

    async def _thread_for(self, thread: AsyncThread | str | None) -> str:
        """The thread a call goes through: the one given, else the client's own, started
        on first use (the runtime holds the call until the server has started)."""
        thread_id = _thread_id(thread)
        if thread_id is not None:
            return thread_id
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._own is None:
                self._own = await self._start_thread()
        return self._own.id


def _thread_id(thread: AsyncThread | str | None) -> str | None:
    if thread is None or isinstance(thread, str):
        return thread
    return thread.id
