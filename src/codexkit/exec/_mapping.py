"""``codex exec --json`` events onto the event and item types of the app-server client.

codex builds its exec events out of app-server notifications, so each maps back to the
type the app-server client gives the notification it came from, one line to one event:

==========================  ==============================================================
exec event                  event (``method`` is the exec type, ``raw`` the exec object)
==========================  ==============================================================
``thread.started``          ``Notification`` (``thread_id`` set)
``turn.started``            ``TurnStarted``
``item.started``            ``ItemStarted``
``item.completed``          ``ItemCompleted``
``item.updated``            ``Notification`` (an in-progress item changed; read ``raw``)
``todo_list`` item          ``PlanUpdated`` (app-server: ``turn/plan/updated``)
``error`` item              ``Notification`` (a warning, e.g. unknown model metadata)
``turn.completed``          ``TurnCompleted`` (its ``turn["usage"]`` is exec's ``usage``)
``turn.failed``             ``TurnFailed``
``error``                   ``StreamError`` (``will_retry`` is unknown: ``False``)
anything else               ``Notification``
==========================  ==============================================================

Item types and statuses take the app-server's spelling (``command_execution`` becomes
``commandExecution``, ``in_progress`` becomes ``inProgress``), so code written against
:class:`~codexkit.AsyncCodex` reads them unchanged; each item's ``raw`` is exec's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import error_object
from ..events import (
    Event,
    ItemCompleted,
    ItemStarted,
    Notification,
    PlanStep,
    PlanUpdated,
    StreamError,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)
from ..types import Item, TokenUsage, parse_item, token_count

__all__ = ["exec_event", "exec_item", "exec_usage"]

Json = dict[str, Any]


def exec_event(raw: Json, thread_id: str | None, turn_id: str) -> Event:
    """The event for one exec JSON object (never raises on odd shapes)."""
    kind = str(raw.get("type", ""))
    try:
        return _event(kind, raw, thread_id, turn_id)
    except (AttributeError, TypeError, ValueError):  # an unexpected shape stays raw
        return Notification(kind, thread_id, turn_id, raw)


def _event(kind: str, raw: Json, tid: str | None, uid: str) -> Event:
    if kind == "thread.started":
        return Notification(kind, raw.get("thread_id") or tid, None, raw)
    if kind == "turn.started":
        return TurnStarted(kind, tid, uid, raw, {"id": uid, "status": "inProgress"})
    if kind in ("item.started", "item.updated", "item.completed"):
        return _item_event(kind, raw, tid, uid)
    if kind == "turn.completed":
        turn = {"id": uid, "status": "completed", "usage": dict(raw.get("usage") or {})}
        return TurnCompleted(kind, tid, uid, raw, "completed", turn)
    if kind == "turn.failed":
        error = dict(error_object(raw.get("error")) or {})
        failed = {"id": uid, "status": "failed", "error": error}
        return TurnFailed(kind, tid, uid, raw, error, failed)
    if kind == "error":
        message = str(raw.get("message", ""))
        return StreamError(kind, tid, uid, raw, message, False, {"message": message})
    return Notification(kind, tid, uid, raw)


def _item_event(kind: str, raw: Json, tid: str | None, uid: str) -> Event:
    item = raw.get("item")
    item = item if isinstance(item, dict) else {}
    if item.get("type") == "todo_list":
        steps = [
            PlanStep(str(step.get("text", "")), "completed" if step.get("completed") else "pending")
            for step in item.get("items") or []
        ]
        return PlanUpdated(kind, tid, uid, raw, None, steps)
    if kind == "item.updated" or item.get("type") == "error":
        return Notification(kind, tid, uid, raw)
    cls = ItemStarted if kind == "item.started" else ItemCompleted
    return cls(kind, tid, uid, raw, exec_item(item))


def exec_item(raw: Json) -> Item:
    """The typed item for an exec item object (never raises).

    exec's item is the app-server's ``ThreadItem`` in snake case, with fewer fields: it
    is spelled back and parsed by :func:`~codexkit.types.parse_item`, then keeps exec's
    object as ``raw``. exec keeps a reasoning item's summary only, as one ``text``."""
    wire = {_camel(key): value for key, value in raw.items()}
    wire["type"] = _camel(str(raw.get("type", "")))
    if isinstance(raw.get("status"), str):
        wire["status"] = _camel(raw["status"])
    if wire["type"] == "reasoning":
        wire["summary"] = [raw["text"]] if raw.get("text") else []
    return dataclasses.replace(parse_item(wire), raw=raw)


def exec_usage(raw: Json) -> TokenUsage:
    """exec's ``usage``: the thread's running totals (exec reports nothing per call).

    ``total_tokens`` is input plus output, as the Responses API counts it; exec leaves
    it out."""

    def count(key: str) -> int:
        return token_count(raw.get(key))

    total = count("input_tokens") + count("output_tokens")
    return TokenUsage(
        input_tokens=count("input_tokens"),
        cached_input_tokens=count("cached_input_tokens"),
        output_tokens=count("output_tokens"),
        reasoning_output_tokens=count("reasoning_output_tokens"),
        total_tokens=total,
        thread_total_tokens=total,
        model_context_window=None,
        raw=raw,
    )


def _camel(name: str) -> str:
    """``command_execution`` → ``commandExecution``: the app-server's spelling."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
