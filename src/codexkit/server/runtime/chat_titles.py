"""Naming a new chat after its first request, as a job.

On for the chats whose settings (defaults, then the session's) have
``{"automation": {"renameChats": true}}``: when such a chat's first turn ends while it
has no title, a ``session_initial_rename`` job is queued (one per chat: dedupe key
``session_initial_rename:<id>``); an agent (``namer``) in the owner's worker session
proposes a title, and the chat is renamed if it still has none by then.
"""

from __future__ import annotations

from typing import Any

from ..store.models import JobRow
from .extensions import Actions, Extension, ExtensionEvent
from .queue import InvalidPayload, TransientFailure
from .services import Services

__all__ = ["JOB_TYPE", "chat_titles_extension"]

Json = dict[str, Any]
JOB_TYPE = "session_initial_rename"
NAMER = "namer"
MAX_TITLE = 80


def _enabled(settings: Json) -> bool:
    automation = settings.get("automation")
    return isinstance(automation, dict) and automation.get("renameChats") is True


def _title(reply: str) -> str:
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    title = lines[0].strip("\"'`*# ") if lines else ""
    return title[:MAX_TITLE].rstrip()


class _ChatTitles:
    def __init__(self, runtime: Services) -> None:
        self._rt = runtime

    async def turn_completed(self, event: ExtensionEvent, actions: Actions) -> None:
        if event.session_id is None:
            return
        # What the frame says of its session (as stored when it was recorded) settles
        # most turns with no read: a chat is named once, a worker's session never.
        known = event.payload.get("session")
        if isinstance(known, dict) and (known.get("title") or known.get("systemOwned")):
            return
        row = await self._rt.store.sessions.get(event.session_id)
        if row is None or row.system_owned or row.deleted_at is not None or row.title:
            return
        controls = await self._rt.controls.effective(row)
        if not _enabled(controls.get("settings") or {}):
            return
        await actions.enqueue(
            JOB_TYPE,
            {"sessionId": row.id},
            session_id=row.id,
            dedupe_key=f"{JOB_TYPE}:{row.id}",
        )

    async def rename(self, job: JobRow) -> Json:
        session_id = job.payload.get("sessionId")
        row = await self._rt.store.sessions.get(str(session_id))
        if row is None or row.deleted_at is not None:
            raise InvalidPayload(f"session {session_id} no longer exists")
        if row.title:
            return {"sessionId": row.id, "renamed": False, "title": row.title}
        entries = await self._rt.store.transcript.list(row.id)
        requests = [e.content for e in entries if e.role == "user" and e.content]
        if not requests:
            raise InvalidPayload(f"session {row.id} has no request to name it after")
        prompt = (
            "Give a short title, at most six words, for a chat that starts with the request "
            f"below. Answer with the title only.\n\nRequest:\n{requests[0][:2000]}\n"
        )
        ran = await self._rt.orchestrator.workers.run(job.project_id, NAMER, prompt, cwd=row.cwd)
        title = _title(ran["reply"])
        if not title:
            raise TransientFailure("the agent proposed no title")
        current = await self._rt.store.sessions.get(row.id)
        if current is None or current.title or current.deleted_at is not None:
            return {"sessionId": row.id, "renamed": False, "title": current and current.title}
        await self._rt.sessions.rename(row.id, title)
        return {"sessionId": row.id, "renamed": True, "title": title}


def chat_titles_extension(runtime: Services) -> Extension:
    """The built-in chat namer, as an extension of ``runtime`` (its job type is
    registered on the runtime's queue)."""
    titles = _ChatTitles(runtime)
    runtime.queue.register(JOB_TYPE, titles.rename)
    return Extension("chat-titles", events={"turn.completed": titles.turn_completed})
