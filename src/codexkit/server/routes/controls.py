"""A session's controls (model, approval policy, network, sandbox) and settings, at
scope ``session`` or ``default`` (423 while the defaults are locked)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi import Path as PathParam

from ...contract import (
    ApplySessionControlsRequest,
    DeleteSessionSettingQuery,
    GetSessionSettingsQuery,
    SetSessionSettingsRequest,
    to_wire,
)
from ..deps import EngineDep
from ._common import SessionId, contract_route

router = APIRouter(tags=["controls"])

Json = dict[str, Any]
_AUDIT = ("actor", "source")  # provenance of a write: accepted, not stored yet


@contract_route(router, "getSessionControls")
async def get_session_controls(engine: EngineDep, session_id: SessionId) -> Json:
    return await engine.controls.read(session_id)


@contract_route(router, "applySessionControls")
async def apply_session_controls(
    engine: EngineDep, session_id: SessionId, body: Annotated[ApplySessionControlsRequest, Body()]
) -> Json:
    controls = body.controls.model_dump(mode="json", by_alias=True)
    if controls.get("settings") is None:  # omitted: the settings stay as they are
        controls.pop("settings", None)
    return await engine.controls.apply(session_id, body.scope, controls)


@contract_route(router, "getSessionSettings")
async def get_session_settings(
    engine: EngineDep, session_id: SessionId, query: Annotated[GetSessionSettingsQuery, Query()]
) -> Json:
    return await engine.controls.settings(session_id, query.scope or "session", query.key)


@contract_route(router, "setSessionSettings")
async def set_session_settings(
    engine: EngineDep, session_id: SessionId, body: Annotated[SetSessionSettingsRequest, Body()]
) -> Json:
    wire = {k: v for k, v in to_wire(body).items() if k not in _AUDIT}
    return await engine.controls.set_settings(session_id, wire)


@contract_route(router, "deleteSessionSetting")
async def delete_session_setting(
    engine: EngineDep,
    session_id: SessionId,
    key: Annotated[str, PathParam(alias="key")],
    query: Annotated[DeleteSessionSettingQuery, Query()],
) -> Json:
    return await engine.controls.unset(session_id, key, query.scope or "session")
