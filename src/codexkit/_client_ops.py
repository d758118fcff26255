"""Server-wide operations of :class:`~codexkit.AsyncCodex`: listing and reading stored
threads, the model catalogue, one-off sandboxed commands, the account and settings."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ._account import AsyncAccount, AsyncSettings, _Client
from ._errors import RpcError

if TYPE_CHECKING:
    from .events import Event

__all__ = [
    "AsyncThreadListing",
    "ClientOpsMixin",
    "CommandResult",
    "ModelInfo",
    "ThreadPage",
    "ThreadSummary",
]

Json = dict[str, Any]
PathLike = str | os.PathLike[str]
#: Called with ``"stdout"`` or ``"stderr"`` and the bytes of each chunk of output.
OutputCallback = Callable[[str, bytes], None]

_SANDBOXES = {
    "read-only": "readOnly",
    "workspace-write": "workspaceWrite",
    "danger-full-access": "dangerFullAccess",
    "external-sandbox": "externalSandbox",
}


# -- value types --------------------------------------------------------------------


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    return None


@dataclass(frozen=True)
class ThreadSummary:
    """A stored thread as ``thread/list`` describes it (without its turns).

    ``name`` is the title set with ``set_name`` (``None`` if never set) and ``preview``
    usually the first user message; ``title`` is whichever exists. ``status`` is
    ``"notLoaded"``, ``"idle"``, ``"active"`` or ``"systemError"``. ``archived`` is
    known from the listing's filter. Times are UTC.
    """

    id: str
    name: str | None
    preview: str
    cwd: str | None
    created_at: datetime | None
    updated_at: datetime | None
    archived: bool
    model_provider: str | None
    model: str | None
    status: str
    source: Any
    raw: Json = field(repr=False, compare=False)

    @property
    def title(self) -> str:
        return self.name or self.preview

    @staticmethod
    def from_wire(raw: Json, *, archived: bool = False) -> ThreadSummary:
        status = raw.get("status")
        return ThreadSummary(
            id=str(raw.get("id", "")),
            name=raw.get("name"),
            preview=str(raw.get("preview") or ""),
            cwd=raw.get("cwd"),
            created_at=_timestamp(raw.get("createdAt")),
            updated_at=_timestamp(raw.get("updatedAt")),
            archived=archived,
            model_provider=raw.get("modelProvider"),
            model=raw.get("model"),
            status=str(status.get("type", "")) if isinstance(status, dict) else str(status or ""),
            source=raw.get("source"),
            raw=raw,
        )


@dataclass(frozen=True)
class ThreadPage:
    """One page of ``thread/list``. ``next_cursor`` is ``None`` on the last page."""

    threads: list[ThreadSummary]
    next_cursor: str | None
    backwards_cursor: str | None
    raw: Json = field(repr=False, compare=False)


class AsyncThreadListing:
    """The result of :meth:`AsyncCodex.list_threads`: iterate it for every matching
    thread across pages (``async for thread in listing``), or call :meth:`pages` for
    the pages themselves. Each iteration starts again from the first page; nothing is
    requested until you iterate."""

    def __init__(self, codex: _Client, params: Json, *, archived: bool) -> None:
        self._codex = codex
        self._params = params
        self._archived = archived

    def __aiter__(self) -> AsyncIterator[ThreadSummary]:
        return self._threads()

    async def _threads(self) -> AsyncIterator[ThreadSummary]:
        # The server's file scan can list a thread once per rollout file (after a
        # rollback, say): each thread is yielded once.
        seen: set[str] = set()
        async for page in self.pages():
            for thread in page.threads:
                if thread.id not in seen:
                    seen.add(thread.id)
                    yield thread

    async def pages(self) -> AsyncIterator[ThreadPage]:
        """Each page in turn, following ``nextCursor``."""
        cursor = self._params.get("cursor")
        while True:
            params = dict(self._params)
            if cursor is not None:
                params["cursor"] = cursor
            result = await self._codex._request("thread/list", params)
            page = ThreadPage(
                threads=[
                    ThreadSummary.from_wire(raw, archived=self._archived)
                    for raw in result.get("data") or []
                ],
                next_cursor=result.get("nextCursor"),
                backwards_cursor=result.get("backwardsCursor"),
                raw=result,
            )
            yield page
            if not page.next_cursor or page.next_cursor == cursor:
                return
            cursor = page.next_cursor

    async def to_list(self, *, max_items: int | None = None) -> list[ThreadSummary]:
        """Collect the threads (at most ``max_items``) into a list."""
        threads: list[ThreadSummary] = []
        if max_items is not None and max_items <= 0:
            return threads
        async for thread in self:
            threads.append(thread)
            if max_items is not None and len(threads) >= max_items:
                break
        return threads


@dataclass(frozen=True)
class ModelInfo:
    """A model the server offers (``model/list``). ``id`` is the slug to pass as
    ``model=``; ``reasoning_efforts`` the efforts it supports."""

    id: str
    model: str
    display_name: str
    description: str
    hidden: bool
    is_default: bool
    default_reasoning_effort: str | None
    reasoning_efforts: list[str]
    input_modalities: list[str]
    raw: Json = field(repr=False, compare=False)

    @staticmethod
    def from_wire(raw: Json) -> ModelInfo:
        efforts = raw.get("supportedReasoningEfforts") or []
        return ModelInfo(
            id=str(raw.get("id", "")),
            model=str(raw.get("model") or raw.get("id") or ""),
            display_name=str(raw.get("displayName") or ""),
            description=str(raw.get("description") or ""),
            hidden=bool(raw.get("hidden")),
            is_default=bool(raw.get("isDefault")),
            default_reasoning_effort=raw.get("defaultReasoningEffort"),
            reasoning_efforts=[
                str(e.get("reasoningEffort")) for e in efforts if isinstance(e, dict)
            ],
            input_modalities=[str(m) for m in raw.get("inputModalities") or []],
            raw=raw,
        )


@dataclass(frozen=True)
class CommandResult:
    """How a command run by :meth:`AsyncCodex.exec_command` ended.

    A command stopped by its time limit reports exit code 124.
    """

    exit_code: int
    stdout: str
    stderr: str
    raw: Json = field(repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


# -- the mixin ----------------------------------------------------------------------


class ClientOpsMixin:
    """Methods of :class:`~codexkit.AsyncCodex` beyond threads and turns."""

    if TYPE_CHECKING:
        _fresh: dict[str, Json]

        async def _request(
            self, method: str, params: Any = None, *, timeout: float | None = None
        ) -> Any: ...

        def add_listener(self, listener: Callable[[Event], None]) -> Callable[[], None]: ...

    # -- stored threads -----------------------------------------------------------------

    def list_threads(
        self,
        *,
        page_size: int | None = None,
        archived: bool = False,
        cwd: PathLike | Sequence[PathLike] | None = None,
        model_providers: Sequence[str] | None = None,
        search: str | None = None,
        sort_key: str | None = None,
        sort_direction: str | None = None,
        source_kinds: Sequence[str] | None = None,
        parent_thread_id: str | None = None,
        state_db_only: bool = False,
        cursor: str | None = None,
        params: Json | None = None,
    ) -> AsyncThreadListing:
        """The stored threads, newest first, across pages::

            async for thread in codex.list_threads(cwd="/src/project"):
                print(thread.id, thread.title)

        ``archived=True`` lists only archived threads (the default lists only the
        others). ``cwd`` keeps threads started in that directory (or any of several);
        ``model_providers`` those of these providers; ``search`` those whose title
        contains the text. ``sort_key`` is ``"created_at"`` (default), ``"updated_at"`` or
        ``"recency_at"``; ``sort_direction`` ``"desc"`` (default) or ``"asc"``.
        ``source_kinds`` (``"cli"``, ``"vscode"``, ``"exec"``, ``"appServer"``,
        ``"subAgent"``, ...) defaults to the interactive sources. ``parent_thread_id``
        keeps the sub-agent threads of one thread. ``page_size`` is the number of threads
        per request; ``cursor`` starts from a page's ``next_cursor``. ``params`` adds raw
        ``thread/list`` fields.

        ``state_db_only=True`` reads codex's state database only, without scanning the
        session files to repair it: faster, and its cursors are exact. Without it, codex
        0.163.0 pages by ``created_at`` with one-second cursors, so a page boundary can
        skip threads created in the same second as the page's last one; use
        ``state_db_only=True`` or ``sort_key="updated_at"`` when that matters.
        """
        cwd_filter: str | list[str] | None
        if cwd is None:
            cwd_filter = None
        elif isinstance(cwd, (str, os.PathLike)):
            cwd_filter = os.fspath(cwd)
        else:
            cwd_filter = [os.fspath(path) for path in cwd]
        wire: Json = {}
        _put(
            wire,
            limit=page_size,
            archived=True if archived else None,
            cwd=cwd_filter,
            modelProviders=list(model_providers) if model_providers is not None else None,
            searchTerm=search,
            sortKey=sort_key,
            sortDirection=sort_direction,
            sourceKinds=list(source_kinds) if source_kinds is not None else None,
            parentThreadId=parent_thread_id,
            useStateDbOnly=True if state_db_only else None,
            cursor=cursor,
        )
        wire.update(params or {})
        return AsyncThreadListing(self, wire, archived=bool(wire.get("archived")))

    async def read_thread(self, thread_id: str, *, include_turns: bool = True) -> Json:
        """A stored thread by id, raw (``thread/read``), with its turns unless
        ``include_turns=False``. Works for threads not loaded in this server too, and for
        a thread started here that has had no turn yet (``turns`` is then empty)."""
        params = {"threadId": thread_id, "includeTurns": include_turns}
        try:
            result = await self._request("thread/read", params)
        except RpcError:
            # The runtime cannot list the turns of a thread before its first one.
            if not include_turns or thread_id not in self._fresh:
                raise
            result = await self._request("thread/read", {**params, "includeTurns": False})
        return dict(result["thread"])

    # -- models -------------------------------------------------------------------------

    async def models(self, *, include_hidden: bool = False) -> list[ModelInfo]:
        """The models the server offers for selection (every page of ``model/list``).
        This is codex's built-in catalogue, whichever ``model_provider`` is configured."""
        models: list[ModelInfo] = []
        cursor: str | None = None
        while True:
            params: Json = {"includeHidden": include_hidden}
            if cursor is not None:
                params["cursor"] = cursor
            result = await self._request("model/list", params)
            models.extend(ModelInfo.from_wire(raw) for raw in result.get("data") or [])
            next_cursor = result.get("nextCursor")
            if not next_cursor or next_cursor == cursor:
                return models
            cursor = next_cursor

    # -- commands -----------------------------------------------------------------------

    async def exec_command(
        self,
        command: Sequence[str],
        *,
        cwd: PathLike | None = None,
        timeout: float | None = None,
        env: Mapping[str, str | None] | None = None,
        sandbox_policy: str | Mapping[str, Any] | None = None,
        permission_profile: str | None = None,
        output_bytes_cap: int | None = None,
        on_output: OutputCallback | None = None,
        params: Json | None = None,
    ) -> CommandResult:
        """Run one command (an argv list, no shell) in codex's sandbox, without a thread,
        and return its exit code and output (``command/exec``)::

            result = await codex.exec_command(["git", "status", "--short"], cwd=repo)

        ``cwd`` defaults to the server's directory. ``timeout`` is in seconds (codex's
        default is 10 s); the command is then killed and reports exit code 124. ``env``
        is merged over the server's environment (``None`` unsets a variable).
        ``sandbox_policy`` is ``"read-only"``, ``"workspace-write"``,
        ``"danger-full-access"`` or a raw ``SandboxPolicy`` dict; by default the
        configured sandbox applies. ``on_output(stream, chunk)`` receives the output as it
        arrives (``stream`` is ``"stdout"`` or ``"stderr"``); the result still holds all
        of it. ``output_bytes_cap`` limits the bytes kept per stream.
        """
        argv = [os.fspath(arg) for arg in command]
        if not argv:
            raise ValueError("exec_command needs a non-empty argv list")
        wire: Json = {"command": argv}
        _put(
            wire,
            cwd=os.fspath(cwd) if cwd is not None else None,
            timeoutMs=round(timeout * 1000) if timeout is not None else None,
            env=dict(env) if env is not None else None,
            sandboxPolicy=_sandbox_policy(sandbox_policy),
            permissionProfile=permission_profile,
            outputBytesCap=output_bytes_cap,
        )
        wire.update(params or {})
        # The server enforces `timeout`; give its answer some slack to arrive.
        rpc_timeout = timeout + 30.0 if timeout is not None else None
        if on_output is None:
            result = await self._request("command/exec", wire, timeout=rpc_timeout)
            return _command_result(result, b"", b"")
        return await self._exec_streaming(wire, on_output, rpc_timeout)

    async def _exec_streaming(
        self, wire: Json, on_output: OutputCallback, rpc_timeout: float | None
    ) -> CommandResult:
        process_id = f"codexkit-{uuid.uuid4().hex}"
        wire = {**wire, "processId": process_id, "streamStdoutStderr": True}
        chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}

        def on_event(event: Event) -> None:
            params = event.params
            if event.method != "command/exec/outputDelta" or params.get("processId") != process_id:
                return
            stream = str(params.get("stream", "stdout"))
            chunk = base64.b64decode(params.get("deltaBase64") or "")
            chunks.setdefault(stream, []).append(chunk)
            on_output(stream, chunk)

        # Every delta precedes the answer, and the listener is in place before we ask.
        remove = self.add_listener(on_event)
        try:
            result = await self._request("command/exec", wire, timeout=rpc_timeout)
        finally:
            remove()
        return _command_result(result, b"".join(chunks["stdout"]), b"".join(chunks["stderr"]))

    # -- account and settings -----------------------------------------------------------

    @property
    def account(self) -> AsyncAccount:
        """Sign-in state and credentials: see :class:`AsyncAccount`."""
        return AsyncAccount(self)

    @property
    def settings(self) -> AsyncSettings:
        """Codex's configuration files: see :class:`AsyncSettings`."""
        return AsyncSettings(self)


def _sandbox_policy(value: str | Mapping[str, Any] | None) -> Json | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {"type": _SANDBOXES.get(value, value)}
    return dict(value)


def _command_result(result: Json, streamed_out: bytes, streamed_err: bytes) -> CommandResult:
    stdout = streamed_out.decode("utf-8", "replace") + str(result.get("stdout") or "")
    stderr = streamed_err.decode("utf-8", "replace") + str(result.get("stderr") or "")
    return CommandResult(
        exit_code=int(result.get("exitCode", -1)), stdout=stdout, stderr=stderr, raw=result
    )


def _put(wire: Json, **values: Any) -> None:
    for key, value in values.items():
        if value is not None:
            wire[key] = value
