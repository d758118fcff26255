"""App-server messages as the contract's frames, in the contract's order.

For a notification: ``app_server.<method>``, then its derived frame where one exists
(``turn_plan_updated``, ``account_updated``, ...), then the raw ``notification``. For a
server request: ``app_server.request.<method>``, then ``approval`` /
``tool_user_input_requested`` / ``tool_call_requested``, or the raw ``server_request``
for kinds without one (as codex-manager does).
"""

from __future__ import annotations

import time
from typing import Any

from .naming import notification_type, request_type
from .views import iso

__all__ = [
    "BROADCAST",
    "DERIVED",
    "REQUEST_FRAMES",
    "context_of",
    "envelope",
]

Json = dict[str, Any]

#: Notifications with a derived frame of their own.
DERIVED = {
    "turn/plan/updated": "turn_plan_updated",
    "turn/diff/updated": "turn_diff_updated",
    "thread/tokenUsage/updated": "thread_token_usage_updated",
    "account/updated": "account_updated",
    "account/login/completed": "account_login_completed",
    "account/rateLimits/updated": "account_rate_limits_updated",
    "mcpServer/oauthLogin/completed": "mcp_oauth_completed",
    "app/list/updated": "app_list_updated",
}

#: Notifications every subscriber gets, whatever its thread filter.
BROADCAST = frozenset(
    {
        "account/updated",
        "account/login/completed",
        "account/rateLimits/updated",
        "mcpServer/oauthLogin/completed",
        "app/list/updated",
    }
)

#: The derived frame of each request kind, asked and answered.
REQUEST_FRAMES = {
    "approval": ("approval", "approval_resolved"),
    "tool_input": ("tool_user_input_requested", "tool_user_input_resolved"),
    "tool_call": ("tool_call_requested", "tool_call_resolved"),
}


def context_of(params: Json) -> tuple[str | None, str | None]:
    """The thread and turn a message is about, wherever the method keeps them."""
    thread = params.get("threadId") or params.get("conversationId")
    turn = params.get("turnId")
    for key in ("thread", "turn"):
        nested = params.get(key)
        if isinstance(nested, dict) and isinstance(nested.get("id"), str):
            if key == "thread" and thread is None:
                thread = nested["id"]
            if key == "turn" and turn is None:
                turn = nested["id"]
    return (
        thread if isinstance(thread, str) else None,
        turn if isinstance(turn, str) else None,
    )


def envelope(
    method: str,
    params: Json,
    *,
    session: Json | None,
    request_id: str | None = None,
    received_at: float | None = None,
) -> tuple[str, Json]:
    """The ``app_server.*`` frame type and its payload envelope. ``received_at`` is
    when the message was read from the app-server (default: now)."""
    is_request = request_id is not None
    event_type = request_type(method) if is_request else notification_type(method)
    thread_id, turn_id = context_of(params)
    return event_type, {
        "source": "app_server",
        "signalType": "request" if is_request else "notification",
        "eventType": event_type,
        "method": method,
        "receivedAt": iso(time.time() if received_at is None else received_at),
        "context": {"threadId": thread_id, "turnId": turn_id},
        "params": params,
        "session": session,
        "requestId": request_id,
    }
