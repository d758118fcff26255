"""Several ``codexkit serve`` processes on one PostgreSQL database as one service.

Each process registers a row (``cluster_processes``) and heartbeats it every third of
the lease time; a process whose heartbeat is older than the lease time is dead. Each
session is run by the process holding its lease (``session_leases``, renewed with the
heartbeat, claimed with one conditional upsert). A runner that finds a lapsed lease
takes the session over: the requests its dead holder was asking expire with the
reason, the turn it ran fails with the reason, and the thread is resumed here (codex
reads it from the shared ``CODEX_HOME``). Jobs a dead process was running go back to
the queue once (``JobQueue.rescue``). ``docs/deploy.md`` has the design note.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ..store import Store
from ..store.models import ProcessRow
from .errors import Conflict, RuntimeFailure, ServeError

__all__ = [
    "FORWARDED",
    "ROLES",
    "ClusterMember",
    "ClusterSettings",
    "PeerRefused",
    "host_identity",
    "marker_id",
]

_log = logging.getLogger("codexkit.server")
Json = dict[str, Any]

ROLES = ("all", "api", "runner")
#: The file in ``CODEX_HOME`` naming it; the database keeps the id every process must see.
MARKER = ".codexkit-cluster-id"
#: Rows of processes gone this long are dropped from the table.
FORGET_AFTER = 3600.0
#: The header of a request one process sends another: the receiver answers it itself.
FORWARDED = "x-codexkit-forwarded"
#: Seconds a call to another process may take.
PEER_TIMEOUT = 120.0

#: ``take_over(session_id, reason, resume)``: settle what a dead holder left of a
#: session, and with ``resume`` load its thread here at once.
TakeOver = Callable[[str, str, bool], Awaitable[None]]


@dataclass
class ClusterSettings:
    #: ``all`` (API and app-servers), ``api`` (no app-server: session work goes to a
    #: runner) or ``runner``.
    role: str = "all"
    #: Where the other processes reach this one (``--advertise-url``).
    url: str = ""
    #: Seconds without a heartbeat after which a process counts as dead.
    lease_seconds: float = 10.0
    #: The bearer token every process of the cluster accepts ("" when auth is off).
    token: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {self.role!r}")
        if self.lease_seconds < 1:
            raise ValueError("the lease time must be at least 1 second")

    @property
    def runs_sessions(self) -> bool:
        return self.role != "api"


def host_identity() -> str:
    """This machine and pid namespace: two rows with the same identity can check each
    other's pid (containers on one host have their own namespaces)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = "?"
    return f"{socket.gethostname()}/{namespace}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def marker_id(home: Path) -> str:
    """The id in ``home``'s marker file, written by the first process to look."""
    home.mkdir(parents=True, exist_ok=True)
    marker = home / MARKER
    with contextlib.suppress(FileExistsError):
        # O_EXCL: of processes starting at once on a shared home, one writes the id.
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w") as out:
            out.write(uuid.uuid4().hex)
    for _ in range(50):  # the writer may not have written its id yet
        found = marker.read_text().strip()
        if found:
            return found
        time.sleep(0.02)
    raise RuntimeFailure(f"{marker} stays empty; remove it and start again")


def home_mismatch(home: Path, ours: str, theirs: str) -> RuntimeFailure:
    return RuntimeFailure(
        f"CODEX_HOME {home} is not the one the other processes of this cluster use (its "
        f"{MARKER} says {ours!r}, the database {theirs!r}): every runner must see the same "
        "CODEX_HOME (a shared volume), or a session taken over could not be resumed"
    )


class ClusterMember:
    """This process in the cluster. ``take_over(session_id, reason)`` is the runtime's
    recovery of a session whose holder died."""

    def __init__(self, store: Store, settings: ClusterSettings, take_over: TakeOver) -> None:
        self.store = store
        self.settings = settings
        self.id = uuid.uuid4().hex
        self._take_over = take_over
        self._rescue_jobs: Callable[[list[str | None], str], Awaitable[int]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._host = host_identity()
        self._peers: httpx.AsyncClient | None = None

    @property
    def lease(self) -> float:
        return self.settings.lease_seconds

    async def join(self, codex_home: Path | None) -> None:
        """Check the shared ``CODEX_HOME`` (runners), retire this machine's killed
        predecessors at once, and register."""
        if self.settings.runs_sessions:
            home = codex_home or Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex")
            ours = await asyncio.to_thread(marker_id, home)
            theirs = await self.store.cluster.setting("codex_home_id", ours)
            if ours != theirs:
                raise home_mismatch(home, ours, theirs)
        now = time.time()
        gone = [
            row.id
            for row in await self.store.cluster.processes()
            if row.stopped_at is None and row.host == self._host and not _pid_alive(row.pid)
        ]
        await self.store.cluster.stop(gone)
        await self.store.cluster.forget_stopped(now - FORGET_AFTER)
        await self.store.cluster.register(
            ProcessRow(
                id=self.id,
                role=self.settings.role,
                url=self.settings.url,
                host=self._host,
                pid=os.getpid(),
                started_at=now,
                heartbeat_at=now,
                stopped_at=None,
            )
        )
        _log.info("cluster: process %s (%s) at %s", self.id, self.settings.role, self.settings.url)

    def start(self, rescue_jobs: Callable[[list[str | None], str], Awaitable[int]]) -> None:
        """Heartbeat from now on; runners also take over lapsed sessions and jobs."""
        self._rescue_jobs = rescue_jobs
        self._task = asyncio.create_task(self._loop(), name="codexkit-cluster")

    async def leave(self) -> None:
        """Stop heartbeating and give this process's leases up (a clean stop: what its
        sessions ran is settled already, so they are claimed again only when used, not
        all resumed at once by whoever sweeps first)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.store.cluster.stop([self.id])
        await self.store.cluster.release_all(self.id)
        if self._peers is not None:
            await self._peers.aclose()

    # -- sessions ----------------------------------------------------------------------------

    async def claim(self, session_id: str, *, resume: bool = False) -> bool:
        """Hold ``session_id``'s lease here, or ``Conflict`` when a live process does.
        Taken from a dead process, what it left is settled first; True then."""
        before = await self.store.cluster.lease(session_id)
        holder = await self.store.cluster.claim(session_id, self.id, self.lease)
        if holder != self.id:
            raise Conflict(
                f"session {session_id} is run by another process ({holder})",
                code="session_elsewhere",
                sessionId=session_id,
            )
        if before is None or before.process_id == self.id:
            return False
        old = await self.store.cluster.process(before.process_id)
        reason = _reason(old, before.process_id, self.lease, self.id)
        _log.warning("cluster: session %s taken over: %s", session_id, reason)
        await self._take_over(session_id, reason, resume)
        return True

    async def owner(self, session_id: str) -> ProcessRow | None:
        """The live process other than this one that runs ``session_id``, if any."""
        lease = await self.store.cluster.lease(session_id)
        if lease is None or lease.process_id == self.id or lease.expires_at < time.time():
            return None
        row = await self.store.cluster.process(lease.process_id)
        return row if row is not None and self.alive(row) else None

    async def elsewhere(self, session_id: str, method: str, path: str) -> Json | None:
        """When another live process runs ``session_id``: ``method path`` answered by
        it (``PeerRefused`` with its status and body when it refuses). None: run it
        here. For work on sessions that reaches a process through another route (a
        project's sessions archived or deleted all at once)."""
        owner = await self.owner(session_id)
        if owner is None:
            return None
        headers = {FORWARDED: self.id}
        if self.settings.token:
            headers["Authorization"] = f"Bearer {self.settings.token}"
        if self._peers is None:
            self._peers = httpx.AsyncClient(timeout=PEER_TIMEOUT)
        try:
            answer = await self._peers.request(
                method, owner.url.rstrip("/") + path, headers=headers
            )
        except httpx.HTTPError as error:
            raise PeerRefused(503, unreachable(owner, error)) from None
        body: Json = answer.json()
        if answer.is_success:
            return body
        raise PeerRefused(answer.status_code, body)

    async def adopt(self, session_id: str) -> None:
        """Take ``session_id`` over now if its holder is gone (before the sweep gets to
        it): a request for it finds what the dead process left settled (a decision on
        its request answers 409, the request expired) and the thread resumed here."""
        lease = await self.store.cluster.lease(session_id)
        if lease is None or lease.process_id == self.id:
            return
        with contextlib.suppress(Conflict):  # a live process holds it, or won it now
            await self.claim(session_id, resume=True)

    def alive(self, row: ProcessRow) -> bool:
        return row.stopped_at is None and row.heartbeat_at >= time.time() - self.lease

    async def runner(self) -> ProcessRow | None:
        """The live runner with the fewest sessions (for work an api process forwards)."""
        rows = [r for r in await self.store.cluster.processes() if r.role != "api"]
        live = [r for r in rows if self.alive(r) and r.id != self.id]
        if not live:
            return None
        counts = {r.id: 0 for r in live}
        for lease in await self.store.cluster.leases():
            if lease.process_id in counts:
                counts[lease.process_id] += 1
        return min(live, key=lambda r: (counts[r.id], r.started_at))

    # -- the heartbeat -----------------------------------------------------------------------

    async def _loop(self) -> None:
        # The sweep runs beside the heartbeat, never in its way: taking sessions over
        # (resuming threads) can take longer than a lease, and a heartbeat late by that
        # much would make the others take this process's sessions in turn.
        interval = self.lease / 3
        sweeping: asyncio.Task[None] | None = None
        try:
            while True:
                started = time.monotonic()
                try:
                    alive = await self.store.cluster.heartbeat(self.id, self.lease)
                except Exception:  # a database hiccup: the next beat tries again
                    _log.exception("cluster heartbeat failed")
                    alive = True
                if not alive:
                    # Only a process that found this one's pid gone does that.
                    _log.critical("cluster: this process was declared stopped")
                elif self.settings.runs_sessions and (sweeping is None or sweeping.done()):
                    sweeping = asyncio.create_task(self._sweep_safely(), name="codexkit-sweep")
                await asyncio.sleep(max(0.05, interval - (time.monotonic() - started)))
        finally:
            if sweeping is not None:
                sweeping.cancel()
                await asyncio.gather(sweeping, return_exceptions=True)

    async def _sweep_safely(self) -> None:
        try:
            await self._sweep()
        except Exception:
            _log.exception("cluster sweep failed")

    async def _sweep(self) -> None:
        """Take over the sessions and jobs of processes found dead."""
        processes = {row.id: row for row in await self.store.cluster.processes()}
        for lease in await self.store.cluster.lapsed(self.lease):
            session = await self.store.sessions.get(lease.session_id)
            if session is not None and session.system_owned and session.deleted_at is None:
                # A job's worker session: the process that runs the job again claims
                # it (and settles it) then; taking it here could race that claim.
                continue
            try:
                await self.claim(lease.session_id, resume=True)
            except Conflict:
                continue  # another process won it
            except Exception:
                _log.exception("taking session %s over failed", lease.session_id)
        dead = [row.id for row in processes.values() if not self.alive(row)]
        if dead and self._rescue_jobs is not None:
            await self._rescue_jobs(list(dead), "the process running this job stopped")

    # -- health ------------------------------------------------------------------------------

    async def status(self) -> Json:
        """Every registered process: role, URL, whether alive, heartbeat lag, sessions."""
        now = time.time()
        sessions: dict[str, list[str]] = {}
        for lease in await self.store.cluster.leases():
            if lease.expires_at >= now:
                sessions.setdefault(lease.process_id, []).append(lease.session_id)
        processes = [
            {
                "id": row.id,
                "role": row.role,
                "url": row.url,
                "pid": row.pid,
                "self": row.id == self.id,
                "alive": self.alive(row),
                "heartbeatLagSeconds": round(now - row.heartbeat_at, 3),
                "sessions": sorted(sessions.get(row.id, [])),
            }
            for row in await self.store.cluster.processes()
            if row.stopped_at is None
        ]
        return {"self": self.id, "leaseSeconds": self.lease, "processes": processes}


class PeerRefused(ServeError):
    """Another process's refusal, passed on with its status and body as they are."""

    def __init__(self, http_status: int, body: Json) -> None:
        super().__init__(str(body.get("message") or body))
        self.http_status = http_status
        self._body = body

    def body(self) -> Json:
        return self._body


def unreachable(owner: ProcessRow, error: BaseException) -> Json:
    """The body of a 503: the process running the session did not answer."""
    return {
        "status": "error",
        "code": "owner_unreachable",
        "message": f"the process running this ({owner.id} at {owner.url}) did not answer "
        f"({type(error).__name__}); retry after the lease time",
        "processId": owner.id,
    }


def _reason(old: ProcessRow | None, old_id: str, lease: float, new_id: str) -> str:
    where = f" at {old.url}" if old is not None else ""
    # Marked stopped: it stopped, or a process started on its machine found it gone.
    how = (
        "" if old is not None and old.stopped_at is not None else f" (no heartbeat for {lease:g} s)"
    )
    return f"process {old_id}{where} stopped{how}; the session was taken over by process {new_id}"
