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

from sqlalchemy.exc import DBAPIError

__all__ = ["BUSY_TIMEOUT", "PRAGMAS", "Direct", "connect", "connector"]

#: Seconds a statement waits for another process's write lock before "database is
#: locked". Writes of this process never wait for each other (the write gate).
BUSY_TIMEOUT = 5.0
#: What every connection to the database sets: WAL (readers never wait for the writer),
#: enforced foreign keys, and a sync at checkpoints rather than at every commit.
PRAGMAS = ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL")


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


class Direct:
    """Core statements run on a :mod:`sqlite3` connection of their own, with no
    SQLAlchemy execution around them: the hot path of a turn (its writes, the session
    and running-turn reads) on SQLite.

    Each statement is compiled once per set of value names, by SQLAlchemy's SQLite
    dialect, to its SQL and the order of its parameters; values go through their
    column types' bind processors (JSON) and rows through their result processors
    (JSON, booleans), as SQLAlchemy would. Through SQLAlchemy's async engine the same
    statement cost 170-250 us of CPU, here 10-25 us. Used for the statements of
    ``store/writes.py`` and two reads; everything else stays on the engine.
    """

    def __init__(self, database: str, *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        from sqlalchemy.dialects import sqlite as sqlite_dialect

        def connection() -> sqlite3.Connection:
            # Autocommit mode: a transaction is ``begin`` ... ``commit``, nothing implied.
            made = sqlite3.connect(
                database, timeout=busy_timeout, check_same_thread=False, isolation_level=None
            )
            for pragma in PRAGMAS:
                made.execute(f"PRAGMA {pragma}")
            return made

        # The writer runs the write transactions (one at a time: the store's write
        # gate); reads go to the reader, which never sees a write before its commit.
        self._writer = connection()
        self._reader = connection()
        self._dialect = sqlite_dialect.dialect(paramstyle="qmark")
        self._prepared: dict[tuple[int, tuple[str, ...]], _Prepared] = {}

    def begin(self) -> None:
        self._writer.execute("BEGIN")

    def commit(self) -> None:
        try:
            self._writer.execute("COMMIT")
        except sqlite3.Error:
            self.rollback()
            raise

    def rollback(self) -> None:
        if self._writer.in_transaction:
            self._writer.execute("ROLLBACK")

    def execute(self, statement: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
        """Run ``statement`` with ``values`` in the write transaction; its rows as dicts
        (none for a statement without rows)."""
        return self._run(self._writer, statement, values)

    def read(self, statement: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the query ``statement`` on what is committed; its rows as dicts."""
        return self._run(self._reader, statement, values)

    def _run(
        self, connection: sqlite3.Connection, statement: Any, values: dict[str, Any]
    ) -> list[dict[str, Any]]:
        key = (id(statement), tuple(values))
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = self._prepared[key] = _Prepared(statement, values, self._dialect)
        parameters = prepared.parameters(values)
        try:
            cursor = connection.execute(prepared.sql, parameters)
            found = cursor.fetchall() if cursor.description is not None else []
            cursor.close()
        except sqlite3.Error as error:  # as the engine raises it: IntegrityError, ...
            raise DBAPIError.instance(prepared.sql, parameters, error, sqlite3.Error) from None
        return [prepared.row(row) for row in found]

    def close(self) -> None:
        self._writer.close()
        self._reader.close()


class _Prepared:
    """One statement compiled for one set of value names."""

    __slots__ = ("_binds", "_defaults", "_keep", "_order", "_results", "sql")

    def __init__(self, statement: Any, values: dict[str, Any], dialect: Any) -> None:
        # Kept alive: the cache is keyed by the statement's id.
        self._keep = statement
        compiled = statement.compile(dialect=dialect, column_keys=list(values))
        self.sql: str = compiled.string
        self._order: list[str] = list(compiled.positiontup or ())
        self._binds: dict[str, Any] = {}
        # Values written into the statement itself (``status == "inProgress"``).
        self._defaults: dict[str, Any] = {}
        for name in self._order:
            bind = compiled.binds[name]
            process = bind.type.bind_processor(dialect)
            if process is not None:
                self._binds[name] = process
            if name not in values and bind.value is not None:
                self._defaults[name] = bind.effective_value
        # Columns left out of an INSERT get their scalar defaults, as SQLAlchemy gives.
        for column in getattr(compiled, "insert_prefetch", ()):
            default = column.default
            if default is None or not default.is_scalar:
                raise ValueError(f"column {column.key} needs a value or a scalar default")
            self._defaults[column.key] = default.arg
        # What a SELECT selects, or an INSERT or UPDATE returns (nothing without RETURNING).
        self._results: list[tuple[str, Any]] = [
            (column.key, column.type.result_processor(dialect, None))
            for column in statement.exported_columns
        ]

    def parameters(self, values: dict[str, Any]) -> list[Any]:
        merged = {**self._defaults, **values} if self._defaults else values
        out = []
        for name in self._order:
            value = merged[name]
            process = self._binds.get(name)
            out.append(process(value) if process is not None else value)
        return out

    def row(self, found: tuple[Any, ...]) -> dict[str, Any]:
        return {
            key: value if process is None else process(value)
            for (key, process), value in zip(self._results, found, strict=True)
        }
