"""Rows as the contract shows them: session summaries, pending records, transcript."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ..store.models import ServerRequestRow, SessionRow, TranscriptEntry, TurnRow

__all__ = [
    "iso",
    "record_view",
    "session_summary",
    "transcript_view",
    "turn_view",
]

Json = dict[str, Any]


def iso(seconds: float) -> str:
    """Epoch seconds as an ISO 8601 UTC time (the contract's string times)."""
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def session_summary(row: SessionRow, controls: Json) -> Json:
    """``controls`` are the session's effective controls (with ``settings``)."""
    return {
        "sessionId": row.id,
        "title": row.title,
        "materialized": row.materialized,
        "modelProvider": row.model_provider,
        "approvalPolicy": controls["approvalPolicy"],
        "sessionControls": controls,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "cwd": row.cwd,
        "source": row.source,
        "projectId": row.project_id,
        "archived": row.archived,
        "systemOwned": row.system_owned,
    }


def turn_view(row: TurnRow, items: list[Json]) -> Json:
    view: Json = {"id": row.id, "status": row.status, "items": items, "startedAt": row.started_at}
    if row.completed_at is not None:
        view["completedAt"] = row.completed_at
    if row.error is not None:
        view["error"] = row.error
    return view


def transcript_view(row: TranscriptEntry) -> Json:
    view: Json = {
        "messageId": row.message_id,
        "turnId": row.turn_id,
        "role": row.role,
        "type": row.type,
        "content": row.content,
        "status": row.status,
        "details": row.details,
    }
    if row.started_at is not None:
        view["startedAt"] = int(row.started_at * 1000)
    if row.completed_at is not None:
        view["completedAt"] = int(row.completed_at * 1000)
    return view


def record_view(row: ServerRequestRow) -> Json:
    """An approval, tool-input request or tool call as its pending list shows it."""
    p = row.params
    common: Json = {
        "method": row.method,
        "threadId": row.session_id,
        "turnId": row.turn_id,
        "itemId": row.item_id,
        "summary": row.summary,
        "details": p,
        "createdAt": iso(row.created_at),
        "status": row.status,
    }
    if row.status != "pending":
        common["decision"] = row.decision
        common["actor"] = row.actor
        common["source"] = row.source
        common["resolvedAt"] = iso(row.resolved_at) if row.resolved_at else None
        common["expiryReason"] = row.expiry_reason
    if row.kind == "approval":
        return {"approvalId": row.id, **common}
    if row.kind == "tool_input":
        return {"requestId": row.id, **common, "questions": _questions(p.get("questions"))}
    return {
        "requestId": row.id,
        **common,
        "callId": p.get("callId"),
        "tool": str(p.get("tool", "")),
        "namespace": p.get("namespace"),
        "arguments": p.get("arguments"),
    }


def _questions(raw: Any) -> list[Json]:
    questions = []
    for q in raw if isinstance(raw, list) else []:
        if not isinstance(q, dict):
            continue
        options = q.get("options")
        questions.append(
            {
                "id": str(q.get("id", "")),
                "header": str(q.get("header", "")),
                "question": str(q.get("question", "")),
                "options": [
                    {"label": str(o.get("label", "")), "description": str(o.get("description", ""))}
                    for o in options
                    if isinstance(o, dict)
                ]
                if isinstance(options, list)
                else None,
                "isOther": bool(q.get("isOther")),
                "isSecret": bool(q.get("isSecret")),
            }
        )
    return questions


def summary_of(kind: str, method: str, params: Json) -> str:
    """A one-line description of what the agent asks."""
    if kind == "tool_input":
        questions = _questions(params.get("questions"))
        return questions[0]["question"] if questions else "the agent asks for input"
    if kind == "tool_call":
        arguments = json.dumps(params.get("arguments"), sort_keys=True)[:200]
        return f"{params.get('tool', '')}({arguments})"
    command = params.get("command")
    if isinstance(command, list):
        command = " ".join(str(part) for part in command)
    if command:
        return str(command)
    reason = params.get("reason")
    if reason:
        return str(reason)
    return {"item/fileChange/requestApproval": "apply a file change"}.get(method, method)
