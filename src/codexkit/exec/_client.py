"""``ExecCodex`` and ``ExecThread``: settings and threads of the one-shot engine (public in
:mod:`codexkit.exec`)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from .._defaults import DEFAULT_CODEX_SETTINGS
from .._runtime.binary import find_codex
from .._structured import OutputSpec
from ..errors import CodexError
from ..mcp import McpServer, mcp_servers_config
from ..options import StrPath, check_directory, resolve_api_key
from ..types import InputLike, TurnResult
from ._command import ExecThreadSettings
from ._stream import ExecStream

__all__ = ["ExecCodex", "ExecThread"]

Json = dict[str, Any]


class ExecCodex:
    """Settings shared by the threads it starts; it runs nothing itself.

    ``codex_bin`` picks the binary as :func:`~codexkit.find_codex` does, ``codex_home``
    sets ``CODEX_HOME``, ``env`` adds environment variables, ``config`` is a nested dict
    of codex settings (``-c key=value``) and ``model`` the default model.
    ``turn_idle_timeout`` bounds the silence between two events of a turn (seconds;
    ``None`` for no limit), as on :class:`~codexkit.AsyncCodex`. ``api_key`` and
    ``base_url`` are :class:`~codexkit.AsyncCodex`'s too: the key goes to codex as
    ``CODEX_API_KEY`` (by default ``CODEX_API_KEY``, or ``OPENAI_API_KEY`` when
    ``CODEX_HOME`` holds no sign-in), the URL as ``openai_base_url``. ``mcp_servers``
    are MCP servers for every thread (see :mod:`codexkit.mcp`); ``codex exec`` cannot
    ask before a tool runs, so give them ``tool_approval="approve"`` for tools the
    runtime would ask about.
    """

    def __init__(
        self,
        *,
        codex_bin: StrPath | None = None,
        codex_home: StrPath | None = None,
        env: Mapping[str, str] | None = None,
        config: Mapping[str, Any] | None = None,
        model: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        mcp_servers: Mapping[str, McpServer] | None = None,
        turn_idle_timeout: float | None = 600.0,
    ) -> None:
        self.binary = find_codex(codex_bin)
        self.codex_home = os.fspath(codex_home) if codex_home is not None else None
        self.env = dict(env or {})
        key = resolve_api_key(api_key, self.env, codex_home)
        if key is not None:
            self.env["CODEX_API_KEY"] = key  # the variable `codex exec` reads
        self.config = _with_servers({**DEFAULT_CODEX_SETTINGS, **(config or {})}, mcp_servers)
        if base_url is not None:
            self.config["openai_base_url"] = base_url
        self.model = model
        self.base_url = base_url
        self.turn_idle_timeout = turn_idle_timeout

    def start_thread(
        self,
        *,
        cwd: StrPath | None = None,
        model: str | None = None,
        sandbox: str | None = None,
        reasoning_effort: str | None = None,
        additional_directories: Sequence[StrPath] = (),
        network_access: bool | None = None,
        web_search: bool | str | None = None,
        approval_policy: str | None = "never",
        skip_git_repo_check: bool = True,
        ephemeral: bool = False,
        config: Mapping[str, Any] | None = None,
        mcp_servers: Mapping[str, McpServer] | None = None,
    ) -> ExecThread:
        """A new thread; codex creates it on the first run, which sets ``thread.id``.

        ``sandbox`` is ``read-only``, ``workspace-write`` or ``danger-full-access``;
        ``network_access`` applies to ``workspace-write``; ``web_search`` is ``True``
        (live), ``False`` (disabled) or a mode (``"live"``, ``"cached"``, ``"disabled"``).
        An ``ephemeral`` thread is not stored, so it runs one turn only. A ``cwd`` that is
        not an existing directory raises :class:`~codexkit.InvalidArgumentError`.
        ``mcp_servers`` are this thread's, besides the client's.
        """
        check_directory(cwd)
        options = ExecThreadSettings(
            cwd=os.fspath(cwd) if cwd is not None else None,
            model=model,
            sandbox=sandbox,
            reasoning_effort=reasoning_effort,
            additional_directories=tuple(os.fspath(d) for d in additional_directories),
            network_access=network_access,
            web_search=web_search,
            approval_policy=approval_policy,
            skip_git_repo_check=skip_git_repo_check,
            ephemeral=ephemeral,
            config=_with_servers(dict(config or {}), mcp_servers),
        )
        return ExecThread(self, options)

    def resume_thread(self, thread_id: str, **options: Any) -> ExecThread:
        """A stored thread (``codex exec resume THREAD_ID``), with the options of
        :meth:`start_thread`. Works from any process using the same ``CODEX_HOME``."""
        thread = self.start_thread(**options)
        thread.id = thread_id
        return thread

    def _child_env(self) -> dict[str, str]:
        extra = dict(self.env)
        if self.codex_home is not None:
            extra["CODEX_HOME"] = self.codex_home
        return self.binary.child_env(extra)

    def __repr__(self) -> str:
        return f"ExecCodex(codex_bin={self.binary.path!r}, codex_home={self.codex_home!r})"


def _with_servers(config: Json, servers: Mapping[str, McpServer] | None) -> Json:
    """``config`` with ``servers`` added to its ``mcp_servers`` table (the rest kept)."""
    if servers:
        config["mcp_servers"] = {**config.get("mcp_servers", {}), **mcp_servers_config(servers)}
    return config


class ExecThread:
    """A conversation; each run is one ``codex exec`` process that resumes it.

    ``id`` is ``None`` until the first run's ``thread.started``. One run at a time.
    """

    def __init__(self, codex: ExecCodex, options: ExecThreadSettings) -> None:
        self.codex = codex
        self._options = options
        self.id: str | None = None
        self._running: str | None = None  # the turn id of the run in progress
        self._turns = 0

    def run_streamed(
        self,
        input: InputLike,
        *,
        output_type: type[Any] | None = None,
        output_schema: Json | None = None,
        images: Sequence[StrPath] = (),
        timeout: float | None = None,
    ) -> ExecStream:
        """The turn as a stream of events; the process starts on ``async with`` or on
        the first ``async for`` step. ``stream.result`` holds the result at the end."""
        output = None
        if output_type is not None or output_schema is not None:
            output = OutputSpec(output_type, output_schema)
        return ExecStream(self, input, output=output, images=images, timeout=timeout)

    async def run(
        self,
        input: InputLike,
        *,
        output_type: type[Any] | None = None,
        output_schema: Json | None = None,
        images: Sequence[StrPath] = (),
        timeout: float | None = None,
    ) -> TurnResult:
        """Run one turn to the end and return its :class:`~codexkit.TurnResult`.

        A prompt is a string, an input (``TextInput``, ``LocalImageInput``, an
        ``ImageInput`` with a ``data:`` URL) or a list of them; ``images`` adds image
        files. ``output_type`` (a pydantic model) or ``output_schema`` (a JSON schema)
        asks for a structured answer, parsed into ``result.output``.

        Raises :class:`~codexkit.TurnFailedError` (with the partial result),
        :class:`~codexkit.OutputParseError`, :class:`~codexkit.CodexTimeoutError` after
        ``timeout`` seconds, and :class:`ExecError` when codex dies or misbehaves. Each
        way out, the process group is ended and the private files are removed.
        """
        stream = self.run_streamed(
            input,
            output_type=output_type,
            output_schema=output_schema,
            images=images,
            timeout=timeout,
        )
        async with stream:
            async for _ in stream:
                pass
        return stream._outcome()

    def _begin(self, turn_id: str) -> None:
        if self._running is not None:
            raise CodexError(f"thread {self.id} already has turn {self._running} running")
        if self._options.ephemeral and self._turns:
            raise CodexError("an ephemeral thread is not stored, so it runs one turn only")
        self._running = turn_id
        self._turns += 1

    def _release(self, turn_id: str) -> None:
        if self._running == turn_id:
            self._running = None

    def __repr__(self) -> str:
        return f"ExecThread(id={self.id!r})"
