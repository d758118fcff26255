"""What runs in a session: messages (202 with the turn's id), steering and interrupting
a turn, and the operations that rewrite a thread (fork, compact, rollback, review)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi import Path as PathParam

from ...contract import (
    InterruptSessionTurnRequest,
    RollbackSessionRequest,
    SendSessionMessageRequest,
    StartReviewRequest,
    SteerTurnRequest,
)
from ..deps import EngineDep
from ._common import Bodiless, SessionId, contract_route, tool_definitions

router = APIRouter(tags=["turns"])

Json = dict[str, Any]


@contract_route(router, "sendSessionMessage")
async def send_session_message(
    engine: EngineDep, session_id: SessionId, body: Annotated[SendSessionMessageRequest, Body()]
) -> Json:
    return await engine.turns.send(
        session_id,
        body.text,
        model=body.model,
        effort=body.effort,
        approval_policy=body.approval_policy,
        network_access=body.network_access,
        filesystem_sandbox=body.filesystem_sandbox,
        dynamic_tools=tool_definitions(body.dynamic_tools),
    )


@contract_route(router, "steerTurn")
async def steer_turn(
    engine: EngineDep,
    session_id: SessionId,
    turn_id: Annotated[str, PathParam(alias="turnId")],
    body: Annotated[SteerTurnRequest, Body()],
) -> Json:
    return await engine.turns.steer(session_id, turn_id, body.input)


@contract_route(router, "interruptSessionTurn")
async def interrupt_session_turn(
    engine: EngineDep,
    session_id: SessionId,
    body: Annotated[InterruptSessionTurnRequest | None, Body()] = None,
) -> Json:
    return await engine.turns.interrupt(session_id, body.turn_id if body else None)


@contract_route(router, "forkSession")
async def fork_session(engine: EngineDep, session_id: SessionId, body: Bodiless = None) -> Json:
    return await engine.turns.fork(session_id)


@contract_route(router, "compactSession")
async def compact_session(engine: EngineDep, session_id: SessionId, body: Bodiless = None) -> Json:
    return await engine.turns.compact(session_id)


@contract_route(router, "rollbackSession")
async def rollback_session(
    engine: EngineDep, session_id: SessionId, body: Annotated[RollbackSessionRequest, Body()]
) -> Json:
    return await engine.turns.rollback(session_id, body.num_turns)


def review_target(body: StartReviewRequest) -> Json:
    """The app-server's review target from the contract's flat fields."""
    kind = body.target_type or "uncommittedChanges"
    if kind == "baseBranch":
        return {"type": kind, "branch": body.branch or "main"}
    if kind == "commit":
        return {"type": kind, "sha": body.sha or "HEAD", "title": body.title}
    if kind == "custom":
        return {"type": kind, "instructions": body.instructions or ""}
    return {"type": kind}


@contract_route(router, "startReview")
async def start_review(
    engine: EngineDep,
    session_id: SessionId,
    body: Annotated[StartReviewRequest | None, Body()] = None,
) -> Json:
    return await engine.turns.review(session_id, review_target(body or StartReviewRequest()))
