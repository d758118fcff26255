"""MCP servers for the agent: how to declare them, and what the runtime says of them.

The agent reaches tools of other programs through the Model Context Protocol. Declare a
server with :class:`McpStdioServer` (a command the runtime starts and talks to over its
stdin and stdout) or :class:`McpHttpServer` (a streamable HTTP endpoint), and give them
by name to :class:`~codexkit.AsyncCodex` (every thread) or to ``start_thread`` (one
thread)::

    AsyncCodex(mcp_servers={"db": McpStdioServer("python", ["db_server.py"])})

The runtime starts them with each thread, lists their tools to the model, and asks
before a tool runs unless told otherwise (``tool_approval``). ``codex.mcp`` reports their
status and calls their tools and resources directly (see ``docs/mcp.md``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from .errors import InvalidArgumentError

__all__ = [
    "McpHttpServer",
    "McpResourceContent",
    "McpServer",
    "McpServerStatus",
    "McpStdioServer",
    "McpTool",
    "McpToolResult",
    "mcp_servers_config",
]

Json = dict[str, Any]

#: How the runtime treats a call of the server's tools: ``"prompt"`` asks the client (an
#: approval, see :class:`~codexkit.ApprovalPolicy`), ``"approve"`` runs them without
#: asking, ``"auto"`` leaves it to the runtime (it asks for tools not marked read-only).
ToolApproval = Literal["auto", "prompt", "approve"]

_TOOL_APPROVALS = ("auto", "prompt", "approve")
# The runtime names a server's tools `mcp__<server>__<tool>`: keep names to what it takes.
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class _Common:
    """What both kinds of server take."""

    startup_timeout: float | None = field(default=None, kw_only=True)
    """Seconds the runtime waits for the server to start (its default is 10)."""
    tool_timeout: float | None = field(default=None, kw_only=True)
    """Seconds one tool call may take (the runtime's default is 60)."""
    enabled: bool = field(default=True, kw_only=True)
    """``False`` declares the server without starting it."""
    enabled_tools: Sequence[str] | None = field(default=None, kw_only=True)
    """Offer only these tools to the model."""
    disabled_tools: Sequence[str] | None = field(default=None, kw_only=True)
    """Never offer these tools to the model."""
    tool_approval: ToolApproval | None = field(default=None, kw_only=True)
    """Whether the runtime asks before each tool call (see :data:`ToolApproval`)."""

    def _common(self, name: str) -> Json:
        for label in ("startup_timeout", "tool_timeout"):
            value = getattr(self, label)
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                _refuse(name, f"{label} must be a positive number of seconds, got {value!r}")
        enabled = _tools(name, "enabled_tools", self.enabled_tools)
        disabled = _tools(name, "disabled_tools", self.disabled_tools)
        if self.tool_approval is not None and self.tool_approval not in _TOOL_APPROVALS:
            _refuse(
                name, f"tool_approval must be one of {_TOOL_APPROVALS}, got {self.tool_approval!r}"
            )
        settings: Json = {"enabled": bool(self.enabled)}
        _put(settings, "startup_timeout_sec", self.startup_timeout)
        _put(settings, "tool_timeout_sec", self.tool_timeout)
        _put(settings, "enabled_tools", enabled)
        _put(settings, "disabled_tools", disabled)
        _put(settings, "default_tools_approval_mode", self.tool_approval)
        return settings


@dataclass(frozen=True)
class McpStdioServer(_Common):
    """A server the runtime starts as ``command args...`` and talks to over stdio.

    ``env`` adds variables to the small environment the runtime gives it (``PATH``,
    ``HOME`` and a few more: not the whole environment of this process); ``cwd`` is the
    directory it starts in.
    """

    command: str
    args: Sequence[str] = ()
    env: Mapping[str, str] | None = None
    cwd: str | os.PathLike[str] | None = None

    def to_config(self, name: str) -> Json:
        """This server as the runtime's ``mcp_servers.<name>`` settings."""
        if not isinstance(self.command, str) or not self.command.strip():
            _refuse(name, "command must be a non-empty string")
        if isinstance(self.args, str) or not all(isinstance(a, str) for a in self.args):
            _refuse(name, "args must be a list of strings")
        if self.env is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.env.items()
        ):
            _refuse(name, "env must map strings to strings")
        if self.cwd is not None and not os.path.isdir(self.cwd):
            _refuse(name, f"cwd {os.fspath(self.cwd)!r} is not an existing directory")
        settings: Json = {"command": self.command, "args": list(self.args)}
        _put(settings, "env", dict(self.env) if self.env else None)
        _put(settings, "cwd", os.path.abspath(self.cwd) if self.cwd is not None else None)
        return {**settings, **self._common(name)}


@dataclass(frozen=True)
class McpHttpServer(_Common):
    """A server reached over streamable HTTP at ``url``.

    ``bearer_token_env_var`` names the environment variable of the app-server that holds
    the bearer token (the token itself never goes into the config); ``headers`` are sent
    as they are, ``env_headers`` map a header to the variable holding its value.
    """

    url: str
    bearer_token_env_var: str | None = None
    headers: Mapping[str, str] | None = None
    env_headers: Mapping[str, str] | None = None

    def to_config(self, name: str) -> Json:
        """This server as the runtime's ``mcp_servers.<name>`` settings."""
        parts = urlsplit(self.url) if isinstance(self.url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            _refuse(name, f"url must be an http:// or https:// URL, got {self.url!r}")
        if self.bearer_token_env_var is not None and not re.fullmatch(
            r"[A-Za-z_][A-Za-z0-9_]*", self.bearer_token_env_var
        ):
            _refuse(
                name,
                "bearer_token_env_var names an environment variable (not the token), got "
                f"{self.bearer_token_env_var!r}",
            )
        for label in ("headers", "env_headers"):
            value = getattr(self, label)
            if value is not None and not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                _refuse(name, f"{label} must map strings to strings")
        settings: Json = {"url": self.url}
        _put(settings, "bearer_token_env_var", self.bearer_token_env_var)
        _put(settings, "http_headers", dict(self.headers) if self.headers else None)
        _put(settings, "env_http_headers", dict(self.env_headers) if self.env_headers else None)
        return {**settings, **self._common(name)}


McpServer = McpStdioServer | McpHttpServer


def mcp_servers_config(servers: Mapping[str, McpServer]) -> Json:
    """``servers`` as the runtime's ``mcp_servers`` table, each entry checked first:
    a bad name or entry raises :class:`~codexkit.InvalidArgumentError` before anything
    starts."""
    if not isinstance(servers, Mapping):
        raise InvalidArgumentError(
            f"mcp_servers must map names to McpStdioServer or McpHttpServer, got {servers!r}"
        )
    table: Json = {}
    for name, server in servers.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidArgumentError(
                f"MCP server name {name!r}: use letters, digits, '_' and '-' only"
            )
        if not isinstance(server, (McpStdioServer, McpHttpServer)):
            _refuse(name, f"expected McpStdioServer or McpHttpServer, got {server!r}")
        table[name] = server.to_config(name)
    return table


def _tools(name: str, label: str, tools: Sequence[str] | None) -> list[str] | None:
    if tools is None:
        return None
    if isinstance(tools, str) or not all(isinstance(t, str) and t for t in tools):
        _refuse(name, f"{label} must be a list of tool names")
    return list(tools)


def _put(settings: Json, key: str, value: Any) -> None:
    if value is not None:
        settings[key] = value


def _refuse(name: str, reason: str) -> Any:
    raise InvalidArgumentError(f"MCP server {name!r}: {reason}")


# -- what the runtime reports ----------------------------------------------------------------


@dataclass(frozen=True)
class McpTool:
    """One tool a server offers."""

    name: str
    description: str | None
    input_schema: Json
    raw: Json = field(repr=False)


@dataclass(frozen=True)
class McpServerStatus:
    """One server as the runtime sees it (``mcpServerStatus/list``).

    ``status`` is the connection state of the thread asked about (``"starting"``,
    ``"connected"``, ``"failed"``, ...; ``None`` when asked without a thread);
    ``error`` says why its tools could not be listed (a failed start, for one).
    ``auth_status`` is ``"unsupported"`` for stdio servers, else ``"notLoggedIn"``,
    ``"bearerToken"``, ``"oAuth"`` or ``"unknown"``.
    """

    name: str
    status: str | None
    tools: dict[str, McpTool]
    resources: list[Json]
    resource_templates: list[Json]
    auth_status: str
    error: str | None
    server_info: Json | None
    raw: Json = field(repr=False)

    @classmethod
    def from_wire(cls, raw: Json) -> McpServerStatus:
        tools = raw.get("tools") or {}
        return cls(
            name=str(raw.get("name", "")),
            status=raw.get("runtimeStatus"),
            tools={
                str(key): McpTool(
                    name=str(tool.get("name", key)),
                    description=tool.get("description"),
                    input_schema=tool.get("inputSchema") or {},
                    raw=tool,
                )
                for key, tool in tools.items()
                if isinstance(tool, dict)
            },
            resources=list(raw.get("resources") or []),
            resource_templates=list(raw.get("resourceTemplates") or []),
            auth_status=str(raw.get("authStatus", "unknown")),
            error=raw.get("toolsError"),
            server_info=raw.get("serverInfo"),
            raw=raw,
        )


@dataclass(frozen=True)
class McpToolResult:
    """What a tool answered: its content blocks (``{"type": "text", "text": ...}``, ...),
    its structured content if it has an output schema, and whether it reports an error."""

    content: list[Json]
    structured_content: Any
    is_error: bool
    raw: Json = field(repr=False)

    @property
    def text(self) -> str:
        """The text blocks of the content, joined by newlines."""
        return "\n".join(
            str(block.get("text", "")) for block in self.content if block.get("type") == "text"
        )

    @classmethod
    def from_wire(cls, raw: Json) -> McpToolResult:
        return cls(
            content=list(raw.get("content") or []),
            structured_content=raw.get("structuredContent"),
            is_error=bool(raw.get("isError")),
            raw=raw,
        )


@dataclass(frozen=True)
class McpResourceContent:
    """One part of a resource: ``text``, or ``blob`` (base64) for binary content."""

    uri: str
    mime_type: str | None
    text: str | None
    blob: str | None
    raw: Json = field(repr=False)

    @classmethod
    def from_wire(cls, raw: Json) -> McpResourceContent:
        return cls(
            uri=str(raw.get("uri", "")),
            mime_type=raw.get("mimeType"),
            text=raw.get("text"),
            blob=raw.get("blob"),
            raw=raw,
        )
