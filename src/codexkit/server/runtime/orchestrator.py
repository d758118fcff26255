"""What the orchestrator routes call: jobs read, listed, cancelled and enqueued, and the
suggested-request jobs of a chat."""

from __future__ import annotations

import time
from typing import Any

from .agent_jobs import AgentJobs, Suggestions
from .base import Parts
from .errors import Invalid
from .queue import JobQueue, job_view
from .workers import WorkerSessions, owner_of

__all__ = ["Orchestrator"]

Json = dict[str, Any]
_STATES = ("queued", "running", "completed", "failed", "canceled")
#: Seconds ``suggest`` waits for its job before answering 202 with the job instead.
SUGGEST_WAIT = 30.0


class Orchestrator:
    def __init__(self, parts: Parts, queue: JobQueue, workers: WorkerSessions) -> None:
        self._parts = parts
        self.queue = queue
        self.workers = workers
        self.suggestions = Suggestions(parts.store, parts.hub)
        jobs = AgentJobs(parts.store, workers, self.suggestions)
        queue.register("agent_instruction", jobs.agent_instruction)
        queue.register("suggest_request", jobs.suggest_request)

    async def health(self) -> Json:
        """The queue's counters for ``/api/health``: jobs by state, the age of the
        oldest queued one (seconds; None when none waits), and the limits."""
        counts = await self._parts.store.jobs.counts()
        oldest = await self._parts.store.jobs.oldest_queued()
        settings = self.queue.settings
        return {
            **{state: counts.get(state, 0) for state in _STATES},
            "oldestQueuedSeconds": None if oldest is None else max(0.0, time.time() - oldest),
            "limits": {
                "concurrency": settings.concurrency,
                "perProject": settings.per_project,
                "maxActive": settings.max_active,
            },
        }

    async def get(self, job_id: str) -> Json:
        return {"status": "ok", "job": job_view(await self.queue.get(job_id))}

    async def list(self, project_id: str, state: str | None = None) -> Json:
        if state is not None and state not in _STATES:
            raise Invalid(
                f"state must be one of {', '.join(_STATES)}", issues=[{"path": ["state"]}]
            )
        rows = await self.queue.list(project_id, state)
        return {"status": "ok", "projectId": project_id, "jobs": [job_view(r) for r in rows]}

    async def cancel(self, job_id: str) -> Json:
        return {"status": "ok", "job": job_view(await self.queue.cancel(job_id))}

    async def enqueue(self, body: Json) -> Json:
        """``{type, payload, projectId? | sourceSessionId?, dedupeKey?, maxAttempts?,
        timeoutSeconds?}``: a job of any registered type."""
        job_type = body.get("type")
        payload = body.get("payload", {})
        if not isinstance(job_type, str) or not isinstance(payload, dict):
            raise Invalid(
                "type must be a string and payload an object",
                code="invalid_payload",
                issues=[{"path": ["type"]}, {"path": ["payload"]}],
            )
        source = body.get("sourceSessionId")
        project = body.get("projectId")
        if source is not None:
            row = await self._parts.row(str(source), system=False)
            owner = owner_of(row.project_id, row.id)
            source = row.id
        elif isinstance(project, str) and await self._parts.store.projects.get(project):
            owner = project
        else:
            raise Invalid(
                "give sourceSessionId, or projectId of an existing project",
                code="invalid_payload",
                issues=[{"path": ["projectId"]}],
            )
        row_, made = await self.queue.enqueue(
            job_type,
            payload,
            project_id=owner,
            source_session_id=source,
            dedupe_key=_optional(body, "dedupeKey", str),
            max_attempts=_optional(body, "maxAttempts", int),
            timeout=_optional(body, "timeoutSeconds", (int, float)),
        )
        return {
            "status": "queued",
            "dedupe": "enqueued" if made else "already_queued",
            "job": job_view(row_),
        }

    async def suggest_job(
        self,
        session_id: str,
        draft: str | None = None,
        *,
        model: str | None = None,
        effort: str | None = None,
    ) -> Json:
        """Queue the suggestion of the chat's next request (one at a time per chat), by
        ``model`` at ``effort`` when given; a ``suggest_request.requested`` frame on the
        chat's thread says it was asked for (extensions see it as that event)."""
        row = await self._parts.row(session_id, system=False)
        owner = owner_of(row.project_id, row.id)
        asked = {"draft": draft, "model": model, "effort": effort}
        payload = {"sessionId": row.id, "requestKey": f"suggest:{row.id}", **asked}
        job, made = await self.queue.enqueue(
            "suggest_request",
            {k: v for k, v in payload.items() if v is not None or k == "draft"},
            project_id=owner,
            source_session_id=row.id,
            dedupe_key=f"suggest_request:{row.id}",
        )
        queued = {
            "status": "queued",
            "jobId": job.id,
            "requestKey": job.payload.get("requestKey", ""),
            "sessionId": row.id,
            "projectId": owner,
            "dedupe": "enqueued" if made else "already_queued",
        }
        requested = {k: v for k, v in queued.items() if k != "status"}
        self._parts.hub.publish("suggest_request.requested", row.id, {**requested, **asked})
        return queued

    async def upsert_suggestion(
        self,
        session_id: str,
        request_key: str,
        status: str,
        suggestion: str | None = None,
        error: str | None = None,
    ) -> tuple[int, Json]:
        """Set the state of a chat's suggested request (``streaming``, ``complete``,
        ``error``, ``canceled``); a ``complete`` one needs its suggestion (400
        ``missing_suggestion`` otherwise)."""
        row = await self._parts.row(session_id, system=False)
        if status == "complete" and not suggestion:
            return 400, {
                "status": "invalid_request",
                "code": "missing_suggestion",
                "message": "a complete suggested request needs its suggestion",
            }
        entry = await self.suggestions.put(
            row.id, request_key, status, suggestion=suggestion, error=error
        )
        return 200, {"status": "ok", "sessionId": row.id, "requestKey": request_key, "entry": entry}

    async def suggest(
        self,
        session_id: str,
        draft: str | None = None,
        *,
        model: str | None = None,
        effort: str | None = None,
    ) -> tuple[int, Json]:
        """Queue the suggestion and wait for it: 200 with it, or 202 with the job."""
        queued = await self.suggest_job(session_id, draft, model=model, effort=effort)
        job = await self.queue.wait(queued["jobId"], SUGGEST_WAIT)
        if job.state == "completed" and job.result is not None:
            return 200, {
                "status": "ok",
                "sessionId": queued["sessionId"],
                "requestKey": queued["requestKey"],
                "suggestion": job.result["suggestion"],
            }
        return 202, queued


def _optional(body: Json, name: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(name)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise Invalid(
            f"{name} has the wrong type", code="invalid_payload", issues=[{"path": [name]}]
        )
    return value
