"""The options both engines share, and what they become for codex.

:class:`~codexkit.AsyncCodex` (app-server) and :class:`~codexkit.exec.ExecCodex` (``codex
exec``) take the same option names; this module turns them into codex settings and checks
them before anything is sent.
"""

from __future__ import annotations

import os
from typing import Any

from ._errors import InvalidArgumentError

__all__ = ["check_directory"]

Json = dict[str, Any]
StrPath = str | os.PathLike[str]


def check_directory(
    path: StrPath | None, *, base: StrPath | None = None, name: str = "cwd"
) -> None:
    """Refuse a working directory that does not exist, as the ``codexkit`` CLI does: codex
    would take it and fail later, or run where the user did not mean. A relative
    ``path`` is looked up from ``base`` (the app-server's own directory), as codex does."""
    if path is None:
        return
    where = os.path.join(os.fspath(base), os.fspath(path)) if base is not None else path
    if not os.path.isdir(where):
        raise InvalidArgumentError(f"{name} {os.fspath(path)!r} is not an existing directory")
