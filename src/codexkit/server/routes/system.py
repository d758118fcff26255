"""The server itself: health, API info, what the runtime can do, its catalogues of
experimental features and collaboration modes."""

from __future__ import annotations

import asyncio
import os
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from ..._runtime.home_lock import codex_home_dir
from ..._version import __version__
from ...contract import (
    GetCapabilitiesQuery,
    ListCollaborationModesQuery,
    ListExperimentalFeaturesQuery,
)
from ...errors import CodexError, MethodNotFoundError
from ..deps import Runtime, RuntimeDep, SettingsDep
from ..runtime.errors import RuntimeFailure, ServeError
from ._common import contract_route, params, passthrough

router = APIRouter(tags=["system"])


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


@contract_route(router, "getHealth")
async def get_health(
    runtime: RuntimeDep, settings: SettingsDep, request: Request
) -> dict[str, Any]:
    home = Path(settings.codex_home or codex_home_dir(os.environ))
    has_key = bool(os.environ.get("OPENAI_API_KEY", "").strip())
    auth_file = (home / "auth.json").is_file()
    body = {
        "status": "ok",
        "service": "codexkit",
        "timestamp": _now(),
        "codex": asdict(runtime.status()),
        "auth": {
            "hasOpenAiApiKey": has_key,
            "codexHomeAuthFile": auth_file,
            "likelyUnauthenticated": not (has_key or auth_file),
        },
        "queue": await _queue_health(runtime),
    }
    cluster = await _cluster(runtime, request)
    if cluster is not None:
        body["cluster"] = cluster
    return body


async def _cluster(runtime: Runtime, request: Request) -> dict[str, Any] | None:
    """In a cluster, its processes (``ClusterMember.status``). Health needs no token, so
    without one each process shows how many sessions it runs, not which."""
    try:
        member = runtime.engine.cluster
    except ServeError:
        return None
    if member is None:
        return None
    status = await member.status()
    token = request.app.state.token
    shown = not token or request.headers.get("authorization") == f"Bearer {token}"
    for process in status["processes"]:
        process["sessionCount"] = len(process["sessions"])
        if not shown:
            del process["sessions"]
    return status


async def _queue_health(runtime: Runtime) -> dict[str, Any] | None:
    """The job queue's counters; None before the runtime started (or without one)."""
    try:
        engine = runtime.engine
    except RuntimeFailure:
        return None
    return await engine.orchestrator.health()


@contract_route(router, "getApiInfo")
async def get_api_info() -> dict[str, Any]:
    return {"name": "codexkit serve", "version": __version__}


# The app-server methods the contract's routes use, asked about by /api/capabilities.
PROBED = (
    "thread/fork",
    "thread/compact/start",
    "thread/rollback",
    "thread/backgroundTerminals/clean",
    "turn/steer",
    "review/start",
    "command/exec",
    "experimentalFeature/list",
    "collaborationMode/list",
    "skills/list",
    "skills/config/write",
    "skills/remote/read",
    "skills/remote/write",
    "app/list",
    "config/mcpServer/reload",
    "mcpServer/oauth/login",
    "config/read",
    "config/value/write",
    "config/batchWrite",
    "configRequirements/read",
    "feedback/upload",
    "account/read",
    "account/login/start",
    "account/login/cancel",
    "account/logout",
    "account/rateLimits/read",
)


async def _probe(runtime: RuntimeDep, method: str) -> dict[str, Any]:
    """Ask the runtime whether it knows ``method`` without running it: params of the
    wrong type (a string) are refused before anything happens, with "invalid type" for a
    known method and "unknown variant" (or -32601) for an unknown one."""
    try:
        await runtime.call(method, "codexkit-capability-probe")
    except MethodNotFoundError as error:
        return {"status": "disabled", "reason": error.message}
    except CodexError as error:
        message = str(getattr(error, "message", error))
        if "unknown variant" in message.lower():
            return {"status": "disabled", "reason": message}
        if "invalid type" in message.lower():
            return {"status": "available", "reason": None}
        return {"status": "unknown", "reason": message}
    return {"status": "available", "reason": None}  # pragma: no cover - a probe never runs


def _features(methods: dict[str, str]) -> dict[str, bool]:
    def on(*names: str) -> bool:
        return all(methods.get(name) == "available" for name in names)

    return {
        # Server requests the server answers through its own routes: always offered.
        "toolUserInput": True,
        "dynamicToolCall": True,
        "threadFork": on("thread/fork"),
        "threadCompact": on("thread/compact/start"),
        "threadRollback": on("thread/rollback"),
        "threadBackgroundTerminalClean": on("thread/backgroundTerminals/clean"),
        "turnSteer": on("turn/steer"),
        "reviewStart": on("review/start"),
        "commandExec": on("command/exec"),
        "feedbackUpload": on("feedback/upload"),
        "mcpOauth": on("mcpServer/oauth/login"),
        "mcpReload": on("config/mcpServer/reload"),
        "accountLifecycle": on("account/read", "account/login/start", "account/logout"),
        "configRead": on("config/read"),
        "configWrite": on("config/value/write") or on("config/batchWrite"),
        "configRequirements": on("configRequirements/read"),
        "apps": on("app/list"),
        "skills": on("skills/list"),
        "remoteSkills": False,  # served by a later issue (503 not_ready until then)
        "collaborationModes": on("collaborationMode/list"),
        "experimentalFeatures": on("experimentalFeature/list"),
    }


@contract_route(router, "getCapabilities")
async def get_capabilities(
    request: Request, runtime: RuntimeDep, query: Annotated[GetCapabilitiesQuery, Query()]
) -> dict[str, Any]:
    state = request.app.state
    cached: dict[str, Any] | None = getattr(state, "capabilities", None)
    if cached is None or query.refresh:
        details = await asyncio.gather(*(_probe(runtime, method) for method in PROBED))
        cached = {
            "details": dict(zip(PROBED, details, strict=True)),
            "updatedAt": _now(),
        }
        state.capabilities = cached
    details_by_method: dict[str, Any] = cached["details"]
    methods = {method: entry["status"] for method, entry in details_by_method.items()}
    return {
        "status": "ok",
        "runtime": {
            "initialized": runtime.status().initialized,
            "capabilitiesLastUpdatedAt": cached["updatedAt"],
        },
        "methods": methods,
        "details": details_by_method,
        "features": _features(methods),
    }


@contract_route(router, "listExperimentalFeatures")
async def list_experimental_features(
    runtime: RuntimeDep, query: Annotated[ListExperimentalFeaturesQuery, Query()]
) -> Any:
    wire = params(limit=query.limit or 100, cursor=query.cursor)
    return await passthrough(runtime, "experimentalFeature/list", wire)


@contract_route(router, "listCollaborationModes")
async def list_collaboration_modes(
    runtime: RuntimeDep, query: Annotated[ListCollaborationModesQuery, Query()]
) -> dict[str, Any]:
    # 0.163 takes no paging here and answers every mode at once.
    result = await passthrough(runtime, "collaborationMode/list", {})
    return {"data": result.get("data", []), "nextCursor": result.get("nextCursor")}
