"""Projects: named groups of sessions; move all their chats out (or archive them), or
delete them all."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from ...contract import CreateProjectRequest, MoveProjectChatsRequest, RenameProjectRequest
from ..deps import EngineDep
from ._common import Bodiless, ProjectId, contract_route

router = APIRouter(tags=["projects"])

Json = dict[str, Any]


@contract_route(router, "listProjects")
async def list_projects(engine: EngineDep) -> Json:
    return await engine.projects.list()


@contract_route(router, "createProject")
async def create_project(engine: EngineDep, body: Annotated[CreateProjectRequest, Body()]) -> Json:
    return await engine.projects.create(body.name)


@contract_route(router, "renameProject")
async def rename_project(
    engine: EngineDep, project_id: ProjectId, body: Annotated[RenameProjectRequest, Body()]
) -> Json:
    return await engine.projects.rename(project_id, body.name)


@contract_route(router, "deleteProject")
async def delete_project(engine: EngineDep, project_id: ProjectId) -> Json:
    return await engine.projects.delete(project_id)


@contract_route(router, "listProjectAgentSessions")
async def list_project_agent_sessions(engine: EngineDep, project_id: ProjectId) -> Json:
    return await engine.projects.sessions(project_id)


@contract_route(router, "moveProjectChats")
async def move_project_chats(
    engine: EngineDep, project_id: ProjectId, body: Annotated[MoveProjectChatsRequest, Body()]
) -> Json:
    return await engine.projects.move_all(project_id, body.destination)


@contract_route(router, "deleteProjectChats")
async def delete_project_chats(
    engine: EngineDep, project_id: ProjectId, body: Bodiless = None
) -> Json:
    return await engine.projects.delete_all(project_id)
