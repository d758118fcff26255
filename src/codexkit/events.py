"""Typed turn events: a friendly layer over the app-server's notifications.

Each event keeps ``raw``, the whole notification. Notifications without a friendly type
(including methods newer than this codexkit) arrive as :class:`Notification`, raw; one of
a known method whose payload has an unexpected shape as :class:`MalformedEvent` (logged).
Events are slotted dataclasses, built by the hundred thousand a second on a busy turn;
treat them as read-only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import error_object
from .types import Item, TokenUsage, UnknownItem, parse_item

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = [
    "AgentMessageDelta",
    "CommandOutputDelta",
    "DiffUpdated",
    "Event",
    "FileChangeOutputDelta",
    "ItemCompleted",
    "ItemStarted",
    "MalformedEvent",
    "McpServerStartupUpdated",
    "McpToolCallProgress",
    "Notification",
    "PlanStep",
    "PlanUpdated",
    "ReasoningDelta",
    "StreamError",
    "TokenUsageUpdated",
    "TurnCompleted",
    "TurnFailed",
    "TurnStarted",
    "parse_event",
]

Json = dict[str, Any]

_log = logging.getLogger("codexkit")


@dataclass(slots=True)
class Event:
    """Base of every event: the notification ``method`` and its ``raw`` message."""

    method: str
    thread_id: str | None
    turn_id: str | None
    raw: Json = field(repr=False, compare=False)

    @property
    def params(self) -> Json:
        params = self.raw.get("params")
        return params if isinstance(params, dict) else {}

    def model(self) -> BaseModel | None:
        """The notification as its generated protocol model (validated now, on demand),
        or ``None`` for a method the pinned protocol does not know."""
        from .protocol import parse_notification

        return parse_notification(self.method, self.params)


@dataclass(slots=True)
class Notification(Event):
    """A notification with no friendly type (for example one newer than this codexkit)."""


@dataclass(slots=True)
class MalformedEvent(Notification):
    """A notification of a known method whose payload codexkit could not read (an item
    of the wrong type, a missing field). ``error`` says what was wrong; ``raw`` has it
    all. The stream goes on after it."""

    error: str


@dataclass(slots=True)
class AgentMessageDelta(Event):
    item_id: str
    delta: str


@dataclass(slots=True)
class ReasoningDelta(Event):
    """A piece of reasoning text; ``summary`` tells a summary delta from a raw one."""

    item_id: str
    delta: str
    summary: bool


@dataclass(slots=True)
class CommandOutputDelta(Event):
    item_id: str
    delta: str


@dataclass(slots=True)
class FileChangeOutputDelta(Event):
    item_id: str
    delta: str


@dataclass(slots=True)
class McpToolCallProgress(Event):
    """An MCP tool in flight reports progress (also kept in its item's ``progress``)."""

    item_id: str
    message: str


@dataclass(slots=True)
class McpServerStartupUpdated(Event):
    """An MCP server of a thread changed start-up state: ``"starting"``, ``"ready"``,
    ``"failed"`` (``error`` says why) or ``"cancelled"``. In the stream of the turn
    that waits for them; otherwise at the client's listeners
    (:meth:`AsyncCodex.add_listener`)."""

    server: str
    status: str
    error: str | None


@dataclass(slots=True)
class ItemStarted(Event):
    item: Item


@dataclass(slots=True)
class ItemCompleted(Event):
    item: Item


@dataclass(frozen=True)
class PlanStep:
    step: str
    status: str


@dataclass(slots=True)
class PlanUpdated(Event):
    explanation: str | None
    plan: list[PlanStep]


@dataclass(slots=True)
class DiffUpdated(Event):
    diff: str


@dataclass(slots=True)
class TokenUsageUpdated(Event):
    usage: TokenUsage


@dataclass(slots=True)
class TurnStarted(Event):
    turn: Json


@dataclass(slots=True)
class TurnCompleted(Event):
    """The turn ended with status ``completed`` or ``interrupted``."""

    status: str
    turn: Json


@dataclass(slots=True)
class TurnFailed(Event):
    """The turn ended with status ``failed``; ``error`` is the codex error object."""

    error: Json
    turn: Json


@dataclass(slots=True)
class StreamError(Event):
    """An ``error`` notification; with ``will_retry`` codex is retrying on its own."""

    message: str
    will_retry: bool
    error: Json


def _delta(cls: type[Event]) -> Callable[..., Event]:
    def build(method: str, tid: str | None, uid: str | None, p: Json, raw: Json) -> Event:
        return cls(method, tid, uid, raw, str(p.get("itemId", "")), str(p.get("delta", "")))  # type: ignore[call-arg]

    return build


def _reasoning(summary: bool) -> Callable[..., Event]:
    def build(method: str, tid: str | None, uid: str | None, p: Json, raw: Json) -> Event:
        return ReasoningDelta(
            method, tid, uid, raw, str(p.get("itemId", "")), str(p.get("delta", "")), summary
        )

    return build


def _item(cls: type[ItemStarted] | type[ItemCompleted]) -> Callable[..., Event]:
    def build(method: str, tid: str | None, uid: str | None, p: Json, raw: Json) -> Event:
        item = p.get("item")
        if not isinstance(item, dict):
            raise TypeError(f"its item is {type(item).__name__}, not an object")
        parsed = parse_item(item)
        # parse_item keeps both an item of a type it does not know and one of a type it
        # knows but of the wrong shape as UnknownItem; only the second is malformed.
        if isinstance(parsed, UnknownItem) and not isinstance(
            parse_item({"type": parsed.type}), UnknownItem
        ):
            raise ValueError(f"its {parsed.type} item has an unexpected shape")
        return cls(method, tid, uid, raw, parsed)

    return build


def _plan(method: str, tid: str | None, uid: str | None, p: Json, raw: Json) -> Event:
    steps = [
        PlanStep(str(s.get("step", "")), str(s.get("status", ""))) for s in p.get("plan") or []
    ]
    return PlanUpdated(method, tid, uid, raw, p.get("explanation"), steps)


def _diff(method: str, tid: str | None, uid: str | None, p: Json, raw: Json) -> Event:
    return DiffUpdated(method, tid, uid, raw, str(p.get("diff", "")))


def _usage(method: str, tid: str | None, uid: str | None, p: Json, raw: Json) -> Event:
    return TokenUsageUpdated(method, tid, uid, raw, TokenUsage.from_wire(p.get("tokenUsage") or {}))


def _turn_started(method: str, tid: str | None, uid: str | None, p: Json, raw: Json) -> Event:
    turn = p.get("turn") or {}
    return TurnStarted(method, tid, uid or turn.get("id"), raw, turn)


def _turn_completed(method: str, tid: str | None, uid: str | None, p: Json, raw: Json) -> Event:
    turn = p.get("turn")
    if not isinstance(turn, dict):
        raise TypeError(f"its turn is {type(turn).__name__}, not an object")
    status = turn.get("status")
    if not isinstance(status, str) or not status:
        raise ValueError(f"its turn has no status (a {type(status).__name__})")
    uid = uid or turn.get("id")
    if status == "failed":
        return TurnFailed(method, tid, uid, raw, error_object(turn.get("error")) or {}, turn)
    return TurnCompleted(method, tid, uid, raw, status, turn)


def _mcp_progress(method: str, tid: str | None, uid: str | None, p: Json, raw: Json) -> Event:
    return McpToolCallProgress(method, tid, uid, raw, str(p["itemId"]), str(p.get("message", "")))


def _mcp_startup(method: str, tid: str | None, uid: str | None, p: Json, raw: Json) -> Event:
    return McpServerStartupUpdated(
        method, tid, uid, raw, str(p["name"]), str(p.get("status", "")), p.get("error")
    )


def _error(method: str, tid: str | None, uid: str | None, p: Json, raw: Json) -> Event:
    error = error_object(p.get("error")) or {}
    return StreamError(
        method, tid, uid, raw, str(error.get("message", "")), bool(p.get("willRetry")), error
    )


_BUILDERS: dict[str, Callable[..., Event]] = {
    "item/agentMessage/delta": _delta(AgentMessageDelta),
    "item/commandExecution/outputDelta": _delta(CommandOutputDelta),
    "item/fileChange/outputDelta": _delta(FileChangeOutputDelta),
    "item/reasoning/textDelta": _reasoning(summary=False),
    "item/reasoning/summaryTextDelta": _reasoning(summary=True),
    "item/started": _item(ItemStarted),
    "item/completed": _item(ItemCompleted),
    "turn/plan/updated": _plan,
    "turn/diff/updated": _diff,
    "thread/tokenUsage/updated": _usage,
    "turn/started": _turn_started,
    "turn/completed": _turn_completed,
    "item/mcpToolCall/progress": _mcp_progress,
    "mcpServer/startupStatus/updated": _mcp_startup,
    "error": _error,
}


def parse_event(method: str, params: Json, raw: Json) -> Event:
    """Build the typed event for one notification. Never raises on odd payloads: those
    give a :class:`MalformedEvent`."""
    tid, uid = params.get("threadId"), params.get("turnId")
    build = _BUILDERS.get(method)
    if build is None:
        return Notification(method, tid, uid, raw)
    try:
        return build(method, tid, uid, params, raw)
    except Exception as exc:  # any shape we did not expect stays available, raw
        error = f"{type(exc).__name__}: {exc}"
        _log.warning("a %s notification codexkit cannot read (%s)", method, error)
        return MalformedEvent(method, tid, uid, raw, error)
