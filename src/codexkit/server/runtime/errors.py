"""What the runtime refuses, as typed errors that carry the contract's answer.

Each error knows its HTTP ``status`` and its body (``{status, code, message, ...}``), so
a route turns it into a response without knowing why it was raised.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Conflict",
    "Invalid",
    "Locked",
    "NotFound",
    "RuntimeFailure",
    "ServeError",
    "SessionDeleted",
    "SystemSession",
]

Json = dict[str, Any]


class ServeError(Exception):
    """Base of every refusal; ``body()`` is the contract's error body."""

    http_status = 500
    status = "error"
    code = "error"

    def __init__(self, message: str, *, status: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra
        if status is not None:  # some answers name their own status (`reconciled`)
            self.status = status

    def body(self) -> Json:
        return {"status": self.status, "code": self.code, "message": self.message, **self.extra}


class Invalid(ServeError):
    http_status, status, code = 400, "error", "invalid_request"

    def __init__(self, message: str, *, code: str = "invalid_request", **extra: Any) -> None:
        super().__init__(message, **extra)
        self.code = code


class SystemSession(ServeError):
    http_status, status, code = 403, "forbidden", "system_session"


class NotFound(ServeError):
    http_status, status, code = 404, "not_found", "not_found"


class Conflict(ServeError):
    http_status, status, code = 409, "conflict", "conflict"

    def __init__(
        self, message: str, *, code: str = "conflict", status: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message, status=status, **extra)
        self.code = code


class SessionDeleted(ServeError):
    """410: the body is the contract's ``DeletedSessionPayload``."""

    http_status, status, code = 410, "deleted", "deleted"

    def __init__(self, session_id: str, deleted_at: str, title: str | None) -> None:
        super().__init__(f"session {session_id} was deleted")
        self.extra = {"sessionId": session_id, "deletedAt": deleted_at, "title": title}


class Locked(ServeError):
    http_status, status, code = 423, "locked", "defaults_locked"


class RuntimeFailure(ServeError):
    """The app-server refused or failed: its own error passed through."""

    http_status, status, code = 502, "error", "app_server_error"
