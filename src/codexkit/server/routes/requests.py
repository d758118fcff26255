"""What the agent asks people: approvals, tool input and dynamic tool calls, listed per
session and answered here. The ids are the ones the websocket's frames carry
(``approvalId``, ``requestId``); a request already resolved or expired answers 409
``reconciled`` (tool calls: ``in_flight``), which clients count as done."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
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


@contract_route(router, "listSessionApprovals")
async def list_session_approvals(engine: EngineDep, session_id: SessionId) -> Json:
    return await engine.pending(session_id, "approval")


@contract_route(router, "listSessionToolInput")
async def list_session_tool_input(engine: EngineDep, session_id: SessionId) -> Json:
    return await engine.pending(session_id, "tool_input")


@contract_route(router, "listSessionToolCalls")
async def list_session_tool_calls(engine: EngineDep, session_id: SessionId) -> Json:
    return await engine.pending(session_id, "tool_call")


@contract_route(router, "decideApproval")
async def decide_approval(
    engine: EngineDep,
    approval_id: Annotated[str, PathParam(alias="approvalId")],
    body: Annotated[ApprovalDecisionRequest, Body()],
) -> Json:
    return await engine.decide("approval", approval_id, to_wire(body))


@contract_route(router, "decideToolInput")
async def decide_tool_input(
    engine: EngineDep, request_id: RequestId, body: Annotated[ToolInputDecisionRequest, Body()]
) -> Json:
    return await engine.decide("tool_input", request_id, to_wire(body))


@contract_route(router, "respondToolCall")
async def respond_tool_call(
    engine: EngineDep, request_id: RequestId, body: Annotated[ToolCallResponseRequest, Body()]
) -> Json:
    return await engine.decide("tool_call", request_id, to_wire(body))
