"""What the agent asks people: approvals, tool input and dynamic tool calls, listed per
session and answered here. The ids are the ones the websocket's frames carry
(``approvalId``, ``requestId``); a request already resolved or expired answers 409
``reconciled`` (tool calls: ``in_flight``), which clients count as done.

Lists show what can still be answered; ``?history=true`` (codexkit's extension) lists
the resolved and expired ones too, each with its status, decision and expiry reason."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi import Path as PathParam

from ...contract import (
    ApprovalDecisionRequest,
    ToolCallResponseRequest,
    ToolInputDecisionRequest,
    to_wire,
)
from ..deps import EngineDep
from ._common import SessionId, contract_route

router = APIRouter(tags=["requests"])

Json = dict[str, Any]
RequestId = Annotated[str, PathParam(alias="requestId")]
History = Annotated[bool, Query(description="Also the resolved and expired requests.")]


@contract_route(router, "listSessionApprovals")
async def list_session_approvals(
    engine: EngineDep, session_id: SessionId, history: History = False
) -> Json:
    return await engine.pending(session_id, "approval", history=history)


@contract_route(router, "listSessionToolInput")
async def list_session_tool_input(
    engine: EngineDep, session_id: SessionId, history: History = False
) -> Json:
    return await engine.pending(session_id, "tool_input", history=history)


@contract_route(router, "listSessionToolCalls")
async def list_session_tool_calls(
    engine: EngineDep, session_id: SessionId, history: History = False
) -> Json:
    return await engine.pending(session_id, "tool_call", history=history)


async def _provenance(request: Request) -> tuple[str | None, str | None]:
    """The ``actor`` and ``source`` a decision may carry (the contract's audit fields,
    which its decision bodies do not list), kept with the request's record."""
    raw = await request.json()  # read already for the body model: no second read
    found = [raw.get(name) if isinstance(raw, dict) else None for name in ("actor", "source")]
    actor, source = (value if isinstance(value, str) else None for value in found)
    return actor, source


@contract_route(router, "decideApproval")
async def decide_approval(
    request: Request,
    engine: EngineDep,
    approval_id: Annotated[str, PathParam(alias="approvalId")],
    body: Annotated[ApprovalDecisionRequest, Body()],
) -> Json:
    actor, source = await _provenance(request)
    return await engine.decide("approval", approval_id, to_wire(body), actor=actor, source=source)


@contract_route(router, "decideToolInput")
async def decide_tool_input(
    request: Request,
    engine: EngineDep,
    request_id: RequestId,
    body: Annotated[ToolInputDecisionRequest, Body()],
) -> Json:
    actor, source = await _provenance(request)
    return await engine.decide("tool_input", request_id, to_wire(body), actor=actor, source=source)


@contract_route(router, "respondToolCall")
async def respond_tool_call(
    request: Request,
    engine: EngineDep,
    request_id: RequestId,
    body: Annotated[ToolCallResponseRequest, Body()],
) -> Json:
    actor, source = await _provenance(request)
    return await engine.decide("tool_call", request_id, to_wire(body), actor=actor, source=source)
