"""The one-time login link: trades its secret for the session cookie (for browsers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ..auth import LOGIN_PATH, LoginLinks, login_cookie_header
from ..errors import ApiError, error_body

router = APIRouter(tags=["auth"])


@router.get(LOGIN_PATH, operation_id="loginWithLink", summary="Sign in with a one-time link")
async def login_with_link(
    request: Request, token: Annotated[str, Query(min_length=1, max_length=256)]
) -> JSONResponse:
    links: LoginLinks = request.app.state.login_links
    if not links.redeem(token):
        raise ApiError(
            401,
            error_body(
                "invalid_login_link",
                "this login link was used already, has expired, or is not one; "
                "restart `codexkit serve` or ask it for a new one",
            ),
        )
    response = JSONResponse({"status": "ok", "message": "signed in"})
    response.set_cookie(**login_cookie_header(request.app.state.token))
    return response


@router.post(
    "/api/auth/login-links", operation_id="createLoginLink", summary="Make a one-time login link"
)
async def create_login_link(request: Request) -> dict[str, str]:
    """For a signed-in client: a fresh link for a browser (the printed one works once)."""
    links: LoginLinks = request.app.state.login_links
    secret = links.issue()
    base = str(request.base_url).rstrip("/")
    return {"status": "ok", "url": f"{base}{LOGIN_PATH}?token={secret}"}
