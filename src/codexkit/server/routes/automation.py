"""Agent extensions, orchestrator jobs and suggested requests: a later issue builds
them. Until then each of their operations answers 503 ``not_ready`` with the contract's
error body, so clients learn it plainly instead of from a made-up success."""

from __future__ import annotations

from fastapi import APIRouter

from ._common import not_ready_route

router = APIRouter(tags=["automation"])

NOT_READY = {
    "listAgentExtensions": "agent extensions",
    "reloadAgentExtensions": "agent extensions",
    "getOrchestratorJob": "orchestrator jobs",
    "listProjectOrchestratorJobs": "orchestrator jobs",
    "cancelOrchestratorJob": "orchestrator jobs",
    "enqueueSuggestedSessionRequest": "suggested requests",
    "suggestSessionRequest": "suggested requests",
    "upsertSuggestedSessionRequest": "suggested requests",
}

for _operation_id, _feature in NOT_READY.items():
    not_ready_route(router, _operation_id, _feature)
