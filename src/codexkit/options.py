"""The options vocabulary: one name per setting, whichever engine or command takes it.

``TurnOptions`` are what a turn takes (``AsyncThread.turn`` and, through it, ``run`` and
``ask``); ``ThreadOptions`` how a thread is set up (``start_thread``, ``fork``).
``CLIENT_DEFAULT`` marks an argument left to the client's setting. Both engines
(:class:`~codexkit.AsyncCodex` over app-server and :class:`~codexkit.exec.ExecCodex` over
``codex exec``) take the same names; the functions here turn them into codex settings and
check them before anything is sent.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from .errors import InvalidArgumentError

if TYPE_CHECKING:
    from .approvals import ApprovalPolicy
    from .mcp import McpServer

__all__ = [
    "CLIENT_DEFAULT",
    "StrPath",
    "ThreadOptions",
    "TurnOptions",
    "check_directory",
    "resolve_api_key",
    "thread_settings",
]

Json = dict[str, Any]
StrPath = str | os.PathLike[str]


class TurnOptions(TypedDict, total=False):
    """The options of :meth:`AsyncThread.turn`, as taken by ``run`` and ``ask``."""

    model: str | None
    reasoning_effort: str | None
    cwd: str | None
    output_type: type[Any] | None
    output_schema: Json | None
    approval_policy: str | None
    summary: str | None
    collaboration_mode: str | None
    idle_timeout: float | None
    params: Json | None


class ThreadOptions(TypedDict, total=False):
    """How a thread is set up: the options of ``start_thread``, as taken by ``fork``."""

    cwd: str | os.PathLike[str] | None
    model: str | None
    reasoning_effort: str | None
    sandbox: str | None
    additional_directories: Sequence[str | os.PathLike[str]] | None
    network_access: bool | None
    web_search: bool | str | None
    approval_policy: str | ApprovalPolicy | None
    instructions: str | None
    base_instructions: str | None
    ephemeral: bool | None
    config: Mapping[str, Any] | None
    mcp_servers: Mapping[str, McpServer] | None
    params: Json | None


class _ClientDefault:
    """The value of an argument left to the client's setting (``turn_idle_timeout``)."""

    def __repr__(self) -> str:
        return "CLIENT_DEFAULT"


CLIENT_DEFAULT: Any = _ClientDefault()


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
