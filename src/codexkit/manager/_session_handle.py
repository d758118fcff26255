"""``cm.session(id)``: a handle bound to one session, and dotted settings namespaces."""

from __future__ import annotations

from typing import Any, Literal

from ._bridge import Bridge
from ._sessions import Scope, SessionsApi

__all__ = ["SessionHandle", "SettingsNamespace"]


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        current = merged.get(key)
        merged[key] = (
            _deep_merge(current, value)
            if isinstance(current, dict) and isinstance(value, dict)
            else value
        )
    return merged


class SettingsNamespace:
    """A dotted path into one top-level setting (``supervisor.fileChange``): a
    read-modify-write of that key on the client, as codex-manager's client does."""

    def __init__(self, bridge: Bridge, session_id: str, namespace: str) -> None:
        self._bridge = bridge
        self._session_id = session_id
        self._parts = [part for part in namespace.split(".") if part]
        if not self._parts:
            raise ValueError("a settings namespace needs at least one key")

    async def _root(self, scope: Scope) -> Any:
        answer = await self._bridge.core.call(
            "getSessionSettings",
            params={"sessionId": self._session_id},
            query={"scope": scope, "key": self._parts[0]},
        )
        return answer.get("value") if isinstance(answer, dict) else None

    async def _get(self, scope: Scope) -> Any:
        current = await self._root(scope)
        for part in self._parts[1:]:
            if not isinstance(current, dict):
                return None
            current = current.get(part)
        return current

    async def _set(self, value: Any, scope: Scope, merge: bool) -> Any:
        root = await self._root(scope)
        root = root if isinstance(root, dict) else {}
        patch: Any = value
        for part in reversed(self._parts[1:]):
            patch = {part: patch}
        if len(self._parts) == 1:
            new_root = _deep_merge(root, value) if merge and isinstance(value, dict) else value
        else:
            # Only the addressed branch changes; replacing it leaves its siblings alone.
            new_root = (
                _deep_merge(root, patch) if merge else _replace_at(root, self._parts[1:], value)
            )
        return await self._bridge.core.call(
            "setSessionSettings",
            params={"sessionId": self._session_id},
            body={"scope": scope, "key": self._parts[0], "value": new_root},
        )

    def get(self, *, scope: Scope = "session") -> Any:
        """The value at the path (``None`` when any part is missing)."""
        return self._bridge.run(self._get(scope))

    def set(self, value: Any, *, scope: Scope = "session", mode: str = "merge") -> Any:
        """Write ``value`` at the path: dicts merge into what is there (``mode="replace"``
        replaces the branch); the siblings of the path are kept either way."""
        return self._bridge.run(self._set(value, scope, mode == "merge"))

    def merge(self, patch: dict[str, Any], *, scope: Scope = "session") -> Any:
        return self._bridge.run(self._set(patch, scope, True))


def _replace_at(root: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    head, rest = path[0], path[1:]
    child = root.get(head)
    new = dict(root)
    new[head] = (
        _replace_at(child if isinstance(child, dict) else {}, rest, value) if rest else value
    )
    return new


class _Scoped:
    def __init__(self, sessions: SessionsApi, bridge: Bridge, session_id: str) -> None:
        self._sessions = sessions
        self._bridge = bridge
        self.session_id = session_id


class SessionMessages(_Scoped):
    def send(self, text: str, **kwargs: Any) -> Any:
        return self._sessions.send_message(session_id=self.session_id, text=text, **kwargs)


class SessionControls(_Scoped):
    def get(self) -> Any:
        return self._sessions.controls_get(session_id=self.session_id)

    def apply(
        self,
        *,
        controls: dict[str, Any],
        scope: Scope = "session",
        actor: str | None = None,
        source: str | None = None,
    ) -> Any:
        return self._sessions.controls_apply(
            session_id=self.session_id, controls=controls, scope=scope, actor=actor, source=source
        )


class SessionSettings(_Scoped):
    def get(self, *, scope: Scope = "session", key: str | None = None) -> Any:
        return self._sessions.settings_get(session_id=self.session_id, scope=scope, key=key)

    def set(
        self,
        *,
        settings: dict[str, Any] | None = None,
        key: str | None = None,
        value: Any = None,
        scope: Scope = "session",
        mode: Literal["merge", "replace"] = "merge",
        actor: str | None = None,
        source: str | None = None,
    ) -> Any:
        return self._sessions.settings_set(
            session_id=self.session_id,
            settings=settings,
            key=key,
            value=value,
            scope=scope,
            mode=mode,
            actor=actor,
            source=source,
        )

    def unset(
        self,
        key: str,
        *,
        scope: Scope = "session",
        actor: str | None = None,
        source: str | None = None,
    ) -> Any:
        return self._sessions.settings_unset(
            session_id=self.session_id, key=key, scope=scope, actor=actor, source=source
        )

    def namespace(self, namespace: str) -> SettingsNamespace:
        return SettingsNamespace(self._bridge, self.session_id, namespace)


class _PendingList(_Scoped):
    _operation = ""

    def list(self, *, history: bool | None = None) -> Any:
        return self._bridge.call(
            self._operation, params={"sessionId": self.session_id}, query={"history": history}
        )


class SessionApprovals(_PendingList):
    _operation = "listSessionApprovals"


class SessionToolInput(_PendingList):
    _operation = "listSessionToolInput"


class SessionToolCalls(_PendingList):
    _operation = "listSessionToolCalls"


class SessionHandle(_Scoped):
    """``cm.session(id)``: the session's operations without repeating its id."""

    def __init__(self, sessions: SessionsApi, bridge: Bridge, session_id: str) -> None:
        super().__init__(sessions, bridge, session_id)
        args = (sessions, bridge, session_id)
        self.messages = SessionMessages(*args)
        self.controls = SessionControls(*args)
        self.settings = SessionSettings(*args)
        self.approvals = SessionApprovals(*args)
        self.tool_input = SessionToolInput(*args)
        self.tool_calls = SessionToolCalls(*args)

    def get(self) -> Any:
        return self._sessions.get(session_id=self.session_id)

    def rename(self, title: str) -> Any:
        return self._sessions.rename(session_id=self.session_id, title=title)

    def archive(self) -> Any:
        return self._sessions.archive(session_id=self.session_id)

    def unarchive(self) -> Any:
        return self._sessions.unarchive(session_id=self.session_id)

    def interrupt(self, *, turn_id: str | None = None) -> Any:
        return self._sessions.interrupt(session_id=self.session_id, turn_id=turn_id)

    def approval_timeout(
        self, seconds: float | None, *, decision: Literal["accept", "decline", "cancel"] = "decline"
    ) -> Any:
        return self._sessions.approval_timeout(
            session_id=self.session_id, seconds=seconds, decision=decision
        )

    def delete(self) -> Any:
        return self._sessions.delete(session_id=self.session_id)
