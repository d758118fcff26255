"""The codex account of the runtime: read it, sign in and out, rate limits.

ChatGPT sign-in needs a browser and OpenAI's servers; whatever the runtime answers (a
login URL, or its error) is passed through as it is.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from ...contract import CancelAccountLoginRequest, LogoutAccountRequest, StartAccountLoginRequest
from ..deps import RuntimeDep
from ._common import contract_route, passthrough, wrap

router = APIRouter(tags=["account"])


@contract_route(router, "readAccount")
async def read_account(runtime: RuntimeDep) -> Any:
    return await passthrough(runtime, "account/read", {})


@contract_route(router, "startAccountLogin")
async def start_account_login(
    runtime: RuntimeDep, body: Annotated[StartAccountLoginRequest, Body()]
) -> dict[str, Any]:
    wire = body.model_dump(by_alias=True, exclude_none=True)
    return await wrap(runtime, "account/login/start", wire)


@contract_route(router, "cancelAccountLogin")
async def cancel_account_login(
    runtime: RuntimeDep, body: Annotated[CancelAccountLoginRequest, Body()]
) -> dict[str, Any]:
    return await wrap(runtime, "account/login/cancel", {"loginId": body.login_id})


@contract_route(router, "logoutAccount")
async def logout_account(
    runtime: RuntimeDep, body: Annotated[LogoutAccountRequest | None, Body()] = None
) -> dict[str, Any]:
    return await wrap(runtime, "account/logout")


@contract_route(router, "readAccountRateLimits")
async def read_account_rate_limits(runtime: RuntimeDep) -> Any:
    return await passthrough(runtime, "account/rateLimits/read", {})
