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
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .models import SessionRow, TranscriptEntry, TurnRow

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
async def writes(engine: AsyncEngine, gate: Gate) -> AsyncIterator[Writes]:
    """:class:`Writes` in one transaction through ``gate``: committed on a clean exit,
    rolled back on an error. What was given to ``on_commit`` runs after the commit."""
    async with gate:
        async with engine.begin() as db:
            batch = Writes(db)
            yield batch
        for done in batch.committed:
            done()


class Writes:
    """Turn, transcript and session writes on one open connection (one transaction)."""

    def __init__(self, db: AsyncConnection) -> None:
        self._db = db
        self._insert = postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert
        self.committed: list[Callable[[], None]] = []

    def on_commit(self, done: Callable[[], None]) -> None:
        """Run ``done`` once the transaction has committed (never, if it rolls back):
        for what remembers the written state outside the database, such as a cache."""
        self.committed.append(done)

    async def start_turn(self, session_id: str, turn_id: str) -> None:
        """Record a turn as running unless it is known already (its end may have been
        recorded first: a finished turn never reads as running again)."""
        statement = self._insert(_TURNS).values(
            session_id=session_id, id=turn_id, status="inProgress", started_at=time.time()
        )
        await self._db.execute(
            statement.on_conflict_do_nothing(index_elements=["session_id", "id"])
        )

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
        insert = self._insert(_TURNS).values(
            session_id=session_id, id=turn_id, started_at=time.time(), **changes
        )
        upsert = insert.on_conflict_do_update(index_elements=["session_id", "id"], set_=changes)
        row = (await self._db.execute(upsert.returning(*_TURNS.c))).one()
        return TurnRow(**row._mapping)

    async def unfinished_turns(self, session_id: str | None = None) -> Sequence[TurnRow]:
        """Turns recorded as running (of one session, or of all), oldest first."""
        query = select(_TURNS).where(_TURNS.c.status == "inProgress")
        if session_id is not None:
            query = query.where(_TURNS.c.session_id == session_id)
        rows = await self._db.execute(query.order_by(_TURNS.c.started_at))
        return [TurnRow(**row._mapping) for row in rows]

    async def put_entry(self, session_id: str, message_id: str, **fields: Any) -> TranscriptEntry:
        """Insert the transcript entry or update the one with the same ``message_id`` in
        place (it keeps its position). Updating only some fields needs the entry to
        exist."""
        if fields.keys() >= _ENTRY_REQUIRED:
            insert = self._insert(_TRANSCRIPT).values(
                session_id=session_id, message_id=message_id, **fields
            )
            upsert = insert.on_conflict_do_update(
                index_elements=["session_id", "message_id"], set_=fields
            )
            row = (await self._db.execute(upsert.returning(*_TRANSCRIPT.c))).one()
            return TranscriptEntry(**row._mapping)
        statement = (
            update(_TRANSCRIPT)
            .where(_TRANSCRIPT.c.session_id == session_id, _TRANSCRIPT.c.message_id == message_id)
            .values(**fields)
            .returning(*_TRANSCRIPT.c)
        )
        found = (await self._db.execute(statement)).one_or_none()
        if found is None:  # fails on the missing fields, as an insert of them should
            inserted = self._insert(_TRANSCRIPT).values(
                session_id=session_id, message_id=message_id, **fields
            )
            found = (await self._db.execute(inserted.returning(*_TRANSCRIPT.c))).one()
        return TranscriptEntry(**found._mapping)

    async def end_streaming(
        self, session_id: str, turn_id: str, status: str
    ) -> Sequence[TranscriptEntry]:
        """Give the turn's entries still streaming their final ``status``; those entries,
        in transcript order."""
        statement = (
            update(_TRANSCRIPT)
            .where(
                _TRANSCRIPT.c.session_id == session_id,
                _TRANSCRIPT.c.turn_id == turn_id,
                _TRANSCRIPT.c.status == "streaming",
            )
            .values(status=status)
            .returning(*_TRANSCRIPT.c)
        )
        rows = [TranscriptEntry(**row._mapping) for row in await self._db.execute(statement)]
        return sorted(rows, key=lambda entry: entry.seq)

    async def update_session(self, session_id: str, **fields: Any) -> None:
        """Set ``fields`` (and ``updated_at``) of a session."""
        fields.setdefault("updated_at", time.time())
        await self._db.execute(
            update(_SESSIONS).where(_SESSIONS.c.id == session_id).values(**fields)
        )
