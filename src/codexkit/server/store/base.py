"""What every repository holds: a session maker and the engine."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .writes import Writes, writes

__all__ = ["Maker", "_Repo"]

Maker = async_sessionmaker[AsyncSession]


class _Repo:
    def __init__(self, maker: Maker, engine: AsyncEngine) -> None:
        self._maker = maker
        self._engine = engine

    def _writes(self) -> AbstractAsyncContextManager[Writes]:
        return writes(self._engine)
