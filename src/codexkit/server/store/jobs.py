"""The orchestrator queue's rows: every change of a job's state is one conditional
UPDATE (``WHERE state = ...``), so a cancel racing a finish, or two schedulers racing to
claim, leave exactly one winner."""

from __future__ import annotations

import builtins
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update

from .base import _Repo
from .models import JobRow, SuggestedRequestRow, WorkerSessionRow

__all__ = ["ACTIVE", "TERMINAL", "JobRepo", "SuggestionRepo", "WorkerRepo"]

#: States a job leaves again, and those it never leaves.
ACTIVE = ("queued", "running")
TERMINAL = ("completed", "failed", "canceled")


class JobRepo(_Repo):
    async def add(self, row: JobRow) -> JobRow:
        async with self._write() as db:
            db.add(row)
        return row

    async def get(self, job_id: str) -> JobRow | None:
        async with self._maker() as db:
            return await db.get(JobRow, job_id)

    async def active_with_key(self, dedupe_key: str) -> JobRow | None:
        """The queued or running job with ``dedupe_key``, if any."""
        query = select(JobRow).where(JobRow.dedupe_key == dedupe_key, JobRow.state.in_(ACTIVE))
        async with self._maker() as db:
            return (await db.scalars(query.limit(1))).first()

    async def count_active(self) -> int:
        query = select(func.count()).select_from(JobRow).where(JobRow.state.in_(ACTIVE))
        async with self._maker() as db:
            return int((await db.execute(query)).scalar_one())

    async def counts(self) -> dict[str, int]:
        """How many jobs are in each state (states without one are left out)."""
        query = select(JobRow.state, func.count()).group_by(JobRow.state)
        async with self._maker() as db:
            return {state: int(n) for state, n in (await db.execute(query)).all()}

    async def oldest_queued(self) -> float | None:
        """When the oldest queued job was queued (None: none is)."""
        query = select(func.min(JobRow.created_at)).where(JobRow.state == "queued")
        async with self._maker() as db:
            value = (await db.execute(query)).scalar_one()
        return None if value is None else float(value)

    async def list(self, project_id: str, state: str | None = None) -> Sequence[JobRow]:
        """A project's jobs, oldest first."""
        query = select(JobRow).where(JobRow.project_id == project_id)
        if state is not None:
            query = query.where(JobRow.state == state)
        async with self._maker() as db:
            return (await db.scalars(query.order_by(JobRow.created_at, JobRow.id))).all()

    async def queued(self, limit: int) -> Sequence[JobRow]:
        """The oldest ``limit`` queued jobs."""
        query = (
            select(JobRow)
            .where(JobRow.state == "queued")
            .order_by(JobRow.created_at, JobRow.id)
            .limit(limit)
        )
        async with self._maker() as db:
            return (await db.scalars(query)).all()

    async def running(self) -> Sequence[JobRow]:
        async with self._maker() as db:
            return (await db.scalars(select(JobRow).where(JobRow.state == "running"))).all()

    async def move(
        self, job_id: str, from_states: Sequence[str], *, held_by: str | None = None, **values: Any
    ) -> JobRow | None:
        """Set ``values`` if the job is in one of ``from_states`` (and, with ``held_by``,
        not running on another process: one found dead, whose job runs elsewhere now):
        the row after, or None when it was not (another change won)."""
        statement = (
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.state.in_(list(from_states)))
            .values(**values)
            .returning(JobRow)
        )
        if held_by is not None:
            statement = statement.where(or_(JobRow.state != "running", JobRow.runner_id == held_by))
        async with self._write() as db:
            return (await db.scalars(statement)).first()

    async def claim(self, job_id: str, runner_id: str | None = None) -> JobRow | None:
        """queued -> running on ``runner_id``, counting the attempt. On PostgreSQL the
        row is locked ``FOR UPDATE SKIP LOCKED`` first: a scheduler of another process
        claiming it at that moment is skipped at once instead of waiting to lose."""
        values: dict[str, Any] = {
            "state": "running",
            "attempts": JobRow.attempts + 1,
            "started_at": time.time(),
            "runner_id": runner_id,
        }
        if self._engine.dialect.name != "postgresql":
            return await self.move(job_id, ("queued",), **values)
        free = (
            select(JobRow.id)
            .where(JobRow.id == job_id, JobRow.state == "queued")
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = update(JobRow).where(JobRow.id == free).values(**values).returning(JobRow)
        async with self._write() as db:
            return (await db.scalars(statement)).first()

    async def running_on(self, runner_ids: Sequence[str | None]) -> Sequence[JobRow]:
        """The running jobs of these runners (``None``: started before there was a
        cluster)."""
        known = [r for r in runner_ids if r is not None]
        where: ColumnElement[bool] = JobRow.runner_id.in_(known)
        if None in runner_ids:
            where = where | JobRow.runner_id.is_(None)
        query = select(JobRow).where(JobRow.state == "running", where)
        async with self._maker() as db:
            return (await db.scalars(query)).all()

    async def requeue_from(
        self, job_id: str, runner_id: str | None, **values: Any
    ) -> JobRow | None:
        """Move a job still ``running`` on ``runner_id`` (a process found dead): one
        conditional UPDATE, so of the processes that noticed, one moves it."""
        runner = JobRow.runner_id.is_(None) if runner_id is None else JobRow.runner_id == runner_id
        statement = (
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.state == "running", runner)
            .values(runner_id=None, **values)
            .returning(JobRow)
        )
        async with self._write() as db:
            return (await db.scalars(statement)).first()


class WorkerRepo(_Repo):
    async def get(self, owner_id: str, agent: str) -> WorkerSessionRow | None:
        async with self._maker() as db:
            return await db.get(WorkerSessionRow, (owner_id, agent))

    async def put(self, owner_id: str, agent: str, session_id: str) -> None:
        async with self._write() as db:
            row = await db.get(WorkerSessionRow, (owner_id, agent), with_for_update=True)
            if row is None:
                db.add(
                    WorkerSessionRow(
                        owner_id=owner_id,
                        agent=agent,
                        session_id=session_id,
                        created_at=time.time(),
                    )
                )
            else:
                row.session_id = session_id

    async def all(self) -> builtins.list[WorkerSessionRow]:
        async with self._maker() as db:
            return list((await db.scalars(select(WorkerSessionRow))).all())


class SuggestionRepo(_Repo):
    """The suggested requests' states, by chat and request key; a chat keeps its
    ``PER_SESSION`` most recently updated keys."""

    PER_SESSION = 64

    async def put(self, row: SuggestedRequestRow) -> None:
        """Set the state of ``row``'s key (replacing the one it had)."""
        async with self._write() as db:
            key = (row.session_id, row.request_key)
            found = await db.get(SuggestedRequestRow, key, with_for_update=True)
            if found is None:
                db.add(row)
            else:
                found.status, found.suggestion = row.status, row.suggestion
                found.error, found.updated_at = row.error, row.updated_at
            await db.flush()
            stale = (
                select(SuggestedRequestRow.request_key)
                .where(SuggestedRequestRow.session_id == row.session_id)
                .order_by(SuggestedRequestRow.updated_at.desc())
                .offset(self.PER_SESSION)
            )
            old = list((await db.scalars(stale)).all())
            if old:
                await db.execute(
                    delete(SuggestedRequestRow).where(
                        SuggestedRequestRow.session_id == row.session_id,
                        SuggestedRequestRow.request_key.in_(old),
                    )
                )

    async def get(self, session_id: str, request_key: str) -> SuggestedRequestRow | None:
        async with self._maker() as db:
            return await db.get(SuggestedRequestRow, (session_id, request_key))
