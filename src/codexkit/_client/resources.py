"""What the server-wide methods of :class:`~codexkit.AsyncCodex` return (stored threads,
pages of them, models, command results) and the requests behind them."""

from __future__ import annotations

import base64
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable, Container, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError, RpcError

if TYPE_CHECKING:
    from ..events import Event
    from ..protocol import ClientMethod
    from .router import Router

__all__ = [
    "AsyncThreadListing",
    "CommandResult",
    "ModelInfo",
    "ThreadPage",
    "ThreadSummary",
    "fetch_models",
    "put",
    "read_thread",
    "run_command",
    "sandbox_policy_wire",
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

    def __init__(self, router: Router, params: Json, *, archived: bool) -> None:
        self._router = router
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
            result = await self._router.request("thread/list", params)
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


# -- the requests behind AsyncCodex's methods ------------------------------------------


# How the runtime refuses to read a thread it has not loaded: "thread not loaded: ID".
_NOT_LOADED = "thread not loaded"


async def read_thread(
    router: Router, thread_id: str, include_turns: bool, fresh: Container[str]
) -> Json:
    """``thread/read`` of a stored thread, loaded here or not (see below), or of one in
    ``fresh``: started here with no turn yet, whose turns the runtime cannot list."""
    params = {"threadId": thread_id, "includeTurns": include_turns}
    try:
        result = await router.request("thread/read", params)
    except RpcError as exc:
        if isinstance(exc, InvalidRequestError) and exc.message.startswith(_NOT_LOADED):
            result = await _read_by_resuming(router, thread_id, params, exc)
        elif include_turns and thread_id in fresh:
            result = await router.request("thread/read", {**params, "includeTurns": False})
        else:
            raise
    return dict(result["thread"])


async def _read_by_resuming(router: Router, thread_id: str, params: Json, refused: RpcError) -> Any:
    """Read a stored thread that the runtime reads only once it is loaded (codex
    0.169.0 answered "thread not loaded" for a thread no client had resumed): load it
    with ``thread/resume``, read it, and unload it again. A thread that cannot be
    resumed either (deleted, or never run) raises the read's own error."""
    try:
        await router.request("thread/resume", {"threadId": thread_id})
    except RpcError:
        raise refused from None
    try:
        return await router.request("thread/read", params)
    finally:
        with contextlib.suppress(RpcError):
            await router.request("thread/unsubscribe", {"threadId": thread_id})


async def every_page(router: Router, method: ClientMethod, params: Json) -> list[Json]:
    """The ``data`` of every page of a listing ``method``, following ``nextCursor`` (a
    cursor that does not move ends it: a server that repeats one never loops us)."""
    entries: list[Json] = []
    cursor: str | None = None
    while True:
        page = params if cursor is None else {**params, "cursor": cursor}
        result = await router.request(method, page)
        entries.extend(result.get("data") or [])
        next_cursor = result.get("nextCursor")
        if not next_cursor or next_cursor == cursor:
            return entries
        cursor = next_cursor


async def fetch_models(router: Router, include_hidden: bool) -> list[ModelInfo]:
    """Every page of ``model/list``."""
    entries = await every_page(router, "model/list", {"includeHidden": include_hidden})
    return [ModelInfo.from_wire(raw) for raw in entries]


async def run_command(
    router: Router, wire: Json, on_output: OutputCallback | None, rpc_timeout: float | None
) -> CommandResult:
    """``command/exec``, its output streamed to ``on_output`` as it comes if given."""
    if on_output is None:
        result = await router.request("command/exec", wire, timeout=rpc_timeout)
        return _command_result(result, b"", b"")
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
    remove = router.add_listener(on_event)
    try:
        result = await router.request("command/exec", wire, timeout=rpc_timeout)
    finally:
        remove()
    return _command_result(result, b"".join(chunks["stdout"]), b"".join(chunks["stderr"]))


def sandbox_policy_wire(value: str | Mapping[str, Any] | None) -> Json | None:
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


def put(wire: Json, **values: Any) -> None:
    """Set the ``values`` that are not ``None`` on ``wire`` (codex's defaults apply to
    the fields left out)."""
    for key, value in values.items():
        if value is not None:
            wire[key] = value
