"""What every session operation needs: the session's row (404 / 410 / 403 checked), its
app-server client with the thread loaded, and the runtime's parts."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..._client.client import AsyncCodex
from ...errors import CodexError
from ..store import Store
from ..store.models import SessionRow
from .controls import Controls
from .errors import Conflict, NotFound, RuntimeFailure, SessionDeleted, SystemSession
from .hub import EventHub
from .ordered import OrderedJobs
from .pool import AppServerPool
from .recorder import Recorder
from .requests import RequestBroker
from .views import iso

__all__ = ["Parts", "rpc"]

_log = logging.getLogger("codexkit.server")
Json = dict[str, Any]


async def _alone(_session_id: str) -> None:
    """Alone on its database, a server runs every session."""


async def _here(_session_id: str, _method: str, _path: str) -> Json | None:
    return None


@dataclass
class Parts:
    store: Store
    hub: EventHub
    pool: AppServerPool
    jobs: OrderedJobs
    recorder: Recorder
    broker: RequestBroker
    controls: Controls
    #: Take the session's lease before running it on this process (a cluster's
    #: ``ClusterMember.claim``: ``Conflict`` when a live process runs it).
    claim: Callable[[str], Awaitable[object]] = _alone
    #: ``elsewhere(session_id, method, path)``: the answer of the process that runs the
    #: session when it is another one (a cluster's ``ClusterMember.elsewhere``).
    elsewhere: Callable[[str, str, str], Awaitable[Json | None]] = _here

    async def row(self, session_id: str, *, system: bool = True) -> SessionRow:
        """The live session ``session_id``: ``NotFound``, ``SessionDeleted`` (410) and,
        unless ``system``, ``SystemSession`` (403) otherwise."""
        row = await self.store.sessions.get(session_id)
        if row is None:
            raise NotFound(f"session {session_id} not found", sessionId=session_id)
        if row.deleted_at is not None:
            raise SessionDeleted(session_id, iso(row.deleted_at), row.title)
        if row.system_owned and not system:
            raise SystemSession(
                f"session {session_id} is owned by the system", sessionId=session_id
            )
        return row

    async def client(self, row: SessionRow) -> AsyncCodex:
        """The client of ``row``'s app-server with the thread loaded there (resumed after
        a restart of that app-server or of the whole server)."""
        index = self.pool.assign(row.id)
        client = await self.pool.client(index)
        origin = self.pool.origin(index)
        if self.pool.loaded.get(row.id) == origin:
            return client
        await self.claim(row.id)
        if not row.materialized:
            raise Conflict(
                f"session {row.id} had no turn when its app-server stopped; codex stored "
                "nothing of it to resume",
                code="not_materialized",
                sessionId=row.id,
            )
        params: Json = {"threadId": row.id, "cwd": row.cwd}
        await rpc(client, "thread/resume", params)
        self.pool.loaded[row.id] = origin
        return client

    async def running_turn(self, session_id: str) -> str | None:
        """The id of the session's turn in progress, if any (after the events already
        read for it are recorded)."""
        await self.jobs.settled(session_id)
        running = await self.store.turns.unfinished(session_id)
        return running[-1].id if running else None


async def rpc(client: AsyncCodex, method: str, params: Json) -> Any:
    """One app-server request; its refusal passes through as ``RuntimeFailure`` with the
    app-server's own message and code, and the status of its kind of failure."""
    try:
        return await client.request(method, params)
    except CodexError as exc:
        raise RuntimeFailure.of(exc, method) from None
