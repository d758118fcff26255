"""The smallest runtime: one ``AsyncCodex`` whose requests the routes pass through.

It serves the routes that map onto app-server methods (account, config, models, ...)
until the app-server pool of ``server.runtime`` takes its place behind the same
``deps.Runtime`` protocol.
"""

from __future__ import annotations

import os
from typing import Any

from .._client.client import AsyncCodex
from .deps import RuntimeStatus

__all__ = ["PassthroughRuntime"]


class PassthroughRuntime:
    """Runs one app-server (``codex_home`` as its ``CODEX_HOME``); ``request_timeout``
    bounds each call."""

    def __init__(
        self, *, codex_home: str | os.PathLike[str] | None = None, request_timeout: float = 60.0
    ) -> None:
        self._codex = AsyncCodex(codex_home=codex_home, request_timeout=request_timeout)
        self._started = False

    async def start(self) -> None:
        await self._codex.start()
        self._started = True

    async def close(self) -> None:
        self._started = False
        await self._codex.close()

    async def call(self, method: str, params: Any = None) -> Any:
        return await self._codex.request(method, params)

    def status(self) -> RuntimeStatus:
        pid = getattr(self._codex.transport, "pid", None)
        alive = self._started and self._codex.connection.closed_error is None
        return RuntimeStatus(
            running=alive and pid is not None,
            pid=pid if isinstance(pid, int) else None,
            initialized=self._started,
        )
