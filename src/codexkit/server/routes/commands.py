"""One-off work outside a session: run a command in the runtime's sandbox, send feedback."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from ...contract import ExecuteCommandRequest, UploadFeedbackRequest
from ..deps import RuntimeDep
from ._common import contract_route, params, wrap

router = APIRouter(tags=["commands"])


@contract_route(router, "executeCommand")
async def execute_command(
    runtime: RuntimeDep, body: Annotated[ExecuteCommandRequest, Body()]
) -> dict[str, Any]:
    wire = params(command=body.command, cwd=body.cwd, timeoutMs=body.timeout_ms)
    return await wrap(runtime, "command/exec", wire)


@contract_route(router, "uploadFeedback")
async def upload_feedback(
    runtime: RuntimeDep, body: Annotated[UploadFeedbackRequest, Body()]
) -> dict[str, Any]:
    # Uploading needs OpenAI's servers: offline, the runtime's own error comes back.
    wire = params(
        classification=body.classification,
        includeLogs=body.include_logs,
        reason=body.reason,
        threadId=body.thread_id,
    )
    return await wrap(runtime, "feedback/upload", wire)
