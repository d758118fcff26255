"""SQLite for the async engine, run on the event loop's own thread.

SQLAlchemy's ``sqlite+aiosqlite`` dialect talks to a driver connection with awaitable
methods; ``aiosqlite`` provides one that hands every call (a cursor, an execute, a
fetch, a commit: five or six per statement) to a thread of its own and back. For the
small indexed statements the server makes, those hand-offs cost more than SQLite does:
measured on a trivial turn, the server process spent 28 ms of CPU with them and 18 ms
without. ``connect`` returns a connection of the same shape whose methods call
:mod:`sqlite3` directly.

What makes running SQLite on the loop safe: the store's writes queue on its write
gate (``store/writes.py``), so no write here ever waits for another of this process,
and in WAL mode reads never wait for a writer. A wait for another process (one that
holds the database's write lock) is bounded by ``busy_timeout`` seconds, short on
purpose: the whole loop waits with it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

__all__ = ["BUSY_TIMEOUT", "connect", "connector"]

#: Seconds a statement waits for another process's write lock before "database is
#: locked". Writes of this process never wait for each other (the write gate).
BUSY_TIMEOUT = 5.0


class _Cursor:
    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> _Cursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> _Cursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> _Cursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _Calls:
    """What the dialect puts on ``aiosqlite``'s queue of calls (to set the isolation
    level): ``(future, function)``, run here at once."""

    __slots__ = ()

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:
            future.set_exception(error)


class _Connection:
    """The parts of an ``aiosqlite.Connection`` SQLAlchemy's dialect uses."""

    __slots__ = ("_conn", "_connection", "_tx")

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        # The dialect reads ``_connection`` to tell an open connection from a closed one.
        self._connection: sqlite3.Connection | None = connection
        self._tx = _Calls()

    def cursor(self) -> _Cursor:
        return _Cursor(self._conn.cursor())

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()


async def connect(database: str, *, busy_timeout: float = BUSY_TIMEOUT) -> _Connection:
    """A connection to the SQLite file ``database`` (``:memory:`` for one in memory)."""
    # Not bound to the thread that opened it: the pool may close it from another one.
    connection = sqlite3.connect(database, timeout=busy_timeout, check_same_thread=False)
    return _Connection(connection)


def connector(database: str) -> Callable[[], Awaitable[_Connection]]:
    """For ``create_async_engine(url, async_creator=connector(path))``."""

    async def create() -> _Connection:
        return await connect(database)

    return create
