"""The database engine: SQLite in the data dir by default, PostgreSQL by URL; the schema
brought to the newest migration on open."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .sqlite import PRAGMAS, connector

__all__ = ["HEAD", "default_url", "make_engine", "migrate"]

_MIGRATIONS = Path(__file__).with_name("migrations")
#: The newest migration: what ``migrate`` brings a database to by default.
HEAD = "head"


def default_url(data_dir: str | os.PathLike[str]) -> str:
    """``sqlite+aiosqlite:///<data_dir>/codexkit.db``."""
    return f"sqlite+aiosqlite:///{Path(data_dir).resolve() / 'codexkit.db'}"


def make_engine(url: str) -> AsyncEngine:
    """An async engine for ``url``. SQLite runs on the event loop's thread (``sqlite.py``)
    with WAL (readers never wait for the writer) and enforced foreign keys."""
    if url.startswith("sqlite"):
        database = make_url(url).database or ":memory:"
        engine = create_async_engine(url, async_creator=connector(database))
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


#: The PostgreSQL advisory lock that serves starting at once take turns on: the first
#: migrates, the others then find the database at its newest revision.
_MIGRATION_LOCK = 0x636F646578  # "codex"


async def migrate(engine: AsyncEngine, revision: str = HEAD) -> None:
    """Bring the database to ``revision`` (the newest by default), in one transaction."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
            )
        await connection.run_sync(_upgrade, revision)


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", os.fspath(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
