"""``RuntimeHost``: the runtime of ``server.runtime`` behind the routes.

One pool of app-servers serves everything: the session routes use the runtime's
services (sessions, turns, controls, projects, requests, the event hub) and the
passthrough routes (account, config, models, ...) send their app-server requests to the
pool's first app-server, so a sign-in started there is cancelled or completed there.
"""

from __future__ import annotations

from typing import Any

from ..errors import TransportClosedError
from .deps import RuntimeStatus
from .runtime import Runtime as Engine
from .runtime import RuntimeSettings
from .runtime.errors import RuntimeFailure

__all__ = ["RuntimeHost"]

#: The slot passthrough requests go to (see the module's docstring).
PASSTHROUGH_SLOT = 0


class RuntimeHost:
    """Starts the runtime with the app and closes it after; ``engine`` is the started
    runtime. ``request_timeout`` bounds each passthrough call."""

    def __init__(self, settings: RuntimeSettings) -> None:
        self.settings = settings
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeFailure("the runtime is not running")
        return self._engine

    async def start(self) -> None:
        self._engine = await Engine.start(self.settings)

    async def close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.close()

    async def call(self, method: str, params: Any = None) -> Any:
        try:
            client = await self.engine.pool.client(PASSTHROUGH_SLOT)
        except RuntimeFailure as error:
            # The app-server is being restarted: the SDK's error, which maps to a 503.
            raise TransportClosedError(error.message) from None
        return await client.request(method, params)

    def status(self) -> RuntimeStatus:
        engine = self._engine
        if engine is None:
            return RuntimeStatus(running=False, pid=None, initialized=False)
        running = engine.pool.running(PASSTHROUGH_SLOT)
        pid = engine.pool.pid(PASSTHROUGH_SLOT) if running else None
        return RuntimeStatus(running=running, pid=pid, initialized=True)
