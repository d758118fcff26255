"""``codex.mcp`` of the sync client: the twin of :class:`~codexkit._client.mcp.AsyncMcp`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._client.mcp import AsyncMcp
    from ..mcp import McpResourceContent, McpServerStatus, McpToolResult
    from .portal import Runner
    from .thread import Thread

__all__ = ["Mcp"]

Json = dict[str, Any]


class Mcp:
    """The MCP servers of a :class:`~codexkit.Codex`; see :class:`AsyncMcp`."""

    def __init__(self, run: Runner, mcp: AsyncMcp) -> None:
        self._run = run
        self._async = mcp

    def status(
        self,
        *,
        thread: Thread | str | None = None,
        server: str | None = None,
        tools: bool = True,
    ) -> list[McpServerStatus]:
        """Every configured server with its tools, resources and start-up error."""
        return self._run(self._async.status(thread=_id(thread), server=server, tools=tools))

    def reload(self) -> None:
        """Read the MCP server settings again from the configuration files."""
        self._run(self._async.reload())

    def call_tool(
        self,
        server: str,
        tool: str,
        arguments: Json | None = None,
        *,
        thread: Thread | str | None = None,
        timeout: float | None = None,
    ) -> McpToolResult:
        """Call one tool of ``server`` and return its result."""
        call = self._async.call_tool(server, tool, arguments, thread=_id(thread), timeout=timeout)
        return self._run(call)

    def read_resource(
        self,
        server: str,
        uri: str,
        *,
        thread: Thread | str | None = None,
        timeout: float | None = None,
    ) -> list[McpResourceContent]:
        """Read the resource ``uri`` of ``server``."""
        return self._run(
            self._async.read_resource(server, uri, thread=_id(thread), timeout=timeout)
        )

    def oauth_login(
        self,
        server: str,
        *,
        scopes: list[str] | None = None,
        timeout: float | None = None,
        thread: Thread | str | None = None,
    ) -> Json:
        """Start the OAuth sign-in of an HTTP server; returns the authorization URL."""
        return self._run(
            self._async.oauth_login(server, scopes=scopes, timeout=timeout, thread=_id(thread))
        )


def _id(thread: Thread | str | None) -> str | None:
    return thread if thread is None or isinstance(thread, str) else thread.id
