"""The extension points: request executors, header providers, retry policies, hooks.

Every callable here may be plain or ``async``; the core awaits what needs awaiting, so
one extension serves the sync client and the async one alike.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

__all__ = [
    "HeaderProvider",
    "HookRegistry",
    "ManagerRequest",
    "ManagerResponse",
    "RequestContext",
    "RequestExecutor",
    "RetryPolicy",
    "resolve",
]

_T = TypeVar("_T")


async def resolve(value: _T | Awaitable[_T]) -> _T:
    """``value``, awaited when it is awaitable (a plain or an ``async`` callback's result)."""
    if inspect.isawaitable(value):
        return await value
    return value


@dataclass
class ManagerRequest:
    """One HTTP request about to go out. Hooks may change ``headers``, ``query``, ``json``."""

    operation: str
    method: str
    url: str
    headers: dict[str, str]
    query: dict[str, str]
    json: Any
    timeout: float


@dataclass(frozen=True)
class ManagerResponse:
    """An answer: its status, its decoded JSON body (``None`` when empty or not JSON) and
    its headers."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


class RequestExecutor(Protocol):
    """Sends one request; ``request_executor=`` replaces httpx (for tests, proxies, ...)."""

    def __call__(
        self, request: ManagerRequest, /
    ) -> Awaitable[ManagerResponse] | ManagerResponse: ...


#: Extra headers for every request and the websocket, asked for each time (a rotating
#: token, a trace id). Plain or ``async``.
HeaderProvider = Callable[[], "Mapping[str, str] | Awaitable[Mapping[str, str]]"]


@dataclass(frozen=True)
class RequestContext:
    """What hooks see: the request and which attempt this is (1 for the first)."""

    request: ManagerRequest
    attempt: int


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are tried again, how often, and how long to wait between tries.

    Only ``retryable_operations`` (contract operation ids; default: every ``GET``, which
    changes nothing on the server) are retried, on a transport failure, on one of
    ``retry_statuses``, or on an error answer without the contract's ``status`` field.
    The wait doubles from ``backoff_seconds`` up to ``max_backoff_seconds``.
    """

    max_attempts: int = 3
    backoff_seconds: float = 0.2
    max_backoff_seconds: float = 5.0
    retry_statuses: frozenset[int] = frozenset({502, 503, 504})
    retryable_operations: frozenset[str] | None = None

    def allows(self, operation: str, method: str) -> bool:
        if self.retryable_operations is None:
            return method.upper() == "GET"
        return operation in self.retryable_operations

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1)))


BeforeHook = Callable[[RequestContext], Any]
AfterHook = Callable[[RequestContext, ManagerResponse], Any]
ErrorHook = Callable[[RequestContext, BaseException], Any]


class HookRegistry:
    """``before`` runs ahead of each attempt (it may edit the request), ``after`` on each
    answer, ``on_error`` on each failure; in the order they were added."""

    def __init__(self) -> None:
        self.before_hooks: list[BeforeHook] = []
        self.after_hooks: list[AfterHook] = []
        self.error_hooks: list[ErrorHook] = []

    def before(self, hook: BeforeHook) -> BeforeHook:
        self.before_hooks.append(hook)
        return hook

    def after(self, hook: AfterHook) -> AfterHook:
        self.after_hooks.append(hook)
        return hook

    def on_error(self, hook: ErrorHook) -> ErrorHook:
        self.error_hooks.append(hook)
        return hook

    def use_middleware(self, middleware: object) -> None:
        """Add an object's ``before``/``after``/``on_error`` methods (those it has)."""
        for name, add in (
            ("before", self.before),
            ("after", self.after),
            ("on_error", self.on_error),
        ):
            method = getattr(middleware, name, None)
            if callable(method):
                add(method)

    async def run_before(self, context: RequestContext) -> None:
        for hook in self.before_hooks:
            await resolve(hook(context))

    async def run_after(self, context: RequestContext, response: ManagerResponse) -> None:
        for hook in self.after_hooks:
            await resolve(hook(context, response))

    async def run_error(self, context: RequestContext, error: BaseException) -> None:
        for hook in self.error_hooks:
            await resolve(hook(context, error))
