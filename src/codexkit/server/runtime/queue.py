"""The orchestrator's durable job queue.

Jobs are rows (``store/jobs.py``); this module schedules them. A job is ``queued``, then
``running`` (one attempt counted), then ``completed``, ``failed`` or ``canceled``. What a
job does is its type's handler: ``handler(job) -> result``. A handler that raises
``InvalidPayload`` fails its job at once with the reason; ``TransientFailure``, a
timeout, a lost or busy app-server, or a busy session (409) put it back in the queue
until ``max_attempts`` runs were started, then it fails with the last reason; any other
error fails it at once.

Limits: ``concurrency`` jobs run at once in all, ``per_project`` per owner, and at most
``max_active`` are queued or running (``QueueFull``, 429, past it). A server killed while
jobs ran finds them ``running`` on its next start: each is queued again if it has
attempts left, else failed with the reason, so every job reaches a terminal state.

Each change of state is published on the hub as ``orchestrator_job_<state>`` (and
``orchestrator_job_progress`` for a retry), on the thread of the job's source session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ...errors import CodexTimeoutError, TransportClosedError
from ..store import Store
from ..store.jobs import ACTIVE
from ..store.models import JobRow
from .errors import Conflict, Invalid, NotFound, QueueFull, ServeError
from .hub import EventHub, Frame
from .views import iso

__all__ = [
    "InvalidPayload",
    "JobHandler",
    "JobQueue",
    "QueueSettings",
    "TransientFailure",
    "job_view",
]

_log = logging.getLogger("codexkit.server")
Json = dict[str, Any]
#: What a job type does: its result (a JSON object) from the job's row.
JobHandler = Callable[[JobRow], Awaitable[Json]]

RESTART_REASON = "the server stopped while this job ran"
#: Queued rows read per scheduling pass (the rest wait for the next pass).
_SCAN = 200
#: Refusals of the runtime a job is retried after (others fail it at once).
_TRANSIENT_STATUSES = (409, 429, 502, 503, 504)
#: Seconds between scheduling passes when nothing wakes the scheduler (retries due).
_IDLE = 5.0


class InvalidPayload(Exception):
    """The job cannot run as given: it fails at once, with this reason."""


class TransientFailure(Exception):
    """This attempt failed for a reason that may pass: the job is retried if it has
    attempts left."""


@dataclass
class QueueSettings:
    #: Jobs running at once, in all and per owner (project, or chat without one).
    concurrency: int = 4
    per_project: int = 2
    #: Queued plus running jobs accepted; more answer 429 ``queue_full``.
    max_active: int = 200
    #: Runs a job may start (the first and its retries), and seconds each may take.
    max_attempts: int = 3
    timeout: float = 300.0
    #: Seconds before a retry, times the attempts made so far.
    retry_delay: float = 0.5

    def __post_init__(self) -> None:
        for name in ("concurrency", "per_project", "max_active", "max_attempts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.timeout <= 0 or self.retry_delay < 0:
            raise ValueError("timeout must be positive and retry_delay not negative")


def job_view(row: JobRow) -> Json:
    """A job as the orchestrator routes answer it."""
    return {
        "id": row.id,
        "type": row.type,
        "projectId": row.project_id,
        "sourceSessionId": row.source_session_id,
        "state": row.state,
        "dedupeKey": row.dedupe_key,
        "payload": row.payload,
        "result": row.result,
        "error": row.error,
        "attempts": row.attempts,
        "maxAttempts": row.max_attempts,
        "timeoutSeconds": row.timeout,
        "createdAt": iso(row.created_at),
        "startedAt": None if row.started_at is None else iso(row.started_at),
        "completedAt": None if row.completed_at is None else iso(row.completed_at),
    }


class JobQueue:
    def __init__(self, store: Store, hub: EventHub, settings: QueueSettings) -> None:
        self._store = store
        self._hub = hub
        self.settings = settings
        self._handlers: dict[str, JobHandler] = {}
        self._running: dict[str, tuple[str, asyncio.Task[None]]] = {}  # id: (owner, task)
        self._canceled: set[str] = set()
        self._closing = False
        self._wake = asyncio.Event()
        self._enqueue_lock = asyncio.Lock()
        self._loop_task: asyncio.Task[None] | None = None
        #: This process's id in a cluster (``runtime/cluster.py``); None alone.
        self.runner_id: str | None = None

    def register(self, job_type: str, handler: JobHandler) -> None:
        """Run jobs of ``job_type`` with ``handler`` (replacing an earlier one)."""
        self._handlers[job_type] = handler

    @property
    def types(self) -> list[str]:
        return sorted(self._handlers)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, *, settle: bool = True) -> None:
        """Settle what a killed server left running, then start scheduling. In a cluster
        (``settle`` False) the jobs of dead processes are settled by ``rescue`` instead:
        others may be running theirs now."""
        if settle:
            for row in await self._store.jobs.running():
                await self._settle(row, None, RESTART_REASON)
        self._loop_task = asyncio.create_task(self._loop(), name="codexkit-job-queue")

    async def rescue(self, runner_ids: list[str | None], why: str) -> int:
        """Settle the jobs left running by processes found dead: each is queued again
        (or failed when out of attempts) by one conditional UPDATE, so whichever
        process wins, it runs again exactly once. The number settled."""
        settled = 0
        for row in await self._store.jobs.running_on(runner_ids):
            if await self._settle(row, row.runner_id, why):
                settled += 1
        if settled:
            self._wake.set()
        return settled

    async def _settle(self, row: JobRow, runner_id: str | None, why: str) -> bool:
        jobs = self._store.jobs
        if row.attempts < row.max_attempts:
            reason = f"{why} (attempt {row.attempts}); it is retried"
            values: Json = {"state": "queued", "error": reason, "run_after": time.time()}
        else:
            reason = f"{why} (attempt {row.attempts} of {row.max_attempts})"
            values = {"state": "failed", "error": reason, "completed_at": time.time()}
        if runner_id is None and self.runner_id is None:
            moved = await jobs.move(row.id, ("running",), **values)
        else:
            moved = await jobs.requeue_from(row.id, runner_id, **values)
        self._announce(moved, "progress" if values["state"] == "queued" else "failed")
        return moved is not None

    async def close(self) -> None:
        """Stop scheduling; jobs running now go back to the queue without using up an
        attempt (the next start runs them)."""
        self._closing = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        tasks = [task for _, task in self._running.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- enqueue, read, cancel -------------------------------------------------------------

    async def enqueue(
        self,
        job_type: str,
        payload: Json,
        *,
        project_id: str,
        source_session_id: str | None = None,
        dedupe_key: str | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
    ) -> tuple[JobRow, bool]:
        """Queue a job; ``(job, True)``, or ``(the queued or running job with the same
        dedupe key, False)``. Raises ``Invalid`` for an unknown type or a bad limit and
        ``QueueFull`` past ``max_active``."""
        if job_type not in self._handlers:
            known = ", ".join(self.types) or "none"
            raise Invalid(
                f"no job type {job_type!r} (known: {known})",
                code="invalid_payload",
                sessionId=source_session_id or "",
            )
        attempts = self.settings.max_attempts if max_attempts is None else max_attempts
        limit = self.settings.timeout if timeout is None else timeout
        if attempts < 1 or limit <= 0:
            raise Invalid(
                "maxAttempts must be at least 1 and timeoutSeconds positive",
                code="invalid_payload",
                sessionId=source_session_id or "",
            )
        # One enqueue at a time: the dedupe check and the insert must not interleave
        # (one server per database, so a process lock is enough).
        async with self._enqueue_lock:
            if dedupe_key is not None:
                found = await self._store.jobs.active_with_key(dedupe_key)
                if found is not None:
                    return found, False
            if await self._store.jobs.count_active() >= self.settings.max_active:
                raise QueueFull(
                    f"the job queue is full ({self.settings.max_active} jobs queued or "
                    "running); try again later",
                    sessionId=source_session_id or "",
                )
            now = time.time()
            row = JobRow(
                id=f"job_{uuid.uuid4().hex}",
                type=job_type,
                project_id=project_id,
                source_session_id=source_session_id,
                state="queued",
                dedupe_key=dedupe_key,
                payload=payload,
                result=None,
                error=None,
                attempts=0,
                max_attempts=attempts,
                timeout=limit,
                run_after=now,
                created_at=now,
                started_at=None,
                completed_at=None,
            )
            await self._store.jobs.add(row)
        self._announce(row, "queued")
        self._wake.set()
        return row, True

    async def get(self, job_id: str) -> JobRow:
        row = await self._store.jobs.get(job_id)
        if row is None:
            raise NotFound(f"job {job_id} not found", jobId=job_id)
        return row

    async def list(self, project_id: str, state: str | None = None) -> list[JobRow]:
        return list(await self._store.jobs.list(project_id, state))

    async def cancel(self, job_id: str) -> JobRow:
        """Cancel a queued or running job (a running one's work is stopped). Raises
        ``NotFound``, or ``Conflict`` (409 ``job_conflict``) when it already ended."""
        row = await self.get(job_id)
        if row.state not in ACTIVE:
            raise Conflict(
                f"job {job_id} already ended: {row.state}", code="job_conflict", jobId=job_id
            )
        running = self._running.get(job_id)
        if row.state == "running" and running is not None:
            self._canceled.add(job_id)
            running[1].cancel()
            await asyncio.gather(running[1], return_exceptions=True)
            row = await self.get(job_id)
        else:
            await self._finish(job_id, "canceled", error="canceled", from_states=ACTIVE)
            row = await self.get(job_id)
        if row.state != "canceled":
            raise Conflict(
                f"job {job_id} is already {row.state}", code="job_conflict", jobId=job_id
            )
        return row

    async def wait(self, job_id: str, timeout: float) -> JobRow:
        """The job once it ended, or as it is after ``timeout`` seconds."""
        subscription, _ = self._hub.subscribe(None)
        try:
            deadline = time.monotonic() + timeout
            while (row := await self.get(job_id)).state in ACTIVE:
                while True:  # until this job's next change
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return row
                    try:
                        frame = await subscription.get(timeout=left)
                    except TimeoutError:
                        return await self.get(job_id)
                    if frame is None:  # dropped: read the row once more
                        return await self.get(job_id)
                    if frame.type.startswith("orchestrator_job_") and _job_of(frame) == job_id:
                        break
            return row
        finally:
            subscription.close()

    # -- scheduling --------------------------------------------------------------------------

    async def _loop(self) -> None:
        while not self._closing:
            self._wake.clear()
            try:
                delay = await self._dispatch()
            except Exception:  # a database hiccup: try again on the next pass
                _log.exception("scheduling jobs failed")
                delay = _IDLE
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _dispatch(self) -> float:
        """Start what the limits allow; seconds until a delayed retry is due."""
        now = time.time()
        delay = _IDLE
        for row in await self._store.jobs.queued(_SCAN):
            if len(self._running) >= self.settings.concurrency:
                break
            if row.run_after > now:
                delay = min(delay, row.run_after - now)
                continue
            owners = [owner for owner, _ in self._running.values()]
            if owners.count(row.project_id) >= self.settings.per_project:
                continue
            claimed = await self._store.jobs.claim(row.id, self.runner_id)
            if claimed is None:  # canceled meanwhile
                continue
            task = asyncio.create_task(self._run(claimed), name=f"codexkit-job-{row.id}")
            self._running[row.id] = (row.project_id, task)
        return max(delay, 0.01)

    async def _run(self, job: JobRow) -> None:
        self._announce(job, "started")
        try:
            handler = self._handlers.get(job.type)
            if handler is None:
                raise InvalidPayload(f"no handler for job type {job.type!r} on this server")
            result = await asyncio.wait_for(handler(job), job.timeout)
        except asyncio.CancelledError:
            await self._stopped(job)
            raise
        except InvalidPayload as exc:
            await self._finish(job.id, "failed", error=f"invalid payload: {exc}", mine=True)
        except (TransientFailure, TimeoutError, TransportClosedError, CodexTimeoutError) as exc:
            await self._retry_or_fail(job, _reason(exc, job))
        except ServeError as exc:
            # A busy worker session (409), or the app-server's trouble (5xx), may pass.
            if exc.http_status in _TRANSIENT_STATUSES:
                await self._retry_or_fail(job, exc.message)
            else:
                await self._finish(job.id, "failed", error=exc.message, mine=True)
        except Exception as exc:
            _log.exception("job %s (%s) failed", job.id, job.type)
            await self._finish(job.id, "failed", error=f"{type(exc).__name__}: {exc}", mine=True)
        else:
            if not isinstance(result, dict):
                error = f"the handler answered {type(result).__name__}, not a JSON object"
                await self._finish(job.id, "failed", error=error, mine=True)
            else:
                await self._finish(job.id, "completed", result=result, mine=True)
        finally:
            self._running.pop(job.id, None)
            self._wake.set()

    async def _stopped(self, job: JobRow) -> None:
        """A running job's task was cancelled: by ``cancel`` or by closing the queue."""
        if job.id in self._canceled:
            self._canceled.discard(job.id)
            await self._finish(job.id, "canceled", error="canceled while it ran", mine=True)
        elif self._closing:
            await self._store.jobs.move(
                job.id,
                ("running",),
                held_by=self.runner_id,
                state="queued",
                attempts=max(job.attempts - 1, 0),
                error="the server stopped while this job ran; it runs again on the next start",
                run_after=time.time(),
            )

    async def _retry_or_fail(self, job: JobRow, reason: str) -> None:
        _log.warning("job %s (%s) attempt %d failed: %s", job.id, job.type, job.attempts, reason)
        if job.attempts >= job.max_attempts:
            error = f"{reason} (attempt {job.attempts} of {job.max_attempts})"
            await self._finish(job.id, "failed", error=error, mine=True)
            return
        run_after = time.time() + self.settings.retry_delay * job.attempts
        moved = await self._store.jobs.move(
            job.id,
            ("running",),
            held_by=self.runner_id,
            state="queued",
            error=reason,
            run_after=run_after,
        )
        self._announce(moved, "progress")

    async def _finish(
        self,
        job_id: str,
        state: str,
        *,
        result: Json | None = None,
        error: str | None = None,
        from_states: tuple[str, ...] = ("running",),
        mine: bool = False,
    ) -> None:
        """Move the job to ``state``; ``mine``: the run of this process ends, which
        counts only while the job still runs here (in a cluster, a process taken for
        dead may finish a run that was already given to another)."""
        values: Json = {"state": state, "completed_at": time.time(), "error": error}
        if result is not None:
            values["result"] = result
        held_by = self.runner_id if mine else None
        moved = await self._store.jobs.move(job_id, from_states, held_by=held_by, **values)
        self._announce(moved, state)

    def _announce(self, row: JobRow | None, event: str) -> None:
        if row is None:
            return
        payload: Json = {
            "jobId": row.id,
            "projectId": row.project_id,
            "jobType": row.type,
            "state": row.state,
            "attempts": row.attempts,
            "sourceSessionId": row.source_session_id,
        }
        if row.result is not None:
            payload["result"] = row.result
        if row.error is not None:
            payload["error"] = row.error
        self._hub.publish(f"orchestrator_job_{event}", row.source_session_id, payload)


def _reason(exc: BaseException, job: JobRow) -> str:
    if isinstance(exc, TimeoutError):
        return f"the job ran past its time limit of {job.timeout:g} s"
    return str(exc) or type(exc).__name__


def _job_of(frame: Frame) -> str | None:
    payload = frame.payload
    return payload.get("jobId") if isinstance(payload, dict) else None
