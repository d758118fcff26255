"""Working directories clients name: they must exist, and lie under an allowed root."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ApiError, error_body
from .settings import ServeSettings

__all__ = ["checked_cwd"]


def _refuse(code: str, message: str, field: tuple[str, ...]) -> ApiError:
    issue = {"code": code, "path": list(field), "in": "body", "message": message}
    return ApiError(400, error_body(code, message, issues=[issue]))


def checked_cwd(
    settings: ServeSettings, cwd: str | None, *, field: tuple[str, ...] = ("cwd",)
) -> str | None:
    """``cwd`` resolved, or a 400 saying why it cannot be used: not absolute, not an
    existing directory, or outside every ``--allowed-root``. ``None`` stays ``None``
    (the runtime's default applies)."""
    if cwd is None:
        return None
    if "\x00" in cwd or not os.path.isabs(cwd):
        raise _refuse("invalid_cwd", "cwd must be an absolute path", field)
    path = Path(cwd).resolve()
    if not path.is_dir():
        raise _refuse("invalid_cwd", f"cwd {cwd} is not an existing directory", field)
    roots = settings.allowed_roots
    if roots and not any(path == root or root in path.parents for root in roots):
        allowed = ", ".join(str(root) for root in roots)
        raise _refuse(
            "cwd_not_allowed", f"cwd {cwd} is outside the allowed roots ({allowed})", field
        )
    return str(path)
