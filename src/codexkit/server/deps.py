"""What routes need from the rest of the server, as FastAPI dependencies.

Routes never build their own runtime or settings: ``create_app`` puts them on
``app.state`` and routes take them through ``RuntimeDep``, ``EngineDep`` and
``SettingsDep``. The runtime is anything that satisfies :class:`Runtime`;
``host.RuntimeHost`` (the app-server pool of ``server.runtime``) does. ``EngineDep`` is
its started ``server.runtime.Runtime``: sessions, turns, controls, projects, requests and
the event hub, for the routes built on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Protocol, runtime_checkable

from fastapi import Depends, Request

from .runtime import Runtime as Engine
from .settings import ServeSettings

__all__ = [
    "EngineDep",
    "Runtime",
    "RuntimeDep",
    "RuntimeStatus",
    "SettingsDep",
    "get_engine",
    "get_runtime",
    "get_settings",
]


@dataclass(frozen=True)
class RuntimeStatus:
    """What ``/api/health`` says of the app-server(s)."""

    running: bool
    pid: int | None
    initialized: bool


@runtime_checkable
class Runtime(Protocol):
    """The app-server side of the server, as the routes use it."""

    async def start(self) -> None:
        """Start the app-server(s); called once when the app starts."""

    async def close(self) -> None:
        """Stop every app-server; called once when the app stops."""

    async def call(self, method: str, params: Any = None) -> Any:
        """Send one app-server request and return its result. Raises the SDK's typed
        errors (``codexkit.errors.RpcError`` and its subclasses, ``TransportClosedError``,
        ``CodexTimeoutError``); ``server.errors.runtime_error`` maps them to HTTP."""

    def status(self) -> RuntimeStatus:
        """Whether the app-server runs, its pid, and whether its handshake is done."""

    @property
    def engine(self) -> Engine:
        """The started ``server.runtime.Runtime`` (a ``ServeError`` before it starts)."""


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_engine(request: Request) -> Engine:
    runtime: Runtime = request.app.state.runtime
    return runtime.engine


async def get_settings(request: Request) -> ServeSettings:
    settings: ServeSettings = request.app.state.settings
    return settings


# Coroutines, though they only read app.state: FastAPI runs a plain function dependency
# in its thread pool, a hand-off to another thread and back on every request.
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[ServeSettings, Depends(get_settings)]
