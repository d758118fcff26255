"""Working directories clients name: they must exist, and lie under an allowed root."""

from __future__ import annotations

import os

from .errors import ApiError
from .runtime.checks import session_directory
from .runtime.errors import Invalid
from .settings import ServeSettings

__all__ = ["checked_cwd"]


def checked_cwd(settings: ServeSettings, cwd: str | None) -> str | None:
    """``cwd`` resolved, or a 400 saying why it cannot be used: not absolute, not an
    existing directory, or outside every ``--allowed-root`` (the runtime's own check, so
    sessions and commands obey the same rule). ``None`` stays ``None`` (the runtime's
    default applies)."""
    if cwd is None:
        return None
    roots = [str(root) for root in settings.allowed_roots]
    try:
        return os.path.realpath(session_directory(cwd, roots))
    except Invalid as refused:
        raise ApiError(refused.http_status, refused.body()) from None
