"""One-off work outside a session: run a command in the runtime's sandbox, send feedback."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from ...contract import ExecuteCommandRequest, UploadFeedbackRequest
from ..deps import RuntimeDep, SettingsDep
from ..errors import ApiError, error_body
from ..paths import checked_cwd
from ._common import contract_route, params, wrap

router = APIRouter(tags=["commands"])


def _check_argv(argv: list[str]) -> None:
    # What no process can be given: the runtime would fail to spawn it (a 500 there).
    problem = None
    if not argv[0]:
        problem = ("the program (command[0]) is empty", [0])
    for index, arg in enumerate(argv):
        if "\x00" in arg:
            problem = ("a command argument holds a NUL byte", [index])
    if problem:
        message, where = problem
        issue = {"code": "invalid_command", "path": ["command", *where], "in": "body"}
        raise ApiError(
            400, error_body("invalid_request", message, issues=[{**issue, "message": message}])
        )


@contract_route(router, "executeCommand")
async def execute_command(
    runtime: RuntimeDep, settings: SettingsDep, body: Annotated[ExecuteCommandRequest, Body()]
) -> dict[str, Any]:
    _check_argv(body.command)
    cwd = checked_cwd(settings, body.cwd)
    wire = params(command=body.command, cwd=cwd, timeoutMs=body.timeout_ms)
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
