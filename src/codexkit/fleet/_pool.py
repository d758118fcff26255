"""A bounded pool of app-servers that tasks share: each task leases the least busy one.

One app-server runs many threads at once, so a batch needs far fewer processes than
tasks in flight. A server that exits is replaced at its next lease; servers are started
one at a time, since several started at the same moment on a fresh ``CODEX_HOME`` race
to create its databases. (The control plane's pool in ``codexkit.server`` is bound to
its sessions and its event hub; this one only hands out clients.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType

from .._client.client import AsyncCodex
from ..errors import InvalidArgumentError

__all__ = ["ClientPool"]


@dataclass
class _Slot:
    client: AsyncCodex | None = None
    leases: int = 0
    started: int = 0


class ClientPool:
    """Up to ``size`` clients made by ``factory``, started on first need."""

    def __init__(self, size: int, factory: Callable[[], AsyncCodex]) -> None:
        if size < 1:
            raise InvalidArgumentError(f"a pool needs at least one app-server, not {size}")
        self._factory = factory
        self._slots = [_Slot() for _ in range(size)]
        self._starting = asyncio.Lock()

    @property
    def starts(self) -> int:
        """How many app-servers were started so far (restarts included)."""
        return sum(slot.started for slot in self._slots)

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        for slot in self._slots:
            client, slot.client = slot.client, None
            if client is not None:
                await client.close()

    @contextlib.asynccontextmanager
    async def lease(self) -> AsyncIterator[AsyncCodex]:
        """A running client, counted busy until the block ends."""
        slot = min(self._slots, key=lambda s: s.leases)
        slot.leases += 1
        try:
            yield await self._running(slot)
        finally:
            slot.leases -= 1

    async def _running(self, slot: _Slot) -> AsyncCodex:
        async with self._starting:
            client = slot.client
            if client is not None and _alive(client):
                return client
            slot.client = None
            if client is not None:
                await client.close()  # reaps what is left of a server that exited
            client = self._factory()
            await client.start()
            slot.client = client
            slot.started += 1
            return client


def _alive(client: AsyncCodex) -> bool:
    try:
        return client.connection.closed_error is None
    except Exception:  # not started, or closed
        return False
