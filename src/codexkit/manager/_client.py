"""``AsyncCodexManager`` and ``CodexManager``: the control plane's clients.

Both are built the same way over one async core (:class:`._core.AsyncCore`): the async
client hands each call's coroutine to the caller, the sync one runs it on a private
event loop thread (``codexkit._sync.portal``), so their domains are the same objects.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any

from .._sync.portal import Portal
from ._bridge import Bridge, Runner
from ._config import ManagerConfig
from ._core import AsyncCore, ValidationMode
from ._domains import (
    AccountApi,
    ApprovalsApi,
    AppsApi,
    ConfigApi,
    ExtensionsApi,
    FeedbackApi,
    McpApi,
    ModelsApi,
    OrchestratorApi,
    ProjectsApi,
    RawApi,
    RuntimeApi,
    SkillsApi,
    SystemApi,
    ToolCallsApi,
    ToolInputApi,
)
from ._extend import (
    AfterHook,
    BeforeHook,
    ErrorHook,
    HeaderProvider,
    HookRegistry,
    RequestExecutor,
    RetryPolicy,
)
from ._session_handle import SessionHandle
from ._sessions import SessionsApi
from ._skills import RemoteSkillsApi
from ._stream import EventStream, StreamRouter
from ._typed import TypedApi
from ._wait import WaitApi

__all__ = ["AsyncCodexManager", "CodexManager"]

Plugin = Callable[[Any], Any]


class _Manager:
    """What both clients share; ``run`` says how a call's coroutine is carried out."""

    def __init__(
        self,
        base_url: str | None,
        *,
        run: Runner,
        sync: bool,
        config: ManagerConfig | None,
        api_prefix: str | None,
        timeout: float | None,
        bearer_token: str | None,
        headers: Mapping[str, str] | None,
        validation_mode: ValidationMode,
        request_executor: RequestExecutor | None,
        header_provider: HeaderProvider | None,
        retry_policy: RetryPolicy | None,
        hook_registry: HookRegistry | None,
        stream_router: StreamRouter | None,
        plugins: Iterable[Any],
    ) -> None:
        if validation_mode not in ("typed-only", "strict", "off"):
            raise ValueError(
                f"validation_mode must be typed-only, strict or off, not {validation_mode!r}"
            )
        config = (config or ManagerConfig.default()).with_overrides(
            base_url=base_url,
            api_prefix=api_prefix,
            timeout=timeout,
            bearer_token=bearer_token,
            headers=dict(headers) if headers is not None else None,
        )
        self.connection_config = config
        self._core = core = AsyncCore(
            config,
            request_executor=request_executor,
            header_provider=header_provider,
            retry_policy=retry_policy,
            hooks=hook_registry,
            validation_mode=validation_mode,
        )
        bridge = Bridge(core, run, sync=sync)
        self.system = SystemApi(bridge)
        self.account = AccountApi(bridge)
        self.models = ModelsApi(bridge)
        self.apps = AppsApi(bridge)
        self.skills = SkillsApi(bridge)
        self.mcp = McpApi(bridge)
        self.config = ConfigApi(bridge)
        self.runtime = RuntimeApi(bridge)
        self.feedback = FeedbackApi(bridge)
        self.extensions = ExtensionsApi(bridge)
        self.orchestrator = OrchestratorApi(bridge)
        self.projects = ProjectsApi(bridge)
        self.sessions = SessionsApi(bridge)
        self.approvals = ApprovalsApi(bridge)
        self.tool_input = ToolInputApi(bridge)
        self.tool_calls = ToolCallsApi(bridge)
        self.raw = RawApi(bridge)
        self.wait = WaitApi(bridge)
        self.stream = EventStream(core, run, sync=sync, router=stream_router)
        self.typed = TypedApi(bridge)
        self.remote_skills = RemoteSkillsApi(bridge)
        self._bridge = bridge
        for plugin in plugins:
            # A plugin is an object with `setup(client)` or a plain callable.
            setup = getattr(plugin, "setup", plugin)
            setup(self)

    @property
    def validation_mode(self) -> ValidationMode:
        return self._core.validation_mode

    @property
    def hooks(self) -> HookRegistry:
        return self._core.hooks

    @property
    def requests_sent(self) -> int:
        """How many HTTP requests went out (each retry counts)."""
        return self._core.requests_sent

    def session(self, session_id: str) -> SessionHandle:
        """A handle on one session: ``messages``, ``controls``, ``settings``, lists..."""
        return SessionHandle(self.sessions, self._bridge, session_id)

    def before(self, hook: BeforeHook) -> BeforeHook:
        """Decorator: ``hook(context)`` runs ahead of each attempt; it may edit
        ``context.request`` (headers, query, json)."""
        return self._core.hooks.before(hook)

    def after(self, hook: AfterHook) -> AfterHook:
        """Decorator: ``hook(context, response)`` runs on each successful answer."""
        return self._core.hooks.after(hook)

    def on_error(self, hook: ErrorHook) -> ErrorHook:
        """Decorator: ``hook(context, error)`` runs on each failed attempt."""
        return self._core.hooks.on_error(hook)

    def use_middleware(self, middleware: object) -> None:
        """Register an object's ``before``/``after``/``on_error`` methods as hooks."""
        self._core.hooks.use_middleware(middleware)


def _passthrough(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return coroutine


class AsyncCodexManager(_Manager):
    """The async client: every domain method returns a coroutine; ``async with`` closes it.

    ``AsyncCodexManager()`` reaches the ``local`` profile's server with its token when
    that profile exists (``codexkit serve`` writes it), else ``http://127.0.0.1:3001``.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        config: ManagerConfig | None = None,
        api_prefix: str | None = None,
        timeout: float | None = None,
        bearer_token: str | None = None,
        headers: Mapping[str, str] | None = None,
        validation_mode: ValidationMode = "typed-only",
        request_executor: RequestExecutor | None = None,
        header_provider: HeaderProvider | None = None,
        retry_policy: RetryPolicy | None = None,
        hook_registry: HookRegistry | None = None,
        stream_router: StreamRouter | None = None,
        plugins: Iterable[Any] = (),
    ) -> None:
        super().__init__(
            base_url,
            run=_passthrough,
            sync=False,
            config=config,
            api_prefix=api_prefix,
            timeout=timeout,
            bearer_token=bearer_token,
            headers=headers,
            validation_mode=validation_mode,
            request_executor=request_executor,
            header_provider=header_provider,
            retry_policy=retry_policy,
            hook_registry=hook_registry,
            stream_router=stream_router,
            plugins=plugins,
        )

    @classmethod
    def from_profile(cls, name: str = "local", **options: Any) -> AsyncCodexManager:
        """The CLI profile ``name`` (``$XDG_CONFIG_HOME/codex-manager/cli/config.json``)."""
        return cls(config=ManagerConfig.from_profile(name), **options)

    @classmethod
    def from_env(cls, **options: Any) -> AsyncCodexManager:
        """``CODEX_MANAGER_*`` variables (``CODEXKIT_MANAGER_*`` twins win)."""
        return cls(config=ManagerConfig.from_env(), **options)

    async def close(self) -> None:
        self.stream.stop()
        await self._core.aclose()

    async def __aenter__(self) -> AsyncCodexManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class CodexManager(_Manager):
    """The sync client: the same domains as :class:`AsyncCodexManager`, run on a private
    loop thread; ``with`` (or ``close()``) stops it."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        config: ManagerConfig | None = None,
        api_prefix: str | None = None,
        timeout: float | None = None,
        bearer_token: str | None = None,
        headers: Mapping[str, str] | None = None,
        validation_mode: ValidationMode = "typed-only",
        request_executor: RequestExecutor | None = None,
        header_provider: HeaderProvider | None = None,
        retry_policy: RetryPolicy | None = None,
        hook_registry: HookRegistry | None = None,
        stream_router: StreamRouter | None = None,
        plugins: Iterable[Any] = (),
    ) -> None:
        self._portal = Portal()
        super().__init__(
            base_url,
            run=self._portal.call,
            sync=True,
            config=config,
            api_prefix=api_prefix,
            timeout=timeout,
            bearer_token=bearer_token,
            headers=headers,
            validation_mode=validation_mode,
            request_executor=request_executor,
            header_provider=header_provider,
            retry_policy=retry_policy,
            hook_registry=hook_registry,
            stream_router=stream_router,
            plugins=plugins,
        )

    @classmethod
    def from_profile(cls, name: str = "local", **options: Any) -> CodexManager:
        """The CLI profile ``name`` (``$XDG_CONFIG_HOME/codex-manager/cli/config.json``)."""
        return cls(config=ManagerConfig.from_profile(name), **options)

    @classmethod
    def from_env(cls, **options: Any) -> CodexManager:
        """``CODEX_MANAGER_*`` variables (``CODEXKIT_MANAGER_*`` twins win)."""
        return cls(config=ManagerConfig.from_env(), **options)

    def close(self) -> None:
        if self._portal.inherited:
            return
        self.stream.stop()
        try:
            self._portal.call(self._core.aclose())
        finally:
            self._portal.close()

    def __enter__(self) -> CodexManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
