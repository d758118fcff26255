"""The one async core every manager client runs on: HTTP calls with hooks and retries.

Domains (``sessions``, ``approvals``, ...) describe each call by its contract operation;
the core fills in the path, sends it through the request executor (httpx by default),
retries what the policy allows, and turns error answers into :mod:`.errors`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from ..contract import Operation, operation
from ._config import ManagerConfig
from ._extend import (
    HeaderProvider,
    HookRegistry,
    ManagerRequest,
    ManagerResponse,
    RequestContext,
    RequestExecutor,
    RetryPolicy,
    resolve,
)
from .errors import ManagerError, TransportError, ValidationError, error_for

__all__ = ["AsyncCore", "ValidationMode"]

ValidationMode = Literal["typed-only", "strict", "off"]
_PATH_PARAM = re.compile(r"\{(\w+)\}")


class HttpxExecutor:
    """The default executor: one pooled ``httpx.AsyncClient`` for every call."""

    def __init__(self) -> None:
        self._client = httpx.AsyncClient()

    async def __call__(self, request: ManagerRequest) -> ManagerResponse:
        answer = await self._client.request(
            request.method,
            request.url,
            headers=request.headers,
            params=request.query,
            # Bodiless operations go out with no body at all, as the contract expects.
            content=None if request.json is None else json.dumps(request.json).encode(),
            timeout=request.timeout,
        )
        return ManagerResponse(answer.status_code, decode_json(answer.content), answer.headers)

    async def aclose(self) -> None:
        await self._client.aclose()


def decode_json(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None


def _query_value(value: Any) -> str:
    # The contract's booleans in queries are `true`/`false`, not Python's spelling.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


#: 409 codes of a decision that mean "already handled" (codex-manager answers
#: ``in_flight``; codexkit serve ``already_resolved``). ``reconciled`` is not one: the
#: request expired undecided (its app-server died), which the caller must hear about.
HANDLED_CONFLICTS = frozenset({"in_flight", "already_resolved"})


def already_handled(status: int, body: Any) -> bool:
    """A decision on a request that is already resolved: 404, or 409 ``in_flight`` /
    ``already_resolved`` (the contract's notes: these count as success)."""
    code = body.get("code") if isinstance(body, dict) else None
    return status == 404 or (status == 409 and code in HANDLED_CONFLICTS)


class AsyncCore:
    """Sends the calls of one manager client; owns its executor unless one was given."""

    def __init__(
        self,
        config: ManagerConfig,
        *,
        request_executor: RequestExecutor | None = None,
        header_provider: HeaderProvider | None = None,
        retry_policy: RetryPolicy | None = None,
        hooks: HookRegistry | None = None,
        validation_mode: ValidationMode = "typed-only",
    ) -> None:
        self.config = config
        self.header_provider = header_provider
        self.retry_policy = retry_policy or RetryPolicy()
        self.hooks = hooks or HookRegistry()
        self.validation_mode: ValidationMode = validation_mode
        self._own_executor = HttpxExecutor() if request_executor is None else None
        self._executor: RequestExecutor = request_executor or self._own_executor  # type: ignore[assignment]
        self.requests_sent = 0  # every attempt that went out (the benchmark counts them)

    async def headers(self) -> dict[str, str]:
        """The headers every request and the websocket carry: the config's, the bearer
        token's ``Authorization``, then the header provider's (which win)."""
        found = dict(self.config.headers)
        if self.config.bearer_token:
            found["Authorization"] = f"Bearer {self.config.bearer_token}"
        if self.header_provider is not None:
            found.update(await resolve(self.header_provider()))
        return found

    async def call(
        self,
        operation_id: str,
        *,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotent_decision: bool = False,
    ) -> Any:
        """Run one contract operation; its body (a dict, as the server sent it).

        ``strict`` validation checks the answer against the contract's model too (and
        still returns the dict).
        """
        answer = await self.call_raw(
            operation_id,
            params=params,
            query=query,
            body=body,
            idempotent_decision=idempotent_decision,
        )
        if self.validation_mode == "strict":
            validate_answer(operation(operation_id), answer)
        return answer.body

    async def call_raw(
        self,
        operation_id: str,
        *,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotent_decision: bool = False,
    ) -> ManagerResponse:
        """Run one contract operation; the whole answer (status, body, headers)."""
        found = operation(operation_id)
        path = _PATH_PARAM.sub(lambda m: _segment(params, m.group(1)), found.path)
        return await self.send(
            operation_id,
            found.method,
            path.removeprefix("/api"),
            query=query,
            body=body,
            idempotent_decision=idempotent_decision,
        )

    async def send(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        allow_statuses: tuple[int, ...] = (),
        idempotent_decision: bool = False,
    ) -> ManagerResponse:
        """Send a request to ``path`` under the API prefix; retried as the policy says."""
        request = ManagerRequest(
            operation=operation,
            method=method.upper(),
            url=self.config.api_url + path,
            headers={**await self.headers(), **(headers or {})},
            query={k: _query_value(v) for k, v in (query or {}).items() if v is not None},
            json=body,
            timeout=self.config.timeout,
        )
        if body is not None:
            request.headers.setdefault("Content-Type", "application/json")
        attempt = 1
        while True:
            context = RequestContext(request, attempt)
            try:
                return await self._attempt(
                    context, allow_statuses=allow_statuses, idempotent=idempotent_decision
                )
            except ManagerError as error:
                if not self._should_retry(request, error, attempt):
                    raise
            await asyncio.sleep(self.retry_policy.delay(attempt))
            attempt += 1

    async def _attempt(
        self, context: RequestContext, *, allow_statuses: tuple[int, ...], idempotent: bool
    ) -> ManagerResponse:
        await self.hooks.run_before(context)
        request = context.request
        self.requests_sent += 1
        try:
            try:
                answer = await resolve(self._executor(request))
            except httpx.HTTPError as error:
                raise TransportError(
                    f"{request.operation}: {type(error).__name__}: {error}",
                    operation=request.operation,
                ) from error
            if not (
                200 <= answer.status < 300
                or answer.status in allow_statuses
                or (idempotent and already_handled(answer.status, answer.body))
            ):
                raise error_for(answer.status, answer.body, request.operation)
        except BaseException as error:
            await self.hooks.run_error(context, error)
            raise
        await self.hooks.run_after(context, answer)
        return answer

    def _should_retry(self, request: ManagerRequest, error: ManagerError, attempt: int) -> bool:
        policy = self.retry_policy
        if attempt >= policy.max_attempts or not policy.allows(request.operation, request.method):
            return False
        malformed = error.status >= 400 and not (
            isinstance(error.body, dict) and "status" in error.body
        )
        return (
            isinstance(error, TransportError) or error.status in policy.retry_statuses or malformed
        )

    async def aclose(self) -> None:
        if self._own_executor is not None:
            await self._own_executor.aclose()


def _segment(params: Mapping[str, str] | None, name: str) -> str:
    if not params or name not in params:
        raise TypeError(f"missing path parameter {name!r}")
    # Ids are opaque strings: quote everything, '/' included.
    return quote(str(params[name]), safe="")


def validate_answer(operation: Operation, answer: ManagerResponse) -> BaseModel | None:
    """The answer as the contract's model of its status (``None`` when the contract has
    none); ``ValidationError`` when it does not match."""
    model = operation.responses.get(answer.status)
    if model is None or not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    try:
        return model.model_validate(answer.body)
    except PydanticValidationError as error:
        raise ValidationError(
            f"{operation.operation_id}: the answer does not match the contract: {error}",
            status=answer.status,
            body=answer.body,
            operation=operation.operation_id,
        ) from error
