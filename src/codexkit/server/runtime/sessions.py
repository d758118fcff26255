"""Sessions: app-server threads plus what the control plane keeps about them.

Each operation checks the session (404 unknown, 410 deleted, 403 system-owned where the
contract says so), asks the app-server, and records the outcome; turn-starting
operations live in ``turns.py``.
"""

from __future__ import annotations

import base64
import builtins
import json
import logging
import os
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from ..store.models import SessionRow
from .base import Parts, rpc
from .checks import entry_fields, session_directory, thread_params, tool_specs
from .controls import BUILTIN, check_controls
from .errors import Conflict, Invalid, NotFound, RuntimeFailure
from .views import iso, session_summary, transcript_view, turn_view

__all__ = ["Sessions"]

_log = logging.getLogger("codexkit.server")
Json = dict[str, Any]
MAX_LIST = 200


class Sessions:
    def __init__(
        self,
        parts: Parts,
        *,
        default_cwd: str | None = None,
        allowed_roots: Sequence[str] = (),
    ) -> None:
        self._parts = parts
        self._default_cwd = default_cwd
        self._allowed_roots = [os.path.realpath(root) for root in allowed_roots]

    # -- create, list, read ----------------------------------------------------------------

    async def create(
        self,
        *,
        cwd: str | None = None,
        model: str | None = None,
        approval_policy: str | None = None,
        network_access: str | None = None,
        filesystem_sandbox: str | None = None,
        dynamic_tools: list[Json] | None = None,
        project_id: str | None = None,
        system_owned: bool = False,
    ) -> Json:
        parts = self._parts
        given = {
            k: v
            for k, v in {
                "model": model,
                "approvalPolicy": approval_policy,
                "networkAccess": network_access,
                "filesystemSandbox": filesystem_sandbox,
            }.items()
            if v is not None
        }
        session_controls = check_controls(given, partial=True) if given else None
        directory = session_directory(cwd or self._default_cwd, self._allowed_roots)
        if project_id is not None and await parts.store.projects.get(project_id) is None:
            raise Invalid(f"no project {project_id}", issues=[{"path": ["projectId"]}])
        defaults = await parts.store.defaults.get()

        effective = {**BUILTIN, **(defaults.controls or {}), **(session_controls or {})}
        specs = tool_specs(dynamic_tools)
        wire: Json = {"cwd": directory, **thread_params(effective)}
        if specs:
            wire["dynamicTools"] = specs
        index = parts.pool.least_loaded()
        client = await parts.pool.client(index)
        result = await rpc(client, "thread/start", wire)
        thread = result.get("thread") if isinstance(result, dict) else None
        if not isinstance(thread, dict) or not isinstance(thread.get("id"), str):
            raise RuntimeFailure("thread/start answered without a thread", method="thread/start")
        now = time.time()
        row = SessionRow(
            id=thread["id"],
            title=str(thread.get("name") or thread.get("preview") or ""),
            cwd=str(thread.get("cwd") or directory),
            project_id=project_id,
            archived=False,
            system_owned=system_owned,
            materialized=False,
            model_provider=str(result.get("modelProvider") or thread.get("modelProvider") or ""),
            source="appServer",
            created_at=now,
            updated_at=now,
            controls={**BUILTIN, **session_controls} if session_controls else None,
            settings={},
            dynamic_tools=specs,
        )
        await parts.store.sessions.add(row)
        await parts.claim(row.id)
        parts.pool.bind(row.id, index)
        return {"session": await self.summary(row), "thread": await self._thread(row)}

    async def summary(self, row: SessionRow) -> Json:
        return session_summary(row, await self._parts.controls.effective(row))

    async def list(
        self,
        *,
        archived: bool = False,
        limit: int | None = None,
        cursor: str | None = None,
        include_system_owned: bool = False,
    ) -> Json:
        """``{data, nextCursor, archived}``, newest first. The cursor names the last
        session of the page before (opaque to clients), so sessions created or deleted
        between two pages neither repeat nor skip any. System-owned sessions (the job
        queue's workers) only with ``include_system_owned``."""
        size = MAX_LIST if limit is None else limit
        if not 1 <= size <= MAX_LIST:
            raise Invalid(f"limit must be 1..{MAX_LIST}", issues=[{"path": ["limit"]}])
        after = _read_cursor(cursor) if cursor else None
        rows = await self._parts.store.sessions.list(
            archived=archived,
            system_owned=None if include_system_owned else False,
            after=after,
            limit=size + 1,  # one more: whether there is a next page
        )
        page = rows[:size]
        more = len(rows) > size
        return {
            "data": [await self.summary(r) for r in page],
            "nextCursor": _cursor(page[-1]) if more else None,
            "archived": archived,
        }

    async def read(self, session_id: str) -> Json:
        parts = self._parts
        row = await parts.row(session_id)
        await parts.jobs.settled(session_id)  # what was read for it is recorded
        entries = await parts.store.transcript.list(session_id)
        return {
            "session": await self.summary(row),
            "thread": await self._thread(row, entries),
            "transcript": [transcript_view(e) for e in entries],
        }

    async def _thread(self, row: SessionRow, entries: Any = ()) -> Json:
        items: dict[str, list[Json]] = {}
        for entry in entries:
            items.setdefault(entry.turn_id, []).append({"type": entry.type, "id": entry.message_id})
        turns = await self._parts.store.turns.list(row.id)
        preview = next((e.content for e in entries if e.role == "user"), "")
        return {
            "id": row.id,
            "preview": preview[:200],
            "name": row.title,
            "modelProvider": row.model_provider,
            "createdAt": row.created_at,
            "updatedAt": row.updated_at,
            "cwd": row.cwd,
            "source": row.source,
            "turns": [turn_view(t, items.get(t.id, [])) for t in turns],
        }

    # -- metadata ----------------------------------------------------------------------------

    async def rename(self, session_id: str, title: Any) -> Json:
        if not isinstance(title, str) or not title.strip():
            raise Invalid("title must be a non-empty string", issues=[{"path": ["title"]}])
        parts = self._parts
        row = await parts.row(session_id)
        if row.materialized or parts.pool.loaded.get(row.id):
            await rpc(
                await parts.client(row), "thread/name/set", {"threadId": row.id, "name": title}
            )
        updated = await parts.store.sessions.update(row.id, title=title)
        parts.recorder.directory.forget(row.id)
        return {"status": "ok", "session": await self.summary(updated or row)}

    async def archive(self, session_id: str) -> Json:
        parts = self._parts
        row = await parts.row(session_id)
        remote = await parts.elsewhere(row.id, "POST", f"/api/sessions/{quote(row.id)}/archive")
        if remote is not None:
            return remote
        if await parts.running_turn(row.id) is not None:
            raise Conflict(
                "a turn is in progress; interrupt it first", code="in_flight", sessionId=row.id
            )
        if row.materialized:
            await rpc(await parts.client(row), "thread/archive", {"threadId": row.id})
        updated = await parts.store.sessions.update(row.id, archived=True)
        return {"status": "ok", "session": await self.summary(updated or row)}

    async def unarchive(self, session_id: str) -> Json:
        parts = self._parts
        row = await parts.row(session_id)
        path = f"/api/sessions/{quote(row.id)}/unarchive"
        if (remote := await parts.elsewhere(row.id, "POST", path)) is not None:
            return remote
        if row.archived and row.materialized:
            client = await parts.pool.client(parts.pool.assign(row.id))
            await rpc(client, "thread/unarchive", {"threadId": row.id})
        updated = await parts.store.sessions.update(row.id, archived=False)
        return {"status": "ok", "session": await self.summary(updated or row)}

    async def delete(self, session_id: str) -> Json:
        """Delete the session; every later call on it answers 410. Its pending requests
        expire and its thread is removed from codex's storage."""
        parts = self._parts
        row = await parts.row(session_id)
        path = f"/api/sessions/{quote(row.id)}"
        if (remote := await parts.elsewhere(row.id, "DELETE", path)) is not None:
            return remote
        running = await parts.running_turn(row.id)
        if running is not None:
            client = await parts.client(row)
            await rpc(client, "turn/interrupt", {"threadId": row.id, "turnId": running})
        if row.materialized:
            client = await parts.pool.client(parts.pool.assign(row.id))
            try:
                await client.request("thread/delete", {"threadId": row.id})
            except Exception as exc:  # the control plane's session is gone either way
                _log.warning("thread/delete of %s failed: %s", row.id, exc)
        now = time.time()
        await parts.store.sessions.update(row.id, deleted_at=now)
        expired = await parts.broker.expire_session(row.id, "the session was deleted")
        parts.pool.forget(row.id)
        parts.recorder.directory.forget(row.id)
        parts.hub.publish(
            "session_deleted",
            row.id,
            {"sessionId": row.id, "deletedAt": iso(now), "expiredRequestIds": expired},
        )
        return {"status": "ok", "sessionId": row.id}

    async def set_project(self, session_id: str, project_id: str | None) -> Json:
        parts = self._parts
        row = await parts.row(session_id)
        if project_id is not None and await parts.store.projects.get(project_id) is None:
            raise NotFound(f"project {project_id} not found", projectId=project_id)
        updated = await parts.store.sessions.update(row.id, project_id=project_id)
        parts.recorder.directory.forget(row.id)
        parts.hub.publish(
            "session_project_updated", row.id, {"sessionId": row.id, "projectId": project_id}
        )
        return {"status": "ok", "session": await self.summary(updated or row)}

    async def set_approval_policy(self, session_id: str, policy: Any) -> Json:
        parts = self._parts
        row = await parts.row(session_id, system=False)
        current = await parts.controls.effective(row)
        tuple_ = {
            k: current[k] for k in ("model", "approvalPolicy", "networkAccess", "filesystemSandbox")
        }
        await parts.controls.apply(row.id, "session", {**tuple_, "approvalPolicy": policy})
        return {"status": "ok", "sessionId": row.id, "approvalPolicy": policy}

    async def set_approval_timeout(
        self, session_id: str, seconds: float | None, decision: str = "decline"
    ) -> Json:
        """Decide this session's requests the ``decision`` way after ``seconds`` (None:
        wait as long as it takes, the default)."""
        if seconds is not None and seconds <= 0:
            raise Invalid("the approval timeout must be positive", issues=[{"path": ["seconds"]}])
        if decision not in ("accept", "decline", "cancel"):
            raise Invalid(
                "decision must be accept, decline or cancel", issues=[{"path": ["decision"]}]
            )
        row = await self._parts.row(session_id)
        await self._parts.store.sessions.update(
            row.id, approval_timeout=seconds, approval_timeout_decision=decision
        )
        return {"status": "ok", "sessionId": row.id, "seconds": seconds, "decision": decision}

    async def resume(
        self, session_id: str, dynamic_tools: builtins.list[Json] | None = None
    ) -> Json:
        """Load the thread on its app-server (done by every operation that needs it)."""
        parts = self._parts
        row = await parts.row(session_id, system=False)
        specs = tool_specs(dynamic_tools)
        if specs is not None:
            row = await parts.store.sessions.update(row.id, dynamic_tools=specs) or row
        if row.materialized:
            await parts.client(row)
        return {"status": "ok", "session": await self.summary(row)}

    async def upsert_transcript(self, session_id: str, entry: Any) -> Json:
        """Insert a transcript entry, or update the one with its ``messageId`` in place
        (clients annotate a session's transcript this way)."""
        fields = entry_fields(entry)
        parts = self._parts
        row = await parts.row(session_id)
        message_id = fields.pop("message_id")

        async def write() -> Json:
            stored = await parts.store.transcript.put(row.id, message_id, **fields)
            view = transcript_view(stored)
            parts.hub.publish("transcript_updated", row.id, {"sessionId": row.id, "entry": view})
            return view

        view = await parts.jobs.call(row.id, write)  # in order with the agent's entries
        return {"status": "ok", "sessionId": row.id, "entry": view}

    async def clean_background_terminals(self, session_id: str) -> Json:
        parts = self._parts
        row = await parts.row(session_id)
        client = await parts.client(row)
        await rpc(client, "thread/backgroundTerminals/clean", {"threadId": row.id})
        return {"status": "ok", "sessionId": row.id}


def _cursor(row: SessionRow) -> str:
    """The page cursor after ``row``: its (created_at, id), base64url."""
    raw = json.dumps([row.created_at, row.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[float, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, session_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if isinstance(created_at, int | float) and isinstance(session_id, str):
            return float(created_at), session_id
    except (ValueError, TypeError):
        pass
    raise Invalid("cursor is not one this server gave", issues=[{"path": ["cursor"]}])
