"""``codex.mcp``: the client's MCP servers, their status, their tools and resources."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..mcp import McpResourceContent, McpServerStatus, McpToolResult
from .resources import every_page, put

if TYPE_CHECKING:
    from .router import Router
    from .thread import AsyncThread

__all__ = ["AsyncMcp"]

Json = dict[str, Any]


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
        entries = await every_page(self._router, "mcpServerStatus/list", wire)
        return [McpServerStatus.from_wire(entry) for entry in entries]

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
