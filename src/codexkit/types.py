"""Public value types: turn inputs, items, events, usage and results.

They are light frozen dataclasses built straight from the app-server's JSON, each keeping
the ``raw`` dict it came from, so nothing the server sends is ever lost and a field the
schema adds later is one ``raw[...]`` away. The complete generated protocol models live in
:mod:`codexkit.protocol`.
"""

from __future__ import annotations

import base64
import functools
import os
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidArgumentError, InvalidInputError

__all__ = [
    "AgentMessageItem",
    "CommandExecutionItem",
    "DynamicToolCallItem",
    "FileChange",
    "FileChangeItem",
    "ImageInput",
    "Input",
    "InputLike",
    "Item",
    "LocalImageInput",
    "McpToolCallItem",
    "PlanItem",
    "ReasoningItem",
    "ServerInfo",
    "TextInput",
    "TokenUsage",
    "TurnResult",
    "UnknownItem",
    "UserMessageItem",
    "WebSearchItem",
    "normalize_input",
    "parse_item",
    "unwrap_shell",
]

Json = dict[str, Any]

# -- inputs -------------------------------------------------------------------------


@dataclass(frozen=True)
class TextInput:
    """Plain text for the agent."""

    text: str

    def to_wire(self) -> Json:
        return {"type": "text", "text": self.text, "text_elements": []}


@dataclass(frozen=True)
class ImageInput:
    """An image by URL. The pinned runtime takes ``data:`` URLs (see :meth:`from_bytes`)
    and refuses remote ``https://`` ones with an ``InvalidRequestError``."""

    url: str
    detail: str | None = None

    @classmethod
    def from_bytes(
        cls, data: bytes, *, mime: str = "image/png", detail: str | None = None
    ) -> ImageInput:
        """An image from its bytes, as an inline ``data:`` URL."""
        encoded = base64.b64encode(data).decode("ascii")
        return cls(f"data:{mime};base64,{encoded}", detail)

    def to_wire(self) -> Json:
        return _with_detail({"type": "image", "url": self.url}, self.detail)


@dataclass(frozen=True)
class LocalImageInput:
    """An image file on this machine; codex reads and attaches it."""

    path: str | os.PathLike[str]
    detail: str | None = None

    def to_wire(self) -> Json:
        path = os.path.abspath(os.fspath(self.path))
        return _with_detail({"type": "localImage", "path": path}, self.detail)


def _with_detail(wire: Json, detail: str | None) -> Json:
    if detail is not None:
        wire["detail"] = detail
    return wire


Input = TextInput | ImageInput | LocalImageInput
InputLike = str | Input | Mapping[str, Any] | Sequence[str | Input | Mapping[str, Any]]


def normalize_input(value: InputLike) -> list[Json]:
    """Turn a prompt, one input or a list of them into the wire form of ``turn/start``.

    An input is a string, a :class:`TextInput`, :class:`ImageInput` or
    :class:`LocalImageInput`, or a protocol ``UserInput`` dict (``{"type": "text",
    "text": ...}``, ``"image"``, ``"localImage"``, ``"skill"``, ``"mention"``, ...),
    checked against the pinned protocol. Anything else raises
    :class:`~codexkit.InvalidInputError` (a ``TypeError``); no input at all,
    :class:`~codexkit.InvalidArgumentError`.
    """
    if isinstance(value, (str, Mapping, *_INPUT_TYPES)):
        parts: Sequence[Any] = [value]
    elif isinstance(value, (list, tuple)):
        parts = value
    else:
        raise InvalidInputError(f"a turn input must be {_INPUT_KINDS}, not {type(value).__name__}")
    wire = [_wire_part(part) for part in parts]
    if not wire:
        raise InvalidArgumentError("a turn needs at least one input")
    return wire


_INPUT_TYPES = (TextInput, ImageInput, LocalImageInput)
_INPUT_KINDS = (
    "a string, a TextInput, ImageInput or LocalImageInput, a UserInput dict, or a list of them"
)


def _wire_part(part: Any) -> Json:
    if isinstance(part, str):
        return TextInput(part).to_wire()
    if isinstance(part, _INPUT_TYPES):
        return part.to_wire()
    if isinstance(part, Mapping):
        return _user_input(part)
    raise InvalidInputError(f"each turn input must be {_INPUT_KINDS}, not {type(part).__name__}")


def _user_input(part: Mapping[str, Any]) -> Json:
    """A ``UserInput`` dict, sent as given once the pinned protocol's model accepts it."""
    from pydantic import ValidationError

    wire = dict(part)
    kind = wire.get("type")
    adapter, kinds = _user_input_model()
    if kind not in kinds:
        raise InvalidInputError(
            f"a turn input dict (a protocol UserInput) needs a 'type' among "
            f"{', '.join(kinds)}; got {kind!r}"
        )
    try:
        adapter.validate_python(wire)
    except ValidationError as exc:
        raise InvalidInputError(
            f"the {kind!r} turn input does not match the protocol: {exc}"
        ) from None
    # The protocol's image input takes a `url` or a `fileId`; the generated model has neither.
    if kind == "image" and not any(isinstance(wire.get(key), str) for key in ("url", "fileId")):
        raise InvalidInputError("an 'image' turn input needs a 'url' (or a 'fileId')")
    return wire


@functools.lru_cache(maxsize=1)
def _user_input_model() -> tuple[Any, tuple[str, ...]]:
    """A validator for the protocol's ``UserInput`` union, and the input types it knows."""
    from pydantic import TypeAdapter

    from .protocol import load_model

    union = load_model("UserInput")
    members = typing.get_args(typing.get_args(union)[0])  # Annotated[Union[...], ...]
    tags = [getattr(meta, "tag", None) for member in members for meta in member.__metadata__]
    kinds = tuple(tag for tag in tags if isinstance(tag, str) and not tag.startswith("__"))
    return TypeAdapter(union), kinds


# -- items --------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """Something that happened in a turn. ``type`` is the wire type, ``raw`` the JSON."""

    id: str
    type: str
    raw: Json = field(repr=False, compare=False)


@dataclass(frozen=True)
class UserMessageItem(Item):
    content: list[Json]

    @property
    def text(self) -> str:
        return "".join(part.get("text", "") for part in self.content if part.get("type") == "text")


@dataclass(frozen=True)
class AgentMessageItem(Item):
    text: str
    phase: str | None


@dataclass(frozen=True)
class ReasoningItem(Item):
    summary: list[str]
    content: list[str]


@dataclass(frozen=True)
class PlanItem(Item):
    text: str


@dataclass(frozen=True)
class CommandExecutionItem(Item):
    command: str
    cwd: str | None
    status: str
    exit_code: int | None
    aggregated_output: str | None
    duration_ms: int | None

    @property
    def display_command(self) -> str:
        """The command as the agent wrote it, without the ``bash -lc '…'`` codex adds."""
        return unwrap_shell(self.command)


@dataclass(frozen=True)
class FileChange:
    """One file of a change: ``kind`` is ``add``, ``delete`` or ``update`` (a move when
    ``move_path`` is set); ``diff`` is a unified diff, or the content of an added or
    deleted file."""

    path: str
    kind: str
    diff: str
    move_path: str | None = None


@dataclass(frozen=True)
class FileChangeItem(Item):
    changes: list[FileChange]
    status: str


@dataclass(frozen=True)
class McpToolCallItem(Item):
    """A call of an MCP server's tool. ``result`` is the tool's answer as the runtime
    reports it (``{"content": [...], "structuredContent": ...}``), ``error`` its
    failure (``{"message": ...}``: a failed call, a declined approval); ``progress``
    the progress messages the tool sent while it ran."""

    server: str
    tool: str
    arguments: Any
    status: str
    result: Any
    error: Any
    duration_ms: int | None = None
    progress: tuple[str, ...] = ()


@dataclass(frozen=True)
class DynamicToolCallItem(Item):
    tool: str
    arguments: Any
    status: str
    success: bool | None
    content_items: list[Json] | None


@dataclass(frozen=True)
class WebSearchItem(Item):
    query: str


@dataclass(frozen=True)
class UnknownItem(Item):
    """An item type this version of codexkit does not model; read ``raw``."""


def _file_change(change: Any) -> FileChange:
    kind = change.get("kind")
    move_path = None
    if isinstance(kind, dict):  # {"type": "update", "move_path": ...}
        move_path = kind.get("move_path")
        kind = kind.get("type", "")
    return FileChange(
        str(change.get("path", "")), str(kind or ""), str(change.get("diff", "")), move_path
    )


_SHELL_WRAPPER = re.compile(
    r"^(?:/\S*/)?(?:bash|sh|zsh) -l?c (?P<q>['\"])(?P<body>.*)(?P=q)$", re.S
)


def unwrap_shell(command: str) -> str:
    """``/bin/bash -lc 'ls -la'`` → ``ls -la``: a command without the shell codex runs
    it in (other commands come back stripped, unchanged)."""
    match = _SHELL_WRAPPER.match(command.strip())
    return match.group("body").strip() if match else command.strip()


def parse_item(raw: Json) -> Item:
    """Build the typed item for a ``ThreadItem`` JSON object (never raises)."""
    kind = raw.get("type")
    base = (str(raw.get("id", "")), str(kind), raw)
    try:
        if kind == "agentMessage":
            return AgentMessageItem(*base, text=raw.get("text") or "", phase=raw.get("phase"))
        if kind == "userMessage":
            return UserMessageItem(*base, content=list(raw.get("content") or []))
        if kind == "reasoning":
            return ReasoningItem(
                *base,
                summary=list(raw.get("summary") or []),
                content=list(raw.get("content") or []),
            )
        if kind == "plan":
            return PlanItem(*base, text=raw.get("text") or "")
        if kind == "commandExecution":
            return CommandExecutionItem(
                *base,
                command=raw.get("command") or "",
                cwd=raw.get("cwd"),
                status=str(raw.get("status", "")),
                exit_code=raw.get("exitCode"),
                aggregated_output=raw.get("aggregatedOutput"),
                duration_ms=raw.get("durationMs"),
            )
        if kind == "fileChange":
            changes = [_file_change(c) for c in raw.get("changes") or []]
            return FileChangeItem(*base, changes=changes, status=str(raw.get("status", "")))
        if kind == "mcpToolCall":
            return McpToolCallItem(
                *base,
                server=str(raw.get("server", "")),
                tool=str(raw.get("tool", "")),
                arguments=raw.get("arguments"),
                status=str(raw.get("status", "")),
                result=raw.get("result"),
                error=raw.get("error"),
                duration_ms=raw.get("durationMs"),
            )
        if kind == "dynamicToolCall":
            return DynamicToolCallItem(
                *base,
                tool=str(raw.get("tool", "")),
                arguments=raw.get("arguments"),
                status=str(raw.get("status", "")),
                success=raw.get("success"),
                content_items=raw.get("contentItems"),
            )
        if kind == "webSearch":
            return WebSearchItem(*base, query=str(raw.get("query", "")))
    except (AttributeError, TypeError):  # a shape we did not expect: keep it raw
        pass
    return UnknownItem(*base)


# -- usage, server info and results -------------------------------------------------


@dataclass(frozen=True)
class TokenUsage:
    """Token counts: ``last`` is the latest model call, ``total`` the whole thread."""

    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int
    total_tokens: int
    thread_total_tokens: int
    model_context_window: int | None
    raw: Json = field(repr=False, compare=False)

    @staticmethod
    def from_wire(raw: Json) -> TokenUsage:
        """The usage of a ``thread/tokenUsage/updated``; a count that is missing or not
        an integer (``Infinity``, a string) reads as 0 (``None`` for the window)."""
        last = raw.get("last") or {}
        total = raw.get("total") or {}
        window = raw.get("modelContextWindow")
        return TokenUsage(
            input_tokens=token_count(last.get("inputTokens")),
            cached_input_tokens=token_count(last.get("cachedInputTokens")),
            output_tokens=token_count(last.get("outputTokens")),
            reasoning_output_tokens=token_count(last.get("reasoningOutputTokens")),
            total_tokens=token_count(last.get("totalTokens")),
            thread_total_tokens=token_count(total.get("totalTokens")),
            model_context_window=window if _is_count(window) else None,
            raw=raw,
        )


def token_count(value: Any) -> int:
    """A token count from the wire: the integer, or 0 for anything else (missing, a
    float such as ``Infinity``, a string): a count never raises."""
    return value if _is_count(value) else 0


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ServerInfo:
    """What ``initialize`` told us about the app-server."""

    name: str
    version: str | None
    user_agent: str
    codex_home: str | None
    platform_os: str | None
    raw: Json = field(repr=False, compare=False)


@dataclass(frozen=True)
class TurnResult:
    """Everything a finished turn produced."""

    thread_id: str
    turn_id: str
    status: str
    final_response: str | None
    items: list[Item]
    usage: TokenUsage | None
    error: Json | None
    duration_ms: int | None
    output: Any = None

    @property
    def agent_messages(self) -> list[AgentMessageItem]:
        return [item for item in self.items if isinstance(item, AgentMessageItem)]

    @property
    def commands(self) -> list[CommandExecutionItem]:
        return [item for item in self.items if isinstance(item, CommandExecutionItem)]

    @property
    def file_changes(self) -> list[FileChangeItem]:
        return [item for item in self.items if isinstance(item, FileChangeItem)]
