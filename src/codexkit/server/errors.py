"""Every error the server answers is a contract body: ``{status, code, message, ...}``.

FastAPI's own answers (422 with ``{"detail": ...}``, ``{"detail": "Not Found"}``) would
break the contract's clients, which read ``status`` and ``code``; the handlers here
replace them all. Errors of the app-server pass through with the runtime's own message,
mapped to the status the contract gives them.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import CodexError, RpcError
from .runtime.errors import ServeError, classify

__all__ = ["ApiError", "error_body", "install_error_handlers", "not_ready", "runtime_error"]

log = logging.getLogger("codexkit.server")

_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    503: "not_ready",
}


class ApiError(Exception):
    """An answer other than success: raise it from a route; the body goes out as it is."""

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", ""))
        self.status_code = status_code
        self.body = body


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"status": "error", "code": code, "message": message, **extra}


def not_ready(feature: str) -> ApiError:
    """503 for a contract feature this server does not offer yet."""
    return ApiError(503, error_body("not_ready", f"{feature} is not available on this server yet"))


def runtime_error(error: CodexError, method: str) -> ApiError:
    """The contract's answer to an app-server error: its message, and the status
    ``runtime.errors.classify`` gives its kind of failure."""
    status, code, message = classify(error)
    details: dict[str, Any] = {"method": method}
    if isinstance(error, RpcError):
        details["rpcCode"] = error.code
    return ApiError(status, error_body(code, message, details=details))


def _issues(error: RequestValidationError) -> list[dict[str, Any]]:
    issues = []
    for item in error.errors():
        where = [str(part) for part in item.get("loc", ())]
        issues.append(
            {
                "code": item.get("type", "invalid"),
                "path": where[1:] if where[:1] in (["body"], ["query"], ["path"]) else where,
                "in": where[0] if where else "body",
                "message": item.get("msg", "invalid value"),
            }
        )
    return issues


async def _on_api_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return JSONResponse(error.body, status_code=error.status_code)


async def _on_serve_error(_request: Request, error: Exception) -> JSONResponse:
    # The runtime's refusals carry the contract's status and body themselves.
    assert isinstance(error, ServeError)
    return JSONResponse(error.body(), status_code=error.http_status)


async def _on_invalid(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    body = error_body("invalid_request", "request validation failed", issues=_issues(error))
    return JSONResponse(body, status_code=400)


async def _on_http(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = _HTTP_CODES.get(error.status_code, "request_failed")
    message = error.detail if isinstance(error.detail, str) else code.replace("_", " ")
    return JSONResponse(
        error_body(code, message), status_code=error.status_code, headers=error.headers
    )


async def _on_unexpected(request: Request, error: Exception) -> JSONResponse:
    # The details go to the log only: a client learns nothing of the server's insides.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)


async def _on_codex_error(request: Request, error: Exception) -> JSONResponse:
    # A route that let an SDK error through: map it as if the route had.
    assert isinstance(error, CodexError)
    mapped = runtime_error(error, method=getattr(error, "method", "") or request.url.path)
    return JSONResponse(mapped.body, status_code=mapped.status_code)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(ServeError, _on_serve_error)
    app.add_exception_handler(RequestValidationError, _on_invalid)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(CodexError, _on_codex_error)
    app.add_exception_handler(Exception, _on_unexpected)
