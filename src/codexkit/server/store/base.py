"""What every repository holds: a session maker, the engine and the store's write gate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .sqlite import Direct
from .writes import Gate, Writes, writes

__all__ = ["Gate", "Maker", "_Repo"]

Maker = async_sessionmaker[AsyncSession]


class _Repo:
    def __init__(
        self, maker: Maker, engine: AsyncEngine, gate: Gate, direct: Direct | None = None
    ) -> None:
        self._maker = maker
        self._engine = engine
        self._gate = gate
        #: SQLite's hot statements without SQLAlchemy's execution (``sqlite.Direct``).
        self._direct = direct

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """An ORM session in a write transaction, through the store's write gate."""
        async with self._gate, self._maker.begin() as db:
            yield db

    def _writes(self) -> AbstractAsyncContextManager[Writes]:
        return writes(self._engine, self._gate, self._direct)
