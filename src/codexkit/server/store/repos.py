"""Repositories: small typed reads and writes over the tables, one per concept.

Rows come back detached (``expire_on_commit=False``): plain objects a caller may read
after the database session closed. Writes that must happen once (resolving a request)
are single conditional UPDATEs, so two deciders racing cannot both win.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from .base import Gate, Maker, _Repo
from .cluster import ClusterRepo
from .engine import make_engine, migrate
from .jobs import JobRepo, SuggestionRepo, WorkerRepo
from .models import Defaults, Project, ServerRequestRow, SessionRow, TranscriptEntry, TurnRow
from .sqlite import Direct
from .writes import Writes, write_gate, writes

__all__ = [
    "DefaultsRepo",
    "ProjectRepo",
    "RequestRepo",
    "SessionRepo",
    "Store",
    "TranscriptRepo",
    "TurnRepo",
    "open_store",
]

Json = dict[str, Any]
_SESSIONS: Table = SessionRow.__table__  # type: ignore[assignment]
#: Read on every request about a session: built once, one Core select, no ORM session.
_SESSION_BY_ID = select(_SESSIONS).where(_SESSIONS.c.id == bindparam("id"))


class SessionRepo(_Repo):
    async def add(self, row: SessionRow) -> SessionRow:
        async with self._write() as db:
            db.add(row)
        return row

    async def get(self, session_id: str) -> SessionRow | None:
        if self._direct is not None:
            rows = self._direct.read(_SESSION_BY_ID, {"id": session_id})
            return SessionRow(**rows[0]) if rows else None
        async with self._engine.connect() as db:
            found = (await db.execute(_SESSION_BY_ID, {"id": session_id})).first()
        return None if found is None else SessionRow(**found._mapping)

    async def list(
        self,
        *,
        archived: bool | None = False,
        project_id: str | None = None,
        include_deleted: bool = False,
        system_owned: bool | None = None,
        after: tuple[float, str] | None = None,
        limit: int | None = None,
    ) -> Sequence[SessionRow]:
        """Newest first (``system_owned`` None: both kinds), from just after the session
        whose (created_at, id) is ``after``, at most ``limit``: a page that sessions
        created meanwhile do not shift (they are newer than any page already read)."""
        query = select(SessionRow).order_by(SessionRow.created_at.desc(), SessionRow.id)
        if archived is not None:
            query = query.where(SessionRow.archived == archived)
        if project_id is not None:
            query = query.where(SessionRow.project_id == project_id)
        if not include_deleted:
            query = query.where(SessionRow.deleted_at.is_(None))
        if system_owned is not None:
            query = query.where(SessionRow.system_owned == system_owned)
        if after is not None:
            created_at, session_id = after
            query = query.where(
                or_(
                    SessionRow.created_at < created_at,
                    and_(SessionRow.created_at == created_at, SessionRow.id > session_id),
                )
            )
        if limit is not None:
            query = query.limit(limit)
        async with self._maker() as db:
            return (await db.scalars(query)).all()

    async def update(self, session_id: str, **fields: Any) -> SessionRow | None:
        """Set ``fields`` (and ``updated_at``); the row after, or None if unknown."""
        fields.setdefault("updated_at", time.time())
        async with self._write() as db:
            row = await db.get(SessionRow, session_id, with_for_update=True)
            if row is None:
                return None
            for name, value in fields.items():
                setattr(row, name, value)
        return row

    async def in_project(self, project_id: str) -> Sequence[SessionRow]:
        return await self.list(archived=None, project_id=project_id)


class DefaultsRepo(_Repo):
    """The one row of scope ``default`` (made on first read), read at every message.
    On SQLite one server owns the database (a second one is refused), so the row is kept
    in memory; on PostgreSQL other processes may change it, so it is read each time."""

    def __init__(
        self, maker: Maker, engine: AsyncEngine, gate: Gate, direct: Direct | None = None
    ) -> None:
        super().__init__(maker, engine, gate, direct)
        self._row: Defaults | None = None
        self._keep = engine.dialect.name == "sqlite"

    async def get(self) -> Defaults:
        if self._row is not None:
            return self._row
        async with self._maker() as db:
            row = await db.get(Defaults, 1)
        if row is None:
            row = await self._make()
        if self._keep:
            self._row = row
        return row

    async def _make(self) -> Defaults:
        try:
            async with self._write() as db:
                row = await db.get(Defaults, 1)
                if row is None:
                    row = Defaults(id=1, controls=None, settings={}, locked=False)
                    db.add(row)
        except IntegrityError:
            # The first requests of a fresh database race to make the one row (50 session
            # creates at once did): the loser reads the winner's.
            async with self._maker() as db:
                row = await db.get(Defaults, 1)
            assert row is not None  # the row that made the insert fail
        return row

    async def update(self, **fields: Any) -> Defaults:
        await self.get()
        async with self._write() as db:
            row = await db.get(Defaults, 1, with_for_update=True)
            assert row is not None  # made just above; the row is never deleted
            for name, value in fields.items():
                setattr(row, name, value)
        if self._keep:
            self._row = row
        return row


class ProjectRepo(_Repo):
    async def add(self, project_id: str, name: str) -> Project | None:
        """The new project, or None when the name is taken."""
        now = time.time()
        row = Project(id=project_id, name=name, created_at=now, updated_at=now)
        try:
            async with self._write() as db:
                db.add(row)
        except IntegrityError:
            return None
        return row

    async def get(self, project_id: str) -> Project | None:
        async with self._maker() as db:
            return await db.get(Project, project_id)

    async def list(self) -> Sequence[Project]:
        async with self._maker() as db:
            return (await db.scalars(select(Project).order_by(Project.name))).all()

    async def rename(self, project_id: str, name: str) -> Project | None:
        """The renamed project; None when unknown. Raises ``IntegrityError`` when the
        name is taken."""
        async with self._write() as db:
            row = await db.get(Project, project_id, with_for_update=True)
            if row is None:
                return None
            row.name, row.updated_at = name, time.time()
        return row

    async def remove(self, project_id: str) -> bool:
        """Delete the project; its sessions become unassigned."""
        async with self._write() as db:
            await db.execute(
                update(SessionRow)
                .where(SessionRow.project_id == project_id)
                .values(project_id=None)
            )
            done = await db.execute(delete(Project).where(Project.id == project_id))
        return bool(getattr(done, "rowcount", 0))


class TurnRepo(_Repo):
    async def put(
        self,
        session_id: str,
        turn_id: str,
        status: str,
        *,
        completed_at: float | None = None,
        error: Json | None = None,
    ) -> TurnRow:
        """Record a turn's status (the first sighting sets ``started_at``)."""
        async with self._writes() as writes:
            return await writes.put_turn(
                session_id, turn_id, status, completed_at=completed_at, error=error
            )

    async def start(self, session_id: str, turn_id: str) -> None:
        """Record a turn as running unless it is known already."""
        async with self._writes() as writes:
            await writes.start_turn(session_id, turn_id)

    async def get(self, session_id: str, turn_id: str) -> TurnRow | None:
        async with self._maker() as db:
            return await db.get(TurnRow, (session_id, turn_id))

    async def remove(self, session_id: str, turn_ids: Sequence[str]) -> None:
        async with self._write() as db:
            await db.execute(
                delete(TurnRow).where(
                    TurnRow.session_id == session_id, TurnRow.id.in_(list(turn_ids))
                )
            )

    async def list(self, session_id: str) -> Sequence[TurnRow]:
        query = (
            select(TurnRow)
            .where(TurnRow.session_id == session_id)
            .order_by(TurnRow.started_at, TurnRow.id)
        )
        async with self._maker() as db:
            return (await db.scalars(query)).all()

    async def unfinished(self, session_id: str | None = None) -> Sequence[TurnRow]:
        """Turns recorded as running (of one session, or what a crash or a restart left
        behind in all of them), oldest first."""
        async with self._writes() as writes:
            return await writes.unfinished_turns(session_id)


class TranscriptRepo(_Repo):
    async def put(self, session_id: str, message_id: str, **fields: Any) -> TranscriptEntry:
        """Insert the entry or update the one with the same ``message_id`` in place
        (it keeps its position)."""
        async with self._writes() as writes:
            return await writes.put_entry(session_id, message_id, **fields)

    async def list(self, session_id: str) -> Sequence[TranscriptEntry]:
        query = (
            select(TranscriptEntry)
            .where(TranscriptEntry.session_id == session_id)
            .order_by(TranscriptEntry.seq)
        )
        async with self._maker() as db:
            return (await db.scalars(query)).all()

    async def drop_turns(self, session_id: str, turn_ids: Sequence[str]) -> None:
        """Forget the entries of turns rolled back."""
        async with self._write() as db:
            await db.execute(
                delete(TranscriptEntry).where(
                    TranscriptEntry.session_id == session_id,
                    TranscriptEntry.turn_id.in_(list(turn_ids)),
                )
            )


class RequestRepo(_Repo):
    async def add(self, row: ServerRequestRow) -> ServerRequestRow:
        async with self._write() as db:
            db.add(row)
        return row

    async def get(self, request_id: str) -> ServerRequestRow | None:
        async with self._maker() as db:
            return await db.get(ServerRequestRow, request_id)

    async def list(
        self, session_id: str, kind: str, *, status: str | None = "pending"
    ) -> Sequence[ServerRequestRow]:
        query = (
            select(ServerRequestRow)
            .where(ServerRequestRow.session_id == session_id, ServerRequestRow.kind == kind)
            .order_by(ServerRequestRow.created_at, ServerRequestRow.id)
        )
        if status is not None:
            query = query.where(ServerRequestRow.status == status)
        async with self._maker() as db:
            return (await db.scalars(query)).all()

    async def resolve(
        self, request_id: str, decision: Json, *, actor: str | None, source: str | None
    ) -> bool:
        """Mark a pending request resolved; False when it was not pending (so exactly
        one decider wins)."""
        return await self._finish(
            request_id,
            status="resolved",
            decision=decision,
            actor=actor,
            source=source,
            resolved_at=time.time(),
        )

    async def expire(self, request_id: str, reason: str, *, decision: Json | None = None) -> bool:
        """Mark a pending request expired with ``reason``; False when it was not pending."""
        return await self._finish(
            request_id,
            status="expired",
            expiry_reason=reason,
            decision=decision,
            resolved_at=time.time(),
        )

    async def expire_pending(
        self,
        reason: str,
        *,
        ids: Sequence[str] | None = None,
        session_id: str | None = None,
    ) -> builtins.list[str]:
        """Expire every pending request (or those of ``ids``, or of one session); the
        ids expired."""
        # One UPDATE ... RETURNING: a request resolved meanwhile is neither expired nor
        # reported as expired.
        statement = (
            update(ServerRequestRow)
            .where(ServerRequestRow.status == "pending")
            .values(status="expired", expiry_reason=reason, resolved_at=time.time())
            .returning(ServerRequestRow.id)
        )
        if ids is not None:
            statement = statement.where(ServerRequestRow.id.in_(list(ids)))
        if session_id is not None:
            statement = statement.where(ServerRequestRow.session_id == session_id)
        async with self._write() as db:
            return list((await db.scalars(statement)).all())

    async def _finish(self, request_id: str, **values: Any) -> bool:
        async with self._write() as db:
            done = await db.execute(
                update(ServerRequestRow)
                .where(ServerRequestRow.id == request_id, ServerRequestRow.status == "pending")
                .values(**values)
            )
        return bool(getattr(done, "rowcount", 0))


class Store:
    """Every repository over one engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        maker = async_sessionmaker(engine, expire_on_commit=False)
        self._gate = write_gate(engine)
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        # A file, not ":memory:" (each connection to which is a database of its own).
        self._direct = Direct(database) if database and database != ":memory:" else None
        parts = (maker, engine, self._gate, self._direct)
        self.sessions = SessionRepo(*parts)
        self.defaults = DefaultsRepo(*parts)
        self.projects = ProjectRepo(*parts)
        self.turns = TurnRepo(*parts)
        self.transcript = TranscriptRepo(*parts)
        self.requests = RequestRepo(*parts)
        self.jobs = JobRepo(*parts)
        self.workers = WorkerRepo(*parts)
        self.suggestions = SuggestionRepo(*parts)
        self.cluster = ClusterRepo(*parts)

    def writes(self) -> AbstractAsyncContextManager[Writes]:
        """Turn, transcript and session writes in one transaction (committed on a
        clean exit, rolled back on an error)."""
        return writes(self.engine, self._gate, self._direct)

    async def close(self) -> None:
        if self._direct is not None:
            self._direct.close()
        await self.engine.dispose()


async def open_store(url: str) -> Store:
    """Open the database at ``url`` and bring its schema to the newest migration."""
    engine = make_engine(url)
    try:
        await migrate(engine)
    except BaseException:
        await engine.dispose()
        raise
    return Store(engine)
