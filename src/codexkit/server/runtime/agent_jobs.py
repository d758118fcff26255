"""The job types built into the queue, each run as a turn in a worker session.

- ``agent_instruction``: ``{agent, instructionText}``; the result is the agent's reply.
- ``suggest_request``: ``{sessionId, requestKey, draft?, model?, effort?}``; the agent
  (on ``model`` at ``effort`` when given) of the chat's
  owner (agent ``suggest``) reads the chat's transcript and proposes the user's next
  request. The result (and a ``suggested_request_updated`` frame on the chat) carries
  the suggestion.
"""

from __future__ import annotations

import time
from typing import Any

from ..store import Store
from ..store.models import JobRow, SuggestedRequestRow
from .hub import EventHub
from .queue import InvalidPayload, TransientFailure
from .turns import EFFORTS
from .views import iso
from .workers import WorkerSessions

__all__ = ["SUGGEST_AGENT", "AgentJobs"]

Json = dict[str, Any]
SUGGEST_AGENT = "suggest"
#: Characters of a chat's transcript a suggestion is based on (its end).
_CONTEXT_CHARS = 6000


def _text_field(payload: Json, name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidPayload(f"{name} must be a non-empty string")
    return value


class Suggestions:
    """The state of each chat's suggested requests (``{status, suggestion?, error?,
    updatedAt}`` by request key), as the suggest jobs and the upsert route leave it,
    kept in the database (table ``suggested_requests``); each change is a
    ``suggested_request_updated`` frame on the chat's thread."""

    def __init__(self, store: Store, hub: EventHub) -> None:
        self._store = store
        self._hub = hub

    async def put(
        self,
        session_id: str,
        request_key: str,
        status: str,
        *,
        suggestion: str | None = None,
        error: str | None = None,
    ) -> Json:
        row = SuggestedRequestRow(
            session_id=session_id,
            request_key=request_key,
            status=status,
            suggestion=suggestion,
            error=error,
            updated_at=time.time(),
        )
        await self._store.suggestions.put(row)
        entry = _entry(row)
        payload = {"sessionId": session_id, "requestKey": request_key, "entry": entry}
        self._hub.publish("suggested_request_updated", session_id, payload)
        return entry

    async def get(self, session_id: str, request_key: str) -> Json | None:
        row = await self._store.suggestions.get(session_id, request_key)
        return None if row is None else _entry(row)


def _entry(row: SuggestedRequestRow) -> Json:
    entry: Json = {"status": row.status, "updatedAt": iso(row.updated_at)}
    if row.suggestion is not None:
        entry["suggestion"] = row.suggestion
    if row.error is not None:
        entry["error"] = row.error
    return entry


class AgentJobs:
    def __init__(self, store: Store, workers: WorkerSessions, suggestions: Suggestions) -> None:
        self._store = store
        self._workers = workers
        self.suggestions = suggestions

    async def agent_instruction(self, job: JobRow) -> Json:
        payload = job.payload
        agent = _text_field(payload, "agent")
        text = _text_field(payload, "instructionText")
        ran = await self._workers.run(job.project_id, agent, text, cwd=await self._cwd(job))
        return {"workerSessionId": ran["sessionId"], "turnId": ran["turnId"], "reply": ran["reply"]}

    async def _cwd(self, job: JobRow) -> str | None:
        """Where a new worker session works: in its source chat's directory, else in
        that of the newest chat of its project (else the server's own)."""
        if job.source_session_id is not None:
            row = await self._store.sessions.get(job.source_session_id)
            if row is not None:
                return row.cwd
        chats = await self._store.sessions.list(archived=None, project_id=job.project_id)
        return chats[0].cwd if chats else None

    async def suggest_request(self, job: JobRow) -> Json:
        payload = job.payload
        session_id = _text_field(payload, "sessionId")
        request_key = _text_field(payload, "requestKey")
        row = await self._store.sessions.get(session_id)
        if row is None or row.deleted_at is not None:
            raise InvalidPayload(f"session {session_id} no longer exists")
        entries = await self._store.transcript.list(session_id)
        lines = [f"{e.role}: {e.content}" for e in entries if e.role in ("user", "assistant")]
        conversation = "\n".join(lines)[-_CONTEXT_CHARS:]
        draft = payload.get("draft")
        prompt = (
            "Suggest the next request the user could send in the conversation below. "
            "Answer with the request text only.\n\n"
            f"Conversation:\n{conversation or '(empty)'}\n"
        )
        if isinstance(draft, str) and draft:
            prompt += f"\nThe user's draft so far: {draft}\n"
        model, effort = payload.get("model"), payload.get("effort")
        if model is not None and not (isinstance(model, str) and model):
            raise InvalidPayload("model must be a non-empty string")
        if effort is not None and effort not in EFFORTS:
            raise InvalidPayload(f"effort must be one of {', '.join(EFFORTS)}")
        ran = await self._workers.run(
            job.project_id, SUGGEST_AGENT, prompt, cwd=row.cwd, model=model, effort=effort
        )
        suggestion = ran["reply"].strip()
        if not suggestion:
            raise TransientFailure("the agent answered with no suggestion")
        await self.suggestions.put(session_id, request_key, "complete", suggestion=suggestion)
        return {
            "sessionId": session_id,
            "requestKey": request_key,
            "suggestion": suggestion,
            "workerSessionId": ran["sessionId"],
        }
