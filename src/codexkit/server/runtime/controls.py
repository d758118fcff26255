"""Session controls and settings at scope ``session`` and ``default``.

Controls are the tuple ``model, approvalPolicy, networkAccess, filesystemSandbox``; the
effective tuple of a session is its own where set, else the defaults, else the built-in
ones, and is resolved again at each message. Settings are a free JSON object per scope,
addressed by top-level key (clients read-modify-write a dotted namespace such as
``supervisor.fileChange`` through its top-level key). Writes at scope ``default`` are
refused while the defaults are locked.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

from ..store import Store
from ..store.models import SessionRow
from .errors import Invalid, Locked

__all__ = ["BUILTIN", "Controls"]

Json = dict[str, Any]
RowLookup = Callable[[str], Awaitable[SessionRow]]

BUILTIN: Json = {
    "model": None,
    "approvalPolicy": "on-request",
    "networkAccess": "restricted",
    "filesystemSandbox": "workspace-write",
}
_CHOICES = {
    "approvalPolicy": ("untrusted", "on-failure", "on-request", "never"),
    "networkAccess": ("restricted", "enabled"),
    "filesystemSandbox": ("read-only", "workspace-write", "danger-full-access"),
}
_SCOPES = ("session", "default")


def check_controls(controls: Any, *, partial: bool = False) -> Json:
    """The control fields of ``controls``, validated; ``partial`` allows missing ones."""
    if not isinstance(controls, dict):
        raise Invalid("controls must be an object", issues=[{"path": ["controls"]}])
    issues = []
    checked: Json = {}
    for name in BUILTIN:
        if name not in controls:
            if not partial:
                issues.append({"path": ["controls", name], "message": "required"})
            continue
        value = controls[name]
        choices = _CHOICES.get(name)
        if choices is not None and value not in choices:
            issues.append({"path": ["controls", name], "message": f"one of {', '.join(choices)}"})
        elif choices is None and value is not None and not isinstance(value, str):
            issues.append({"path": ["controls", name], "message": "a string or null"})
        checked[name] = value
    if issues:
        raise Invalid("invalid session controls", issues=issues)
    return checked


def check_scope(scope: Any) -> str:
    if scope not in _SCOPES:
        raise Invalid("scope must be session or default", issues=[{"path": ["scope"]}])
    return str(scope)


class Controls:
    def __init__(self, store: Store, row: RowLookup) -> None:
        self._store = store
        self._row = row  # a live session by id (404 / 410 / 403 raised there)

    async def effective(self, row: SessionRow) -> Json:
        """The tuple in force for ``row``, with its settings."""
        defaults = await self._store.defaults.get()
        tuple_ = {**BUILTIN, **(defaults.controls or {}), **(row.controls or {})}
        return {**tuple_, "settings": copy.deepcopy(row.settings or {})}

    async def read(self, session_id: str) -> Json:
        row = await self._row(session_id)
        defaults = await self._store.defaults.get()
        return {
            "status": "ok",
            "sessionId": row.id,
            "controls": await self.effective(row),
            "sessionControls": row.controls,
            "defaultControls": defaults.controls,
            "defaultsLocked": defaults.locked,
        }

    async def apply(self, session_id: str, scope: Any, controls: Any) -> Json:
        """Set the whole tuple at ``scope`` (``settings`` too when given); ``unchanged``
        when it is what is there already."""
        row = await self._row(session_id)
        scope = check_scope(scope)
        await self._guard(scope, row)
        tuple_ = check_controls(controls)
        settings = controls.get("settings")
        if settings is not None and not isinstance(settings, dict):
            raise Invalid("controls.settings must be an object", issues=[{"path": ["settings"]}])
        current_tuple, current_settings = await self._current(row, scope)
        changed = tuple_ != current_tuple or (settings is not None and settings != current_settings)
        if changed:
            await self._write(row, scope, controls=tuple_, settings=settings)
        fresh = await self._store.sessions.get(row.id) or row
        return {
            "status": "ok" if changed else "unchanged",
            "sessionId": row.id,
            "scope": scope,
            "controls": await self.effective(fresh),
        }

    # -- settings ------------------------------------------------------------------------

    async def settings(
        self, session_id: str, scope: Any = "session", key: str | None = None
    ) -> Json:
        row = await self._row(session_id)
        scope = check_scope(scope)
        _, settings = await self._current(row, scope)
        answer: Json = {"status": "ok", "sessionId": row.id, "scope": scope}
        if key is None:
            return {**answer, "settings": settings}
        return {**answer, "key": key, "found": key in settings, "value": settings.get(key)}

    async def set_settings(self, session_id: str, body: Json) -> Json:
        """``{scope, settings, mode: merge|replace}`` or ``{scope, key, value}``."""
        row = await self._row(session_id)
        scope = check_scope(body.get("scope", "session"))
        await self._guard(scope, row)
        has_map, has_key = "settings" in body, "key" in body
        if has_map == has_key:
            raise Invalid("give either settings or key and value", issues=[{"path": []}])
        _, current = await self._current(row, scope)
        if has_map:
            given = body["settings"]
            mode = body.get("mode", "merge")
            if not isinstance(given, dict) or mode not in ("merge", "replace"):
                raise Invalid(
                    "settings must be an object and mode merge or replace",
                    issues=[{"path": ["settings"]}, {"path": ["mode"]}],
                )
            new = {**current, **given} if mode == "merge" else dict(given)
        else:
            key = body["key"]
            if not isinstance(key, str) or not key or "value" not in body:
                raise Invalid(
                    "key must be a non-empty string, with a value", issues=[{"path": ["key"]}]
                )
            new = {**current, key: body["value"]}
        answer: Json = {"sessionId": row.id, "scope": scope}
        if has_key:
            answer["key"] = body["key"]
        if new == current:
            return {"status": "unchanged", **answer, "settings": current}
        await self._write(row, scope, settings=new)
        return {"status": "ok", **answer, "settings": new}

    async def unset(self, session_id: str, key: str, scope: Any = "session") -> Json:
        row = await self._row(session_id)
        scope = check_scope(scope)
        await self._guard(scope, row)
        _, current = await self._current(row, scope)
        answer: Json = {"sessionId": row.id, "scope": scope, "key": key}
        if key not in current:
            return {"status": "unchanged", **answer, "removed": False, "settings": current}
        new = {k: v for k, v in current.items() if k != key}
        await self._write(row, scope, settings=new)
        return {"status": "ok", **answer, "removed": True, "settings": new}

    # -- the two scopes ----------------------------------------------------------------------

    async def _current(self, row: SessionRow, scope: str) -> tuple[Json, Json]:
        defaults = await self._store.defaults.get()
        if scope == "default":
            return {**BUILTIN, **(defaults.controls or {})}, dict(defaults.settings or {})
        tuple_ = {**BUILTIN, **(defaults.controls or {}), **(row.controls or {})}
        return tuple_, dict(row.settings or {})

    async def _write(
        self,
        row: SessionRow,
        scope: str,
        *,
        controls: Json | None = None,
        settings: Json | None = None,
    ) -> None:
        fields: Json = {}
        if controls is not None:
            fields["controls"] = controls
        if settings is not None:
            fields["settings"] = settings
        if scope == "session":
            await self._store.sessions.update(row.id, **fields)
        else:
            await self._store.defaults.update(**fields)

    async def _guard(self, scope: str, row: SessionRow) -> None:
        """423 for any write at scope ``default`` while the defaults are locked."""
        if scope != "default":
            return
        defaults = await self._store.defaults.get()
        if defaults.locked:
            raise Locked(
                "default controls and settings are locked",
                scope="default",
                sessionId=row.id,
                settings=defaults.settings,
            )
