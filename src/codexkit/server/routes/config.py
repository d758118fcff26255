"""codex's configuration (``config.toml`` and its layers): read, requirements, writes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from ...contract import ReadConfigQuery, WriteConfigBatchRequest, WriteConfigValueRequest
from ..deps import RuntimeDep
from ._common import contract_route, params, passthrough, wrap

router = APIRouter(tags=["config"])


def _key_path(parts: list[str]) -> str:
    # The contract sends a key path as its parts; codex 0.163 takes one dotted string.
    return ".".join(parts)


def _version(value: int | None) -> str | None:
    return None if value is None else str(value)


@contract_route(router, "readConfig")
async def read_config(runtime: RuntimeDep, query: Annotated[ReadConfigQuery, Query()]) -> Any:
    wire = params(cwd=query.cwd, includeLayers=bool(query.include_layers))
    return await passthrough(runtime, "config/read", wire)


@contract_route(router, "readConfigRequirements")
async def read_config_requirements(runtime: RuntimeDep) -> Any:
    return await passthrough(runtime, "configRequirements/read")


@contract_route(router, "writeConfigValue")
async def write_config_value(
    runtime: RuntimeDep, body: Annotated[WriteConfigValueRequest, Body()]
) -> dict[str, Any]:
    wire = params(
        keyPath=_key_path(body.key_path),
        mergeStrategy=body.merge_strategy,
        expectedVersion=_version(body.expected_version),
        filePath=body.file_path,
    )
    wire["value"] = body.value  # null is a value here (it removes the key)
    return await wrap(runtime, "config/value/write", wire)


@contract_route(router, "writeConfigBatch")
async def write_config_batch(
    runtime: RuntimeDep, body: Annotated[WriteConfigBatchRequest, Body()]
) -> dict[str, Any]:
    edits = [
        {"keyPath": _key_path(e.key_path), "mergeStrategy": e.merge_strategy, "value": e.value}
        for e in body.edits
    ]
    wire = params(
        edits=edits, expectedVersion=_version(body.expected_version), filePath=body.file_path
    )
    return await wrap(runtime, "config/batchWrite", wire)
