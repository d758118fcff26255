"""Bringing a client's app-server up: the transport, the handshake, and the finalizer of a
client dropped without ``close()``."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .._defaults import DEFAULT_CODEX_SETTINGS
from .._runtime.binary import CodexBinary, check_version, find_codex
from .._runtime.config import config_overrides
from .._runtime.home_lock import codex_home_dir, first_start_lock
from .._version import __version__
from ..mcp import McpServer, mcp_servers_config
from ..transport import StdioTransport, Transport, UnixSocketTransport
from ..types import ServerInfo

if TYPE_CHECKING:
    from .._connection.rpc import Connection

__all__ = ["LaunchSettings", "abandon", "handshake", "make_transport"]

Json = dict[str, Any]

_CLIENT_INFO = {"name": "codexkit", "title": "codexkit", "version": __version__}


class LaunchSettings(Protocol):
    """What starting a server needs (``AsyncCodex`` has it all)."""

    @property
    def cwd(self) -> str | None: ...
    @property
    def codex_home(self) -> str | None: ...
    @property
    def config(self) -> Mapping[str, Any]: ...
    @property
    def mcp_servers(self) -> Mapping[str, McpServer]: ...
    @property
    def env(self) -> Mapping[str, str]: ...
    @property
    def codex_bin(self) -> str | os.PathLike[str] | None: ...
    @property
    def connect(self) -> str | None: ...
    @property
    def startup_timeout(self) -> float: ...
    @property
    def max_message_size(self) -> int | None: ...


def make_transport(
    settings: LaunchSettings, *, api_key: str | None
) -> tuple[Transport, CodexBinary | None]:
    """The transport to the server ``settings`` describe, and the binary it runs."""
    if settings.connect is not None:
        path = settings.connect.removeprefix("unix://")
        return UnixSocketTransport(path, max_message_size=settings.max_message_size), None
    binary = find_codex(settings.codex_bin)
    env = dict(settings.env)
    if settings.codex_home is not None:
        env["CODEX_HOME"] = settings.codex_home
    # An API key is held in the server's memory only, never written to CODEX_HOME.
    store = {"cli_auth_credentials_store": "ephemeral"} if api_key else {}
    config = {**DEFAULT_CODEX_SETTINGS, **store, **settings.config}
    argv = [binary.path, "app-server", *config_overrides(config)]
    # The client's MCP servers are the app-server's own: every thread and
    # `codex.mcp.status()` see them. They were checked when the client was made.
    if settings.mcp_servers:
        argv += config_overrides({"mcp_servers": mcp_servers_config(settings.mcp_servers)})
    transport = StdioTransport(
        argv,
        cwd=settings.cwd,
        env=binary.child_env(env),
        max_message_size=settings.max_message_size,
    )
    return transport, binary


async def handshake(
    settings: LaunchSettings,
    connection: Connection,
    binary: CodexBinary | None,
    *,
    api_key: str | None,
) -> ServerInfo:
    """Start ``connection``, complete ``initialize`` / ``initialized``, and sign the
    server in with ``api_key`` if given (the ephemeral store keeps it in memory)."""
    async with _first_start_lock(settings):
        await connection.start()
        result = await connection.request(
            "initialize",
            {"clientInfo": _CLIENT_INFO, "capabilities": {"experimentalApi": True}},
            timeout=settings.startup_timeout,
        )
    connection.notify("initialized")
    if api_key is not None:
        login = {"type": "apiKey", "apiKey": api_key}
        await connection.request("account/login/start", login, timeout=settings.startup_timeout)
    user_agent = str(result.get("userAgent", ""))
    return ServerInfo(
        name="codex app-server",
        version=check_version(user_agent, binary) if binary else None,
        user_agent=user_agent,
        codex_home=result.get("codexHome"),
        platform_os=result.get("platformOs"),
        raw=result,
    )


def _first_start_lock(settings: LaunchSettings) -> contextlib.AbstractAsyncContextManager[None]:
    """Serialises the first start on a fresh ``CODEX_HOME`` (see ``home_lock``)."""
    if settings.connect is not None:
        return contextlib.nullcontext()
    home = settings.codex_home or codex_home_dir({**os.environ, **settings.env})
    return first_start_lock(home, settings.startup_timeout)


def abandon(transport: Transport) -> None:
    """Finalizer of a started client collected without ``close()``: end its server, as
    ``subprocess.Popen`` and httpx clients do, and say so."""
    if transport.abandon():
        warnings.warn(
            "a codexkit client was garbage-collected without close(); its app-server was "
            "stopped. Close clients with `with` / `async with` or close().",
            ResourceWarning,
            stacklevel=2,
        )
