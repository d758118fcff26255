"""What the runtime offers: models, apps (connectors), skills, MCP servers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query

from ...contract import (
    ListAppsQuery,
    ListMcpServersQuery,
    ListModelsQuery,
    ListSkillsQuery,
    ReloadMcpConfigRequest,
    StartMcpOauthLoginRequest,
    WriteRemoteSkillsRequest,
    WriteSkillConfigRequest,
)
from ..deps import RuntimeDep
from ..errors import not_ready
from ._common import contract_route, params, passthrough, wrap

router = APIRouter(tags=["catalog"])

_PAGE = 100  # the page size when a client names none, as the original server's


@contract_route(router, "listModels")
async def list_models(runtime: RuntimeDep, query: Annotated[ListModelsQuery, Query()]) -> Any:
    wire = params(limit=query.limit or _PAGE, cursor=query.cursor)
    return await passthrough(runtime, "model/list", wire)


@contract_route(router, "listApps")
async def list_apps(runtime: RuntimeDep, query: Annotated[ListAppsQuery, Query()]) -> Any:
    wire = params(
        limit=query.limit or _PAGE,
        cursor=query.cursor,
        threadId=query.thread_id,
        forceRefetch=bool(query.force_refetch),
    )
    return await passthrough(runtime, "app/list", wire)


@contract_route(router, "listSkills")
async def list_skills(
    runtime: RuntimeDep, query: Annotated[ListSkillsQuery, Query()]
) -> dict[str, Any]:
    wire = params(forceReload=bool(query.force_reload), cwds=[query.cwd] if query.cwd else None)
    result = await passthrough(runtime, "skills/list", wire)
    return {"data": result.get("data", []), "nextCursor": result.get("nextCursor")}


@contract_route(router, "writeSkillConfig")
async def write_skill_config(
    runtime: RuntimeDep, body: Annotated[WriteSkillConfigRequest, Body()]
) -> dict[str, Any]:
    return await wrap(runtime, "skills/config/write", {"path": body.path, "enabled": body.enabled})


# Remote skills (Python functions served as a session's dynamic tools) come with the
# manager client's issue; until then these two say so.
@contract_route(router, "readRemoteSkills")
async def read_remote_skills() -> None:
    raise not_ready("remote skills")


@contract_route(router, "writeRemoteSkills")
async def write_remote_skills(body: Annotated[WriteRemoteSkillsRequest, Body()]) -> None:
    raise not_ready("remote skills")


@contract_route(router, "listMcpServers")
async def list_mcp_servers(
    runtime: RuntimeDep, query: Annotated[ListMcpServersQuery, Query()]
) -> Any:
    wire = params(limit=query.limit or _PAGE, cursor=query.cursor)
    return await passthrough(runtime, "mcpServerStatus/list", wire)


@contract_route(router, "reloadMcpConfig")
async def reload_mcp_config(
    runtime: RuntimeDep, body: Annotated[ReloadMcpConfigRequest | None, Body()] = None
) -> dict[str, Any]:
    return await wrap(runtime, "config/mcpServer/reload")


@contract_route(router, "startMcpOauthLogin")
async def start_mcp_oauth_login(
    runtime: RuntimeDep,
    server_name: Annotated[str, Path(alias="serverName", min_length=1)],
    body: Annotated[StartMcpOauthLoginRequest | None, Body()] = None,
) -> dict[str, Any]:
    given = body or StartMcpOauthLoginRequest()
    wire = params(name=server_name, scopes=given.scopes, timeoutSecs=given.timeout_secs)
    return await wrap(runtime, "mcpServer/oauth/login", wire)
