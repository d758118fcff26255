"""Contract shapes the OpenAPI document leaves unnamed, as real clients read them.

Pending approvals and tool-input requests, and the lists that carry them and sessions,
are described in the contract's README (``docs/serve.md`` links it), not in its schemas.
The list of pending tool calls has a schema: ``ListSessionToolCallsResponse``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict

from ._base import ContractModel, Operation
from ._generated import SessionSummary

__all__ = [
    "CODEXKIT_OPERATIONS",
    "ApprovalList",
    "PendingApproval",
    "PendingToolInput",
    "SessionList",
    "SetApprovalTimeoutRequest",
    "SetApprovalTimeoutResponse",
    "ToolInputList",
    "ToolInputOption",
    "ToolInputQuestion",
]

ApprovalMethod = Literal[
    "item/commandExecution/requestApproval",
    "item/fileChange/requestApproval",
    "item/permissions/requestApproval",
    "applyPatchApproval",
    "execCommandApproval",
]


class PendingApproval(ContractModel):
    """An approval the agent waits for; decided at ``/api/approvals/{approvalId}/decision``.

    ``status`` is ``pending`` while it can be answered; a server that outlived the request
    (a restart) may list it with another status and say why in the extra fields.
    """

    model_config = ConfigDict(extra="allow")
    approval_id: str
    method: ApprovalMethod | str
    thread_id: str
    turn_id: str | None
    item_id: str | None
    summary: str
    details: dict[str, Any]
    created_at: str
    status: str


class ToolInputOption(ContractModel):
    label: str
    description: str


class ToolInputQuestion(ContractModel):
    id: str
    header: str
    question: str
    options: list[ToolInputOption] | None
    is_other: bool
    is_secret: bool


class PendingToolInput(ContractModel):
    """Questions the agent asks the user; answered at ``/api/tool-input/{requestId}/decision``."""

    model_config = ConfigDict(extra="allow")
    request_id: str
    method: Literal["item/tool/requestUserInput", "tool/requestUserInput"] | str
    thread_id: str
    turn_id: str | None
    item_id: str | None
    summary: str
    questions: list[ToolInputQuestion]
    details: dict[str, Any]
    created_at: str
    status: str


class ApprovalList(ContractModel):
    data: list[PendingApproval]


class ToolInputList(ContractModel):
    data: list[PendingToolInput]


class SessionList(ContractModel):
    """``GET /api/sessions``: a page of summaries; ``nextCursor`` is ``None`` on the last."""

    data: list[SessionSummary]
    next_cursor: str | None
    archived: bool


class SetApprovalTimeoutRequest(ContractModel):
    """codexkit's own addition: how long a session's approvals, tool-input requests and
    tool calls may wait (``POST /api/sessions/{sessionId}/approval-timeout``). Past
    ``seconds`` a request is decided the ``decision`` way and the reason recorded;
    ``seconds`` null waits as long as it takes (the default)."""

    seconds: float | None = None
    decision: Literal["accept", "decline", "cancel"] = "decline"
    actor: str | None = None
    source: str | None = None


class SetApprovalTimeoutResponse(ContractModel):
    status: Literal["ok"]
    session_id: str
    seconds: float | None
    decision: Literal["accept", "decline", "cancel"]


#: codexkit's own operations beside the contract's (``codexkit serve`` serves them; the
#: client calls them by these ids like the contract's).
CODEXKIT_OPERATIONS: dict[str, Operation] = {
    "setSessionApprovalTimeout": Operation(
        "setSessionApprovalTimeout",
        "POST",
        "/api/sessions/{sessionId}/approval-timeout",
        "How long the session's requests wait for a decision (codexkit's own)",
        body=SetApprovalTimeoutRequest,
        body_required=True,
        path_params=("sessionId",),
        responses={200: SetApprovalTimeoutResponse},
        statuses=(200, 400, 401, 403, 404, 410),
    ),
}
