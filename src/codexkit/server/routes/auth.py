"""The one-time login link: trades its secret for the session cookie (for browsers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.responses import Response

from ..auth import LOGIN_PATH, SIGNED_IN_PATH, LoginLinks, login_cookie_header, signed_in
from ..errors import ApiError, error_body
from ..page import wants_page

router = APIRouter(tags=["auth"])


@router.get(LOGIN_PATH, operation_id="loginWithLink", summary="Sign in with a one-time link")
async def login_with_link(
    request: Request, token: Annotated[str, Query(min_length=1, max_length=256)]
) -> Response:
    """Scripts get JSON; a browser (it asks for HTML) is sent on to the web page, which
    says why when the link did not work."""
    links: LoginLinks = request.app.state.login_links
    browser = wants_page(request.headers)
    if not links.redeem(token):
        if browser:
            return RedirectResponse("/?signin=failed", status_code=303)
        raise ApiError(
            401,
            error_body(
                "invalid_login_link",
                "this login link was used already, has expired, or is not one; "
                "restart `codexkit serve` or ask it for a new one",
            ),
        )
    response: Response = (
        RedirectResponse("/", status_code=303)
        if browser
        else JSONResponse({"status": "ok", "message": "signed in"})
    )
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


@router.get(SIGNED_IN_PATH, operation_id="getSignedIn", summary="Whether this client is signed in")
async def get_signed_in(request: Request) -> dict[str, object]:
    """Open to anyone: it tells the caller about its own credentials only."""
    return {"status": "ok", "signedIn": signed_in(request.scope, request.app.state.token)}
