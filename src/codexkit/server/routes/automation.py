"""Agent extensions (list, reload), the orchestrator's job queue (read, list by
project, cancel, and codexkit's own enqueue route) and a chat's suggested requests
(jobs, the waiting variant, and the upsert of their state)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import JSONResponse

from ...contract import (
    ListProjectOrchestratorJobsQuery,
    OpenBody,
    SuggestedRequestBody,
    SuggestedRequestUpsertBody,
)
from ..deps import EngineDep
from ._common import Bodiless, ProjectId, SessionId, contract_route, not_ready_route

router = APIRouter(tags=["automation"])

Json = dict[str, Any]
JobId = Annotated[str, Path(alias="jobId")]

#: Operations of this group that answer 503 ``not_ready`` (none left).
NOT_READY: dict[str, str] = {}

for _operation_id, _feature in NOT_READY.items():
    not_ready_route(router, _operation_id, _feature)


@contract_route(router, "getOrchestratorJob")
async def get_job(engine: EngineDep, job_id: JobId) -> Json:
    return await engine.orchestrator.get(job_id)


@contract_route(router, "listProjectOrchestratorJobs")
async def list_jobs(
    engine: EngineDep,
    project_id: ProjectId,
    query: Annotated[ListProjectOrchestratorJobsQuery, Query()],
) -> Json:
    return await engine.orchestrator.list(project_id, query.state)


@contract_route(router, "cancelOrchestratorJob")
async def cancel_job(engine: EngineDep, job_id: JobId, body: Bodiless = None) -> Json:
    return await engine.orchestrator.cancel(job_id)


@router.post(
    "/api/orchestrator/jobs",
    operation_id="enqueueOrchestratorJob",
    summary="Enqueue an orchestrator job (codexkit)",
    status_code=202,
    response_model=None,
)
async def enqueue_job(engine: EngineDep, body: Annotated[OpenBody, Body()]) -> JSONResponse:
    """``{type, payload, sourceSessionId | projectId, dedupeKey?, maxAttempts?,
    timeoutSeconds?}``: 202 with the job (``dedupe: already_queued`` and the job already
    queued or running under the same key)."""
    answer = await engine.orchestrator.enqueue(body.model_dump(mode="json"))
    return JSONResponse(answer, status_code=202)


@contract_route(router, "enqueueSuggestedSessionRequest")
async def enqueue_suggestion(
    engine: EngineDep,
    session_id: SessionId,
    body: Annotated[SuggestedRequestBody | None, Body()] = None,
) -> Json:
    return await engine.orchestrator.suggest_job(session_id, **_asked(body))


@contract_route(router, "suggestSessionRequest")
async def suggest(
    engine: EngineDep,
    session_id: SessionId,
    body: Annotated[SuggestedRequestBody | None, Body()] = None,
) -> JSONResponse:
    status, answer = await engine.orchestrator.suggest(session_id, **_asked(body))
    return JSONResponse(answer, status_code=status)


@contract_route(router, "listAgentExtensions")
async def list_extensions(engine: EngineDep) -> Json:
    return engine.extensions.list()


@contract_route(router, "reloadAgentExtensions")
async def reload_extensions(engine: EngineDep, body: Bodiless = None) -> Json:
    return await engine.extensions.reload()


@contract_route(router, "upsertSuggestedSessionRequest")
async def upsert_suggestion(
    engine: EngineDep,
    session_id: SessionId,
    body: Annotated[SuggestedRequestUpsertBody, Body()],
) -> JSONResponse:
    status, answer = await engine.orchestrator.upsert_suggestion(
        session_id, body.request_key, body.status, body.suggestion, body.error
    )
    return JSONResponse(answer, status_code=status)


def _asked(body: SuggestedRequestBody | None) -> dict[str, str | None]:
    """What a suggestion is asked with: the user's draft, and the model and effort."""
    if body is None:
        return {}
    return {"draft": body.draft, "model": body.model, "effort": body.effort}
