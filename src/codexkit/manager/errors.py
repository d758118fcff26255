"""What a control-plane call raises: one base, one class per kind of answer.

Each error carries the HTTP ``status``, the contract's ``code`` (``in_flight``,
``not_ready``, ...; ``None`` when the body has none) and the decoded ``body``, so callers
branch on attributes and never parse messages.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "ConflictError",
    "GoneError",
    "LockedError",
    "ManagerError",
    "NotFoundError",
    "ServerError",
    "TransportError",
    "ValidationError",
    "error_for",
]


class ManagerError(Exception):
    """A call the control plane did not answer with success."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str | None = None,
        body: Any = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.body = body
        self.operation = operation


class TransportError(ManagerError):
    """No answer at all: the server could not be reached, or the connection broke."""


class AuthError(ManagerError):
    """401 or 403: a missing or wrong bearer token, or a forbidden session."""


class ValidationError(ManagerError):
    """400 (or 422): the request broke the contract; ``body["issues"]`` says where.
    Also raised by ``strict``/``typed-only`` validation of a body on this side."""


class NotFoundError(ManagerError):
    """404."""


class ConflictError(ManagerError):
    """409: ``code`` says which conflict (``in_flight``, ``reconciled``, ...)."""


class GoneError(ManagerError):
    """410: the session was deleted; ``body["deletedAt"]`` says when."""


class LockedError(ManagerError):
    """423: default-scope settings are locked."""


class ServerError(ManagerError):
    """5xx: the server failed (503 ``not_ready`` for routes it does not serve yet)."""


_BY_STATUS: dict[int, type[ManagerError]] = {
    400: ValidationError,
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    422: ValidationError,
    423: LockedError,
}


def error_for(status: int, body: Any, operation: str | None = None) -> ManagerError:
    """The error an answer with ``status`` and ``body`` stands for."""
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else ManagerError)
    code = body.get("code") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    text = f"{operation or 'request'}: HTTP {status}"
    if isinstance(code, str):
        text += f" {code}"
    if isinstance(message, str) and message:
        text += f": {message}"
    return kind(
        text,
        status=status,
        code=code if isinstance(code, str) else None,
        body=body,
        operation=operation,
    )
