"""Projects: named groups of sessions."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError

from ..store.models import Project
from .base import Parts
from .errors import Conflict, Invalid, NotFound
from .sessions import Sessions
from .views import iso

__all__ = ["Projects"]

Json = dict[str, Any]


def project_view(row: Project) -> Json:
    return {
        "projectId": row.id,
        "id": row.id,
        "name": row.name,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 120:
        raise Invalid("name must be 1 to 120 characters", issues=[{"path": ["name"]}])
    return value.strip()


class Projects:
    def __init__(self, parts: Parts, sessions: Sessions) -> None:
        self._parts = parts
        self._sessions = sessions

    async def list(self) -> Json:
        rows = await self._parts.store.projects.list()
        return {"status": "ok", "data": [project_view(r) for r in rows]}

    async def create(self, name: Any) -> Json:
        row = await self._parts.store.projects.add(uuid.uuid4().hex, _name(name))
        if row is None:
            raise Conflict(f"a project named {name!r} exists", code="duplicate_name")
        return self._upserted(row)

    async def rename(self, project_id: str, name: Any) -> Json:
        try:
            row = await self._parts.store.projects.rename(project_id, _name(name))
        except IntegrityError:
            raise Conflict(f"a project named {name!r} exists", code="duplicate_name") from None
        if row is None:
            raise NotFound(f"project {project_id} not found", projectId=project_id)
        return self._upserted(row)

    async def delete(self, project_id: str) -> Json:
        """Delete an empty project (409 while sessions are in it: move or delete them).
        Its worker sessions (system-owned, the job queue's) do not count: they are
        deleted with it."""
        await self._get(project_id)
        rows = await self._parts.store.sessions.in_project(project_id)
        if any(not row.system_owned for row in rows):
            raise Conflict(
                "the project still has sessions", code="project_not_empty", projectId=project_id
            )
        for row in rows:
            await self._sessions.delete(row.id)
        await self._parts.store.projects.remove(project_id)
        self._parts.hub.publish("project_deleted", None, {"projectId": project_id})
        return {"status": "ok", "projectId": project_id}

    async def sessions(self, project_id: str) -> Json:
        await self._get(project_id)
        rows = await self._parts.store.sessions.in_project(project_id)
        return {"status": "ok", "data": [await self._sessions.summary(r) for r in rows]}

    async def move_all(self, project_id: str, destination: Any) -> Json:
        """Move every session of the project out of it (``unassigned``) or archive them
        all (``archive``: 409 if one has a turn in progress, before any is touched)."""
        if destination not in ("unassigned", "archive"):
            raise Invalid(
                "destination must be unassigned or archive", issues=[{"path": ["destination"]}]
            )
        await self._get(project_id)
        # The project's own worker sessions stay with it.
        rows = [
            r for r in await self._parts.store.sessions.in_project(project_id) if not r.system_owned
        ]
        moved = [r.id for r in rows]
        if destination == "archive":
            busy = [r.id for r in rows if await self._parts.running_turn(r.id) is not None]
            if busy:
                raise Conflict(
                    "sessions with a turn in progress", code="in_flight", sessionIds=busy
                )
            for row in rows:
                if not row.archived:
                    await self._sessions.archive(row.id)
        else:
            for row in rows:
                await self._sessions.set_project(row.id, None)
        return {
            "status": "ok",
            "projectId": project_id,
            "destination": destination,
            "sessionIds": moved,
        }

    async def delete_all(self, project_id: str) -> Json:
        await self._get(project_id)
        rows = await self._parts.store.sessions.in_project(project_id)
        for row in rows:
            await self._sessions.delete(row.id)
        return {"status": "ok", "projectId": project_id, "deletedSessionIds": [r.id for r in rows]}

    async def _get(self, project_id: str) -> Project:
        row = await self._parts.store.projects.get(project_id)
        if row is None:
            raise NotFound(f"project {project_id} not found", projectId=project_id)
        return row

    def _upserted(self, row: Project) -> Json:
        view = project_view(row)
        self._parts.hub.publish("project_upserted", None, {"project": view})
        return {"status": "ok", "project": view}
