"""What the runtime refuses, as typed errors that carry the contract's answer.

Each error knows its HTTP ``status`` and its body (``{status, code, message, ...}``), so
a route turns it into a response without knowing why it was raised.
"""

from __future__ import annotations

from typing import Any

from ...errors import (
    CodexError,
    CodexTimeoutError,
    InvalidParamsError,
    InvalidRequestError,
    MethodNotFoundError,
    RpcError,
    ServerOverloadedError,
    TransportClosedError,
)

__all__ = [
    "Conflict",
    "Invalid",
    "Locked",
    "NotFound",
    "QueueFull",
    "RuntimeFailure",
    "ServeError",
    "SessionDeleted",
    "SystemSession",
    "classify",
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


class QueueFull(ServeError):
    """429: the contract's ``QueueErrorResponse`` (``sessionId`` is the job's source
    session, or empty)."""

    http_status, status, code = 429, "error", "queue_full"


class Locked(ServeError):
    http_status, status, code = 423, "locked", "defaults_locked"


class RuntimeFailure(ServeError):
    """The app-server refused or failed: its own error passed through, with the status
    of its kind of failure (``classify``) when it has a known one, else 502."""

    http_status, status, code = 502, "error", "app_server_error"

    @classmethod
    def of(cls, error: CodexError, method: str) -> RuntimeFailure:
        http_status, code, message = classify(error)
        extra: Json = {"method": method}
        if isinstance(error, RpcError):
            extra["rpcCode"] = error.code
        failure = cls(message, **extra)
        if http_status != 500:  # an unknown failure stays 502: the app-server's, not ours
            failure.http_status, failure.code = http_status, code
        return failure


# Substrings of app-server error messages, as 0.163 words them: it answers -32600 for a
# method it does not know ("unknown variant") and for params it cannot read.
_UNSUPPORTED = ("unknown variant", "method not found", "requires experimentalapi")
_BAD_PARAMS = (
    "invalid type",
    "missing field",
    "unknown field",
    "invalid value",
    "invalid id token",
)
_NEEDS_LOGIN = ("authentication required", "unauthorized", "missing bearer")
_MISSING = ("not found", "invalid login id", "no mcp server named")


def classify(error: CodexError) -> tuple[int, str, str]:
    """``(HTTP status, code, message)`` of an app-server error: 501 unsupported, 400 bad
    params, 401 no codex account, 404 no such thing (login, MCP server, thread), 409
    refused in this state, 503 runtime gone or busy, 504 no answer in time, else 500."""
    message = error.message if isinstance(error, RpcError) else str(error)
    lower = message.lower()
    if isinstance(error, MethodNotFoundError) or any(s in lower for s in _UNSUPPORTED):
        return 501, "method_not_supported", message
    if isinstance(error, InvalidParamsError) or any(s in lower for s in _BAD_PARAMS):
        return 400, "invalid_params", message
    if any(s in lower for s in _NEEDS_LOGIN):
        return 401, "auth_required", message
    if any(s in lower for s in _MISSING):
        return 404, "not_found", message
    if isinstance(error, InvalidRequestError):
        return 409, "invalid_state", message
    if isinstance(error, ServerOverloadedError):
        return 503, "runtime_busy", message
    if isinstance(error, TransportClosedError):
        # Its stderr stays in the log: a client learns nothing of the server's insides.
        return 503, "runtime_unavailable", "the codex app-server is not running"
    if isinstance(error, CodexTimeoutError):
        return 504, "codex_timeout", message
    return 500, "codex_error", message
