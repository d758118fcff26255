"""What every route module uses: routes declared from the contract, runtime calls."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import JSONResponse, Response

from ..._client.resources import put
from ...contract import (
    OPERATIONS,
    ApiValidationError,
    DynamicToolDefinition,
    OpenBody,
    to_wire,
)
from ...contract import operation as contract_operation
from ...errors import CodexError, TransportClosedError
from ..deps import Runtime
from ..errors import not_ready, runtime_error

__all__ = [
    "Bodiless",
    "ProjectId",
    "SessionId",
    "contract_route",
    "not_ready_route",
    "params",
    "passthrough",
    "tool_definitions",
    "wrap",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The contract's path parameters, by their wire names.
SessionId = Annotated[str, Path(alias="sessionId")]
ProjectId = Annotated[str, Path(alias="projectId")]
#: An open body clients often leave out: bodiless POSTs arrive with ``Content-Length: 0``
#: and no content type.
Bodiless = Annotated[OpenBody | None, Body()]

log = logging.getLogger("codexkit.server")


def contract_route(router: APIRouter, operation_id: str) -> Callable[[F], F]:
    """Register the decorated function as the contract's operation ``operation_id``: its
    path, method, operation id, summary, success status, and documented error bodies
    all come from the contract, so the served OpenAPI document matches it. codexkit's
    own operations (``CODEXKIT_OPERATIONS``) are declared the same way."""
    operation = contract_operation(operation_id)
    success = next((s for s in operation.statuses if 200 <= s < 300), 200)
    responses: dict[int | str, dict[str, Any]] = {}
    for status in operation.statuses:
        model = operation.responses.get(status)
        if model is None and status >= 400:
            model = ApiValidationError
        if model is not None and isinstance(model, type):
            responses[status] = {"model": model}
    register = router.api_route(
        operation.path,
        methods=[operation.method],
        operation_id=operation.operation_id,
        summary=operation.summary,
        status_code=success,
        responses=responses,
        response_model=None,
    )

    def decorate(endpoint: F) -> F:
        # Answers are JSON already (the app-server's, or dicts of it): sent as they are,
        # not through FastAPI's jsonable_encoder, which cost 0.5 to 1.7 ms a response.
        @functools.wraps(endpoint)
        async def answered(*args: Any, **kwargs: Any) -> Response:
            value = await endpoint(*args, **kwargs)
            if isinstance(value, Response):
                return value
            return JSONResponse(value, status_code=success)

        register(answered)
        return endpoint

    return decorate


async def passthrough(runtime: Runtime, method: str, params: Any = None) -> Any:
    """The app-server's answer to ``method``; its error as the contract's error body."""
    try:
        return await runtime.call(method, params)
    except CodexError as error:
        if isinstance(error, TransportClosedError):  # the client gets no internals: log them
            log.warning("%s: the app-server is not running: %s", method, error)
        raise runtime_error(error, method) from error


async def wrap(runtime: Runtime, method: str, params: Any = None) -> dict[str, Any]:
    """``{"status": "ok", "result": ...}``: how the contract answers runtime writes."""
    return {"status": "ok", "result": await passthrough(runtime, method, params)}


def not_ready_route(router: APIRouter, operation_id: str, feature: str) -> None:
    """Register ``operation_id`` as a route answering 503 ``not_ready`` (a later issue
    builds the feature). It takes the operation's parameters and body, so the served
    OpenAPI document lists them and bad input is still a 400."""

    async def answer(**_given: Any) -> None:
        raise not_ready(feature)

    operation = OPERATIONS[operation_id]
    keyword = inspect.Parameter.KEYWORD_ONLY
    # Built at run time from the table, so written as calls the type checker cannot see.
    annotated: Any = Annotated
    taken = [
        inspect.Parameter(name, keyword, annotation=annotated[str, Path(alias=name)])
        for name in operation.path_params
    ]
    if operation.query is not None:
        query = annotated[operation.query, Query()]
        taken.append(inspect.Parameter("query", keyword, annotation=query))
    if operation.body is not None:
        body = annotated[operation.body | None, Body()]
        taken.append(inspect.Parameter("body", keyword, annotation=body, default=None))
    answer.__signature__ = inspect.Signature(taken)  # type: ignore[attr-defined]
    answer.__name__ = operation_id
    contract_route(router, operation_id)(answer)


def params(**values: Any) -> dict[str, Any]:
    """App-server params from the values given (``None`` ones left to codex's defaults)."""
    wire: dict[str, Any] = {}
    put(wire, **values)
    return wire


def tool_definitions(tools: list[DynamicToolDefinition] | None) -> list[dict[str, Any]] | None:
    """The contract's dynamic tools as the runtime takes them (wire names)."""
    return None if tools is None else [to_wire(tool) for tool in tools]
