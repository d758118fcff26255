"""Public value types: turn inputs, items, events, usage and results.

They are light frozen dataclasses built straight from the app-server's JSON, each keeping
the ``raw`` dict it came from, so nothing the server sends is ever lost and a field the
schema adds later is one ``raw[...]`` away. The complete generated protocol models live in
:mod:`codexkit.protocol`.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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
InputLike = str | Input | Sequence[str | Input]


def normalize_input(value: InputLike) -> list[Json]:
    """Turn a prompt, one input or a list of them into the wire form of ``turn/start``."""
    parts: Sequence[str | Input] = [value] if isinstance(value, (str, *_INPUT_TYPES)) else value
    wire: list[Json] = []
    for part in parts:
        if isinstance(part, str):
            wire.append(TextInput(part).to_wire())
        elif isinstance(part, _INPUT_TYPES):
            wire.append(part.to_wire())
        else:
            raise TypeError(
                f"turn input must be str, TextInput, ImageInput or LocalImageInput, "
                f"not {type(part).__name__}"
            )
    if not wire:
        raise ValueError("a turn needs at least one input")
    return wire


_INPUT_TYPES = (TextInput, ImageInput, LocalImageInput)

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
    server: str
    tool: str
    arguments: Any
    status: str
    result: Any
    error: Any


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
        last = raw.get("last") or {}
        total = raw.get("total") or {}
        return TokenUsage(
            input_tokens=int(last.get("inputTokens", 0)),
            cached_input_tokens=int(last.get("cachedInputTokens", 0)),
            output_tokens=int(last.get("outputTokens", 0)),
            reasoning_output_tokens=int(last.get("reasoningOutputTokens", 0)),
            total_tokens=int(last.get("totalTokens", 0)),
            thread_total_tokens=int(total.get("totalTokens", 0)),
            model_context_window=raw.get("modelContextWindow"),
            raw=raw,
        )


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
