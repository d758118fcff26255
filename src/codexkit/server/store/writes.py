"""The writes a turn makes, as single statements that share one transaction.

A turn's notifications come in bursts (its start, items starting and completing, its
end). The recorder writes what a burst says in one transaction through :class:`Writes`
(``Store.writes()``), and the repositories use the same statements one at a time. Each
write is one Core statement: an upsert (``INSERT ... ON CONFLICT``) or an ``UPDATE ...
RETURNING``, on SQLite and PostgreSQL alike, with no ORM unit of work around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .models import SessionRow, TranscriptEntry, TurnRow
from .sqlite import Direct

__all__ = ["Gate", "Writes", "write_gate", "writes"]

Json = dict[str, Any]

_TURNS: Table = TurnRow.__table__  # type: ignore[assignment]
_TRANSCRIPT: Table = TranscriptEntry.__table__  # type: ignore[assignment]
_SESSIONS: Table = SessionRow.__table__  # type: ignore[assignment]
#: The fields a new transcript entry cannot do without.
_ENTRY_REQUIRED = frozenset({"turn_id", "role", "type", "status"})


#: What every write transaction of a store goes through (see :func:`write_gate`).
Gate = AbstractAsyncContextManager[Any]


def write_gate(engine: AsyncEngine) -> Gate:
    """SQLite lets one connection write at a time, and a writer that finds the database
    locked sleeps in steps of up to 100 ms before trying again. The server is its only
    writer, so its write transactions queue on a lock instead, in order and without
    sleeping. PostgreSQL locks rows: no gate."""
    return asyncio.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()


@asynccontextmanager
async def writes(
    engine: AsyncEngine, gate: Gate, direct: Direct | None = None
) -> AsyncIterator[Writes]:
    """:class:`Writes` in one transaction through ``gate``: committed on a clean exit,
    rolled back on an error. What was given to ``on_commit`` runs after the commit. The
    transaction (and the gate) is taken at the first statement: most of a turn's
    notifications change nothing stored, and their batches then cost no transaction.
    On SQLite, ``direct`` runs the statements (``sqlite.Direct``)."""
    batch = Writes(engine, gate, direct)
    try:
        yield batch
    except BaseException:
        await batch.end(commit=False)
        raise
    await batch.end(commit=True)
    for done in batch.committed:
        done()


@functools.cache
def _statements(dialect: str) -> _Statements:
    return _Statements(postgresql.insert if dialect == "postgresql" else sqlite.insert)


class _Statements:
    """The writes' statements, built once per dialect (and per set of columns), their
    values given at execution: building a statement and its cache key costs more than
    running it on SQLite."""

    def __init__(self, insert: Any) -> None:
        self._insert = insert
        turns = _TURNS.c
        self.start_turn = insert(_TURNS).on_conflict_do_nothing(index_elements=["session_id", "id"])
        self.unfinished_turns = (
            select(_TURNS).where(turns.status == "inProgress").order_by(turns.started_at)
        )
        self.unfinished_turns_of = (
            select(_TURNS)
            .where(turns.status == "inProgress", turns.session_id == bindparam("session_id"))
            .order_by(turns.started_at)
        )
        # An UPDATE sets every column its values name: the keys that pick the rows are
        # named apart from the columns.
        self.end_turns_after = update(_TURNS).where(
            turns.session_id == bindparam("key_session_id"),
            turns.status == "inProgress",
            turns.started_at > bindparam("key_after"),
        )
        entries = _TRANSCRIPT.c
        self.end_streaming = (
            update(_TRANSCRIPT)
            .where(
                entries.session_id == bindparam("key_session_id"),
                entries.turn_id == bindparam("key_turn_id"),
                entries.status == "streaming",
            )
            .values(status=bindparam("new_status"))
            .returning(*entries)
        )
        self.update_entry = (
            update(_TRANSCRIPT)
            .where(
                entries.session_id == bindparam("key_session_id"),
                entries.message_id == bindparam("key_message_id"),
            )
            .returning(*entries)
        )
        self.insert_entry = insert(_TRANSCRIPT).returning(*entries)
        self.update_session = update(_SESSIONS).where(_SESSIONS.c.id == bindparam("key_id"))

    @functools.cache  # noqa: B019 - one instance per dialect, kept for the process
    def upsert(self, table: Table, key: tuple[str, ...], changed: tuple[str, ...]) -> Any:
        """Insert a row of ``table``, or set the ``changed`` columns of the one with the
        same ``key``; the row after."""
        insert = self._insert(table)
        return insert.on_conflict_do_update(
            index_elements=list(key), set_={name: insert.excluded[name] for name in changed}
        ).returning(*table.c)


class Writes:
    """Turn, transcript and session writes in one transaction, begun at the first."""

    def __init__(self, engine: AsyncEngine, gate: Gate, direct: Direct | None = None) -> None:
        self._engine = engine
        self._gate = gate
        self._direct = direct
        self._open = False
        self._db: AsyncConnection | None = None
        self._sql = _statements(engine.dialect.name)
        self.committed: list[Callable[[], None]] = []

    async def _execute(self, statement: Any, values: Json) -> list[Json]:
        """Run one statement in the transaction (begun now if need be); its rows."""
        if not self._open:
            await self._begin()
        if self._direct is not None:
            return self._direct.execute(statement, values)
        assert self._db is not None
        result = await self._db.execute(statement, values)
        return [dict(row._mapping) for row in result] if result.returns_rows else []

    async def _begin(self) -> None:
        await self._gate.__aenter__()
        try:
            if self._direct is not None:
                self._direct.begin()
            else:
                self._db = await self._engine.connect()
                await self._db.begin()
        except BaseException:
            if self._db is not None:
                await self._db.close()
                self._db = None
            await self._gate.__aexit__(None, None, None)
            raise
        self._open = True

    async def end(self, *, commit: bool) -> None:
        """Commit (or roll back) what was written, if anything was."""
        if not self._open:
            return
        self._open = False
        db, self._db = self._db, None
        try:
            if self._direct is not None and commit:
                self._direct.commit()
            elif self._direct is not None:
                self._direct.rollback()
            elif db is not None:
                await (db.commit() if commit else db.rollback())
        finally:
            try:
                if db is not None:
                    await db.close()
            finally:
                await self._gate.__aexit__(None, None, None)

    def on_commit(self, done: Callable[[], None]) -> None:
        """Run ``done`` once the transaction has committed (never, if it rolls back):
        for what remembers the written state outside the database, such as a cache."""
        self.committed.append(done)

    async def start_turn(self, session_id: str, turn_id: str) -> None:
        """Record a turn as running unless it is known already (its end may have been
        recorded first: a finished turn never reads as running again)."""
        values = {"session_id": session_id, "id": turn_id, "status": "inProgress"}
        await self._execute(self._sql.start_turn, {**values, "started_at": time.time()})

    async def put_turn(
        self,
        session_id: str,
        turn_id: str,
        status: str,
        *,
        completed_at: float | None = None,
        error: Json | None = None,
    ) -> TurnRow:
        """Record a turn's status (the first sighting sets ``started_at``)."""
        changes: Json = {"status": status}
        if completed_at is not None:
            changes["completed_at"] = completed_at
        if error is not None:
            changes["error"] = error
        statement = self._sql.upsert(_TURNS, ("session_id", "id"), tuple(changes))
        values = {"session_id": session_id, "id": turn_id, "started_at": time.time(), **changes}
        [row] = await self._execute(statement, values)
        return TurnRow(**row)

    async def unfinished_turns(self, session_id: str | None = None) -> Sequence[TurnRow]:
        """Turns recorded as running (of one session, or of all), oldest first."""
        if session_id is None:
            rows = await self._execute(self._sql.unfinished_turns, {})
        else:
            rows = await self._execute(self._sql.unfinished_turns_of, {"session_id": session_id})
        return [TurnRow(**row) for row in rows]

    async def end_turns_started_after(
        self, session_id: str, after: float, status: str, completed_at: float
    ) -> None:
        """Give the session's turns still running that started after ``after`` the end
        ``status``."""
        values = {"key_session_id": session_id, "key_after": after}
        await self._execute(
            self._sql.end_turns_after, {**values, "status": status, "completed_at": completed_at}
        )

    async def put_entry(self, session_id: str, message_id: str, **fields: Any) -> TranscriptEntry:
        """Insert the transcript entry or update the one with the same ``message_id`` in
        place (it keeps its position). Updating only some fields needs the entry to
        exist."""
        names = tuple(fields)
        values = {"session_id": session_id, "message_id": message_id, **fields}
        if fields.keys() >= _ENTRY_REQUIRED:
            statement = self._sql.upsert(_TRANSCRIPT, ("session_id", "message_id"), names)
            [row] = await self._execute(statement, values)
            return TranscriptEntry(**row)
        keys = {"key_session_id": session_id, "key_message_id": message_id}
        found = await self._execute(self._sql.update_entry, {**keys, **fields})
        if not found:  # fails on the missing fields, as an insert of them should
            found = await self._execute(self._sql.insert_entry, values)
        return TranscriptEntry(**found[0])

    async def end_streaming(
        self, session_id: str, turn_id: str, status: str
    ) -> Sequence[TranscriptEntry]:
        """Give the turn's entries still streaming their final ``status``; those entries,
        in transcript order."""
        values = {"key_session_id": session_id, "key_turn_id": turn_id, "new_status": status}
        rows = await self._execute(self._sql.end_streaming, values)
        return sorted((TranscriptEntry(**row) for row in rows), key=lambda e: e.seq)

    async def update_session(self, session_id: str, **fields: Any) -> None:
        """Set ``fields`` (and ``updated_at``) of a session."""
        fields.setdefault("updated_at", time.time())
        await self._execute(self._sql.update_session, {"key_id": session_id, **fields})
