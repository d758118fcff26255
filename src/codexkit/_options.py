"""The options both engines share, and what they become for codex.

:class:`~codexkit.AsyncCodex` (app-server) and :class:`~codexkit.exec.ExecCodex` (``codex
exec``) take the same option names; this module turns them into codex settings and checks
them before anything is sent.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._errors import InvalidArgumentError

__all__ = ["StrPath", "check_directory", "resolve_api_key", "thread_settings"]

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


def thread_settings(
    *,
    reasoning_effort: str | None = None,
    writable_roots: Sequence[StrPath] | None = None,
    network_access: bool | None = None,
    web_search: bool | str | None = None,
) -> Json:
    """The typed thread options as codex config settings (nested, as ``config`` takes
    them); options left ``None`` are not set."""
    settings: Json = {}
    if reasoning_effort is not None:
        settings["model_reasoning_effort"] = reasoning_effort
    workspace: Json = {}
    if writable_roots is not None:
        workspace["writable_roots"] = [os.path.abspath(os.fspath(p)) for p in writable_roots]
    if network_access is not None:
        workspace["network_access"] = network_access
    if workspace:
        settings["sandbox_workspace_write"] = workspace
    if web_search is not None:
        settings["web_search"] = _web_search_mode(web_search)
    return settings


def _web_search_mode(value: bool | str) -> str:
    """``True``/``False`` as the ``web_search`` modes ``live``/``disabled``; a mode as is."""
    if isinstance(value, bool):
        return "live" if value else "disabled"
    return value


def resolve_api_key(
    api_key: str | None, env: Mapping[str, str], codex_home: StrPath | None
) -> str | None:
    """The API key to sign codex in with, as ``codex exec`` and codex-sdk take it:
    ``api_key``, else ``CODEX_API_KEY``, else ``OPENAI_API_KEY`` when ``CODEX_HOME`` holds
    no sign-in of its own (``auth.json``), so that a key exported for other tools does
    not replace a ChatGPT sign-in. Variables are read from ``env``, then ``os.environ``."""
    if api_key is not None:
        return api_key or None
    variables = {**os.environ, **env}
    if variables.get("CODEX_API_KEY"):
        return variables["CODEX_API_KEY"]
    fallback = variables.get("OPENAI_API_KEY")
    if not fallback:
        return None
    home = codex_home or variables.get("CODEX_HOME") or Path.home() / ".codex"
    return None if (Path(home) / "auth.json").exists() else fallback
