"""The cluster's rows: processes and their heartbeats, session leases, shared settings.

A lease is claimed with one conditional upsert (``INSERT ... ON CONFLICT DO UPDATE ...
WHERE the lease lapsed or is ours``): of two processes claiming at once, exactly one
gets the row back. Heartbeats renew a process's row and all its leases in one
transaction."""

from __future__ import annotations

import builtins
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .base import _Repo
from .models import ClusterSetting, LeaseRow, ProcessRow

__all__ = ["ClusterRepo"]


def _gone(lease_seconds: float, now: float) -> Any:
    """The ids of processes that stopped, or whose heartbeat is older than the lease
    time: a lease of theirs is free even before its own ``expires_at`` (a lease claimed
    between two heartbeats would otherwise outlive the process's death)."""
    return select(ProcessRow.id).where(
        or_(ProcessRow.stopped_at.is_not(None), ProcessRow.heartbeat_at < now - lease_seconds)
    )


class ClusterRepo(_Repo):
    def _insert(self, table: type[LeaseRow] | type[ClusterSetting]) -> Any:
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    # -- processes ---------------------------------------------------------------------------

    async def register(self, row: ProcessRow) -> None:
        async with self._write() as db:
            db.add(row)

    async def heartbeat(self, process_id: str, lease_seconds: float) -> bool:
        """Renew the process and its leases; False when it was declared stopped (its
        leases are then left alone: others may hold them already)."""
        now = time.time()
        async with self._write() as db:
            alive = await db.execute(
                update(ProcessRow)
                .where(ProcessRow.id == process_id, ProcessRow.stopped_at.is_(None))
                .values(heartbeat_at=now)
                .returning(ProcessRow.id)
            )
            if alive.scalar_one_or_none() is None:
                return False
            await db.execute(
                update(LeaseRow)
                .where(LeaseRow.process_id == process_id)
                .values(expires_at=now + lease_seconds)
            )
        return True

    async def stop(self, process_ids: Sequence[str]) -> None:
        """Declare processes stopped and let their leases lapse now (a clean stop, or a
        killed predecessor on this machine)."""
        if not process_ids:
            return
        now = time.time()
        async with self._write() as db:
            await db.execute(
                update(ProcessRow)
                .where(ProcessRow.id.in_(list(process_ids)), ProcessRow.stopped_at.is_(None))
                .values(stopped_at=now)
            )
            await db.execute(
                update(LeaseRow)
                .where(LeaseRow.process_id.in_(list(process_ids)))
                .values(expires_at=0.0)
            )

    async def processes(self) -> builtins.list[ProcessRow]:
        async with self._maker() as db:
            query = select(ProcessRow).order_by(ProcessRow.started_at)
            return list((await db.scalars(query)).all())

    async def process(self, process_id: str) -> ProcessRow | None:
        async with self._maker() as db:
            return await db.get(ProcessRow, process_id)

    async def forget_stopped(self, before: float) -> None:
        """Drop the rows of processes gone since before ``before`` (and out of leases)."""
        async with self._write() as db:
            held = select(LeaseRow.process_id)
            await db.execute(
                delete(ProcessRow).where(
                    or_(ProcessRow.stopped_at < before, ProcessRow.heartbeat_at < before),
                    ProcessRow.id.not_in(held),
                )
            )

    # -- leases ------------------------------------------------------------------------------

    async def claim(self, session_id: str, process_id: str, lease_seconds: float) -> str:
        """Take the lease of ``session_id`` if it is free, lapsed or ours; the process
        that holds it afterwards."""
        now = time.time()
        insert = self._insert(LeaseRow).values(
            session_id=session_id, process_id=process_id, expires_at=now + lease_seconds,
            claimed_at=now,
        )  # fmt: skip
        current = LeaseRow.__table__.c
        statement = insert.on_conflict_do_update(
            index_elements=[current.session_id],
            set_={
                "process_id": process_id,
                "expires_at": now + lease_seconds,
                "claimed_at": insert.excluded.claimed_at,
            },
            where=or_(
                current.expires_at < now,
                current.process_id == process_id,
                current.process_id.in_(_gone(lease_seconds, now)),
            ),
        ).returning(current.process_id)
        async with self._write() as db:
            won = (await db.execute(statement)).scalar_one_or_none()
            if won is not None:
                return str(won)
            holder = await db.get(LeaseRow, session_id)
        return holder.process_id if holder is not None else process_id

    async def lease(self, session_id: str) -> LeaseRow | None:
        async with self._maker() as db:
            return await db.get(LeaseRow, session_id)

    async def leases(self) -> builtins.list[LeaseRow]:
        async with self._maker() as db:
            return list((await db.scalars(select(LeaseRow))).all())

    async def lapsed(self, lease_seconds: float) -> builtins.list[LeaseRow]:
        """The leases whose holder stopped renewing them, or is gone."""
        now = time.time()
        query = select(LeaseRow).where(
            or_(LeaseRow.expires_at < now, LeaseRow.process_id.in_(_gone(lease_seconds, now)))
        )
        async with self._maker() as db:
            return list((await db.scalars(query)).all())

    async def release(self, session_id: str, process_id: str | None = None) -> None:
        """Drop a lease (the session was deleted), or ours only with ``process_id``."""
        statement = delete(LeaseRow).where(LeaseRow.session_id == session_id)
        if process_id is not None:
            statement = statement.where(LeaseRow.process_id == process_id)
        async with self._write() as db:
            await db.execute(statement)

    async def release_all(self, process_id: str) -> None:
        """Drop every lease of ``process_id`` (it stopped cleanly)."""
        async with self._write() as db:
            await db.execute(delete(LeaseRow).where(LeaseRow.process_id == process_id))

    # -- shared settings ---------------------------------------------------------------------

    async def setting(self, key: str, default: str) -> str:
        """The cluster's ``key``; the first process to ask sets it to ``default``."""
        statement = self._insert(ClusterSetting).values(key=key, value=default)
        async with self._write() as db:
            await db.execute(statement.on_conflict_do_nothing(index_elements=["key"]))
            row = await db.get(ClusterSetting, key)
        assert row is not None
        return row.value
