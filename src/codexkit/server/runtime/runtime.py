"""The runtime of ``codexkit serve`` as one object: start it, use its parts, close it.

``Runtime.start`` opens the store (migrating it), expires what an earlier server left
pending (its app-servers are gone), marks the turns it left running as failed, and
starts the pool of app-servers. When one of them exits, what it was asked is expired
with the reason, its running turns fail with that reason (in the transcript too), an
``app_server_exited`` frame says so, and once it is back its sessions are resumed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..store import Store, open_store
from ..store.models import SessionRow
from .base import Parts
from .bus import FrameBus, is_postgres
from .chat_titles import chat_titles_extension
from .cluster import ClusterMember, ClusterSettings
from .controls import Controls
from .extensions import ExtensionHost
from .hub import EventHub
from .orchestrator import Orchestrator
from .ordered import OrderedJobs
from .pool import AppServerPool, PoolSettings
from .projects import Projects
from .queue import JobQueue, QueueSettings
from .recorder import Recorder, SessionDirectory
from .requests import RequestBroker
from .sessions import Sessions
from .supervisor import supervisor_extension
from .supervisor_agent import SupervisorAgent
from .turns import Turns
from .views import transcript_view
from .workers import WorkerSessions

__all__ = ["Runtime", "RuntimeSettings"]

_log = logging.getLogger("codexkit.server")
Json = dict[str, Any]

RESTART_REASON = "the server restarted: the app-server that asked is gone"
STOP_REASON = "the server stopped: the app-server that asked is gone"


@dataclass
class RuntimeSettings:
    database_url: str
    codex_home: str | None = None
    app_servers: int = 1
    default_cwd: str | None = None
    codex_bin: str | None = None
    #: More codex settings (``-c key=value``) for every app-server.
    config: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    #: Seconds to wait for the app-server's answer to one request of ours.
    request_timeout: float = 120.0
    #: Session directories must lie under one of these (``--allowed-root``); empty: any.
    allowed_roots: list[str] = field(default_factory=list)
    #: Lock (True) or unlock (False) the default controls and settings at start; None
    #: leaves them as the database has them.
    lock_defaults: bool | None = None
    #: The orchestrator's job queue: its limits, attempts and time limit per job.
    queue: QueueSettings = field(default_factory=QueueSettings)
    #: Agent extensions to load (``module:name``), besides the entry points.
    extensions: list[str] = field(default_factory=list)
    #: Run as one process of a cluster on a shared PostgreSQL (``runtime/cluster.py``);
    #: None: the only process on its database.
    cluster: ClusterSettings | None = None


class Runtime:
    def __init__(self, settings: RuntimeSettings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.hub = EventHub()
        # On PostgreSQL other processes may share the database: frames go through it.
        self.bus = (
            FrameBus(self.hub, settings.database_url)
            if is_postgres(settings.database_url)
            else None
        )
        self.jobs = OrderedJobs()
        directory = SessionDirectory(store)
        self.recorder = Recorder(store, self.hub, self.jobs, directory)
        self.broker = RequestBroker(store, self.hub, self.jobs, directory)
        config = {
            # Tool input in ordinary sessions: codex refuses request_user_input outside
            # plan mode without it.
            "features": {"default_mode_request_user_input": True},
            **settings.config,
        }
        self.cluster = (
            None
            if settings.cluster is None
            else ClusterMember(store, settings.cluster, self._take_over)
        )
        runs_sessions = self.cluster is None or self.cluster.settings.runs_sessions
        self.pool = AppServerPool(
            PoolSettings(
                codex_home=settings.codex_home,
                size=settings.app_servers if runs_sessions else 0,
                cwd=settings.default_cwd,
                codex_bin=settings.codex_bin,
                config=config,
                env=settings.env,
                request_timeout=settings.request_timeout,
            ),
            on_notification=self.recorder.on_notification,
            handler=self.broker.handler,
            on_exit=self._app_server_exited,
            on_restart=self._app_server_restarted,
        )
        self.controls = Controls(store, self._live_session)
        self.parts = Parts(
            store, self.hub, self.pool, self.jobs, self.recorder, self.broker, self.controls
        )
        if self.cluster is not None:
            self.parts.claim = self.cluster.claim
            self.parts.elsewhere = self.cluster.elsewhere
        self.sessions = Sessions(
            self.parts, default_cwd=settings.default_cwd, allowed_roots=settings.allowed_roots
        )
        self.turns = Turns(self.parts, self.sessions)
        self.projects = Projects(self.parts, self.sessions)
        self.queue = JobQueue(store, self.hub, settings.queue)
        self.queue.runner_id = None if self.cluster is None else self.cluster.id
        workers = WorkerSessions(store, self.hub, self.sessions, self.turns, self.broker)
        self.orchestrator = Orchestrator(self.parts, self.queue, workers)
        self.extensions = ExtensionHost(
            self,
            settings.extensions,
            builtins=[
                supervisor_extension(self, SupervisorAgent(self).review),
                chat_titles_extension(self),
            ],
        )

    @classmethod
    async def start(cls, settings: RuntimeSettings) -> Runtime:
        store = await open_store(settings.database_url)
        runtime = cls(settings, store)
        try:
            if runtime.bus is not None:
                await runtime.bus.start()
            await runtime._start()
        except BaseException:
            await runtime.close()
            raise
        return runtime

    async def _start(self) -> None:
        cluster = self.cluster
        if cluster is None:
            await self._recover_from_last_run()
        else:
            # Alone on its database a server settles everything left unfinished; in a
            # cluster others run their sessions now: what a dead process left is settled
            # when its leases lapse (the first heartbeat's sweep, for a predecessor on
            # this machine).
            home = self.settings.codex_home
            await cluster.join(None if home is None else Path(home))
        if self.settings.lock_defaults is not None:
            await self.store.defaults.update(locked=self.settings.lock_defaults)
        await self.pool.start()
        await self.extensions.start()  # their job types, before jobs are run
        if cluster is None:
            await self.queue.start()
        elif cluster.settings.runs_sessions:
            await self.queue.start(settle=False)
            cluster.start(self.queue.rescue)
        else:
            cluster.start(_no_rescue)

    async def close(self) -> None:
        """Stop the app-servers. What they were asked and what they ran ends with them:
        pending requests expire and running turns fail, each with the reason. Running
        jobs go back to the queue for the next start."""
        await self.extensions.close()
        await self.queue.close()
        await self.pool.close()
        await self.jobs.close()
        try:
            if self.cluster is None:
                await self._settle_unfinished(STOP_REASON, "the server stopped while this turn ran")
            else:
                await self._settle_own(STOP_REASON, "the server stopped while this turn ran")
                await self.cluster.leave()
        finally:
            if self.bus is not None:
                await self.bus.close()
            await self.store.close()

    async def _live_session(self, session_id: str) -> SessionRow:
        return await self.parts.row(session_id, system=False)

    # -- requests ----------------------------------------------------------------------------

    async def pending(self, session_id: str, kind: str, *, history: bool = False) -> Json:
        """A session's pending ``approval``, ``tool_input`` or ``tool_call`` records;
        with ``history``, the resolved and expired ones too (each with its status,
        decision and expiry reason)."""
        row = await self.parts.row(session_id, system=False)
        data = await self.broker.list(row.id, kind, pending_only=not history)
        return {"status": "ok", "sessionId": row.id, "data": data}

    async def decide(
        self,
        kind: str,
        request_id: str,
        body: Json,
        *,
        actor: str | None = None,
        source: str | None = None,
    ) -> Json:
        return await self.broker.decide(kind, request_id, body, actor=actor, source=source)

    # -- recovery ----------------------------------------------------------------------------

    async def _recover_from_last_run(self) -> None:
        """What a server killed without closing left: nothing of it can go on."""
        await self._settle_unfinished(RESTART_REASON, "the server restarted while this turn ran")

    async def _settle_unfinished(self, request_reason: str, turn_reason: str) -> None:
        expired = await self.broker.expire_orphans(request_reason)
        if expired:
            _log.warning("%d pending requests expired: %s", len(expired), request_reason)
        for turn in await self.store.turns.unfinished():
            await self._fail_turn(turn.session_id, turn.id, turn_reason)

    async def _settle_own(self, request_reason: str, turn_reason: str) -> None:
        """In a cluster, on a clean stop: settle the sessions this process ran."""
        assert self.cluster is not None
        mine = [
            lease.session_id
            for lease in await self.store.cluster.leases()
            if lease.process_id == self.cluster.id
        ]
        for session_id in mine:
            await self.broker.expire_session(session_id, request_reason)
            for turn in await self.store.turns.unfinished(session_id):
                await self._fail_turn(session_id, turn.id, turn_reason)

    async def _take_over(self, session_id: str, reason: str, resume: bool) -> None:
        """A session whose process died is now ours: what that process was asking
        expires with ``reason``, its running turn fails with it, and the thread is
        resumed here (frame ``session_taken_over``)."""
        row = await self.store.sessions.get(session_id)
        self.pool.forget(session_id)  # loaded here before? codex's copy may be stale
        if row is None or row.deleted_at is not None:
            await self.store.cluster.release(session_id)
            return
        expired = await self.broker.expire_session(session_id, reason)

        async def settle() -> list[str]:
            failed = []
            for turn in await self.store.turns.unfinished(session_id):
                for entry in await self._fail_turn(session_id, turn.id, reason):
                    view = {"sessionId": session_id, "entry": entry}
                    self.hub.publish("transcript_updated", session_id, view)
                failed.append(turn.id)
            return failed

        failed = await self.jobs.call(session_id, settle)
        if resume and row.materialized:
            await self.parts.client(row)
        assert self.cluster is not None
        payload: Json = {
            "sessionId": session_id,
            "processId": self.cluster.id,
            "reason": reason,
            "failedTurnIds": failed,
            "expiredRequestIds": expired,
        }
        self.hub.publish("session_taken_over", session_id, payload)

    async def _fail_turn(self, session_id: str, turn_id: str, reason: str) -> list[Json]:
        async with self.store.writes() as writes:
            entry = await self.recorder.note(writes, session_id, turn_id, reason)
            await writes.put_turn(
                session_id, turn_id, "failed", completed_at=time.time(), error={"message": reason}
            )
        return [transcript_view(entry)]

    async def _app_server_exited(
        self, index: int, origin: str, error: BaseException, lost: list[str]
    ) -> None:
        reason = f"app-server {index} exited ({error}); it is being restarted"
        expired = await self.broker.abandon(origin, reason)
        for session_id in lost:

            async def recover(session_id: str = session_id) -> None:
                failed = []
                for turn in await self.store.turns.unfinished(session_id):
                    entries = await self._fail_turn(session_id, turn.id, reason)
                    failed.append(turn.id)
                    for entry in entries:
                        view = {"sessionId": session_id, "entry": entry}
                        self.hub.publish("transcript_updated", session_id, view)
                payload: Json = {
                    "sessionId": session_id,
                    "appServer": index,
                    "reason": reason,
                    "failedTurnIds": failed,
                    "expiredRequestIds": [r.id for r in expired if r.session_id == session_id],
                }
                self.hub.publish("app_server_exited", session_id, payload)

            await self.jobs.call(session_id, recover)

    async def _app_server_restarted(self, index: int, lost: list[str]) -> None:
        for session_id in lost:
            row = await self.store.sessions.get(session_id)
            if row is None or row.deleted_at is not None or not row.materialized:
                continue
            try:
                await self.parts.client(row)
            except Exception:
                _log.exception("resuming session %s after a restart failed", session_id)
                continue
            payload = {"sessionId": session_id, "appServer": index}
            self.hub.publish("session_resumed", session_id, payload)


async def _no_rescue(_runner_ids: list[str | None], _why: str) -> int:
    return 0  # an api process runs no jobs: runners rescue them
