"""Sessions: create, list, read, rename, archive, delete, move between projects, and
annotate their transcripts. Each route checks its body against the contract and calls
one method of the runtime (``docs/serve-internals.md`` has the table); the runtime's
refusals (404, 410, 403, 409, ...) carry their own status and body."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from ...contract import (
    CreateSessionRequest,
    ListSessionsQuery,
    RenameSessionRequest,
    ResumeSessionRequest,
    SetApprovalTimeoutRequest,
    SetSessionApprovalPolicyRequest,
    SetSessionProjectRequest,
    UpsertSessionTranscriptEntryRequest,
    to_wire,
)
from ..deps import EngineDep
from ._common import Bodiless, SessionId, contract_route, tool_definitions

router = APIRouter(tags=["sessions"])

Json = dict[str, Any]


@contract_route(router, "listSessions")
async def list_sessions(
    engine: EngineDep,
    query: Annotated[ListSessionsQuery, Query()],
    include_system_owned: Annotated[bool, Query(alias="includeSystemOwned")] = False,
) -> Json:
    return await engine.sessions.list(
        archived=bool(query.archived),
        limit=query.limit,
        cursor=query.cursor,
        include_system_owned=include_system_owned,
    )


@contract_route(router, "createSession")
async def create_session(
    engine: EngineDep, body: Annotated[CreateSessionRequest | None, Body()] = None
) -> Json:
    body = body or CreateSessionRequest()
    return await engine.sessions.create(
        cwd=body.cwd,
        model=body.model,
        approval_policy=body.approval_policy,
        network_access=body.network_access,
        filesystem_sandbox=body.filesystem_sandbox,
        dynamic_tools=tool_definitions(body.dynamic_tools),
    )


@contract_route(router, "readSession")
async def read_session(engine: EngineDep, session_id: SessionId) -> Json:
    return await engine.sessions.read(session_id)


@contract_route(router, "deleteSession")
async def delete_session(engine: EngineDep, session_id: SessionId) -> Json:
    return await engine.sessions.delete(session_id)


@contract_route(router, "renameSession")
async def rename_session(
    engine: EngineDep, session_id: SessionId, body: Annotated[RenameSessionRequest, Body()]
) -> Json:
    return await engine.sessions.rename(session_id, body.title)


@contract_route(router, "archiveSession")
async def archive_session(engine: EngineDep, session_id: SessionId, body: Bodiless = None) -> Json:
    return await engine.sessions.archive(session_id)


@contract_route(router, "unarchiveSession")
async def unarchive_session(
    engine: EngineDep, session_id: SessionId, body: Bodiless = None
) -> Json:
    return await engine.sessions.unarchive(session_id)


@contract_route(router, "resumeSession")
async def resume_session(
    engine: EngineDep,
    session_id: SessionId,
    body: Annotated[ResumeSessionRequest | None, Body()] = None,
) -> Json:
    tools = tool_definitions(body.dynamic_tools) if body is not None else None
    return await engine.sessions.resume(session_id, tools)


@contract_route(router, "setSessionApprovalPolicy")
async def set_session_approval_policy(
    engine: EngineDep,
    session_id: SessionId,
    body: Annotated[SetSessionApprovalPolicyRequest, Body()],
) -> Json:
    return await engine.sessions.set_approval_policy(session_id, body.approval_policy)


@contract_route(router, "setSessionApprovalTimeout")
async def set_session_approval_timeout(
    engine: EngineDep, session_id: SessionId, body: Annotated[SetApprovalTimeoutRequest, Body()]
) -> Json:
    return await engine.sessions.set_approval_timeout(session_id, body.seconds, body.decision)


@contract_route(router, "setSessionProject")
async def set_session_project(
    engine: EngineDep, session_id: SessionId, body: Annotated[SetSessionProjectRequest, Body()]
) -> Json:
    return await engine.sessions.set_project(session_id, body.project_id)


@contract_route(router, "upsertSessionTranscriptEntry")
async def upsert_session_transcript_entry(
    engine: EngineDep,
    session_id: SessionId,
    body: Annotated[UpsertSessionTranscriptEntryRequest, Body()],
) -> Json:
    return await engine.sessions.upsert_transcript(session_id, to_wire(body))


@contract_route(router, "cleanBackgroundTerminals")
async def clean_background_terminals(
    engine: EngineDep, session_id: SessionId, body: Bodiless = None
) -> Json:
    return await engine.sessions.clean_background_terminals(session_id)
