"""The signed-in account (``codex.account``) and codex's settings (``codex.settings``).

Both are thin views over the client's router; they keep no state of their
own, so ``codex.account`` may be called as often as you like.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..errors import CodexTimeoutError, LoginFailedError
from .resources import put

if TYPE_CHECKING:
    from ..events import Event
    from ..protocol import ClientMethod

__all__ = [
    "AccountInfo",
    "AsyncAccount",
    "AsyncChatGptLogin",
    "AsyncDeviceCodeLogin",
    "AsyncSettings",
    "ConfigWriteResult",
    "LoginFailedError",
]

Json = dict[str, Any]

_LOGIN_COMPLETED = "account/login/completed"


class _Client(Protocol):
    """The part of the client's router these views use."""

    async def request(
        self, method: ClientMethod, params: Any = None, *, timeout: float | None = None
    ) -> Any: ...

    def add_listener(self, listener: Callable[[Event], None]) -> Callable[[], None]: ...


# -- account ------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountInfo:
    """The account codex uses.

    ``type`` is ``"apiKey"``, ``"chatgpt"`` or ``"amazonBedrock"``; ``email`` and
    ``plan_type`` are set for ChatGPT accounts. ``requires_openai_auth`` tells whether
    the configured model provider needs OpenAI credentials at all. ``raw`` is the whole
    ``account/read`` result.
    """

    type: str
    email: str | None
    plan_type: str | None
    requires_openai_auth: bool
    raw: Json = field(repr=False, compare=False)


class _LoginWatch:
    """Collects ``account/login/completed`` notifications from before the login id is
    known (the notification may be routed before the awaiting coroutine resumes)."""

    def __init__(self, codex: _Client) -> None:
        self._seen: list[Json] = []
        self._login_id: str | None = None
        self._future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._remove: Callable[[], None] | None = codex.add_listener(self._on_event)

    def bind(self, login_id: str) -> None:
        self._login_id = login_id
        for params in self._seen:
            self._check(params)
        self._seen.clear()

    def close(self) -> None:
        remove, self._remove = self._remove, None
        if remove is not None:
            with contextlib.suppress(ValueError):
                remove()

    def _on_event(self, event: Event) -> None:
        if event.method != _LOGIN_COMPLETED:
            return
        if self._login_id is None:
            self._seen.append(event.params)
        else:
            self._check(event.params)

    def _check(self, params: Json) -> None:
        if params.get("loginId") == self._login_id and not self._future.done():
            self._future.set_result(params)
            self.close()

    async def wait(self, timeout: float) -> Json:
        try:
            return await asyncio.wait_for(asyncio.shield(self._future), timeout)
        except asyncio.TimeoutError:
            raise CodexTimeoutError(
                f"login {self._login_id} did not complete within {timeout:g} s"
            ) from None


class _PendingLogin:
    """A login started on the server that finishes outside this process."""

    def __init__(self, codex: _Client, watch: _LoginWatch, raw: Json) -> None:
        self._codex = codex
        self._watch = watch
        self.login_id: str = str(raw["loginId"])
        self.raw = raw

    async def wait(self, timeout: float = 600.0) -> None:
        """Wait until the user finishes the login. Raises :class:`LoginFailedError` if it
        fails or is cancelled, :class:`CodexTimeoutError` after ``timeout`` seconds (the
        login stays pending: wait again, or :meth:`cancel` it)."""
        params = await self._watch.wait(timeout)
        if not params.get("success"):
            raise LoginFailedError(self.login_id, params.get("error"))

    async def cancel(self) -> bool:
        """Cancel the login; ``False`` if the server no longer knew it (finished already)."""
        result = await self._codex.request("account/login/cancel", {"loginId": self.login_id})
        return bool(result.get("status") == "canceled")

    @property
    def done(self) -> bool:
        """Whether the server reported the login's end (successful or not)."""
        return self._watch._future.done()


_LoginT = TypeVar("_LoginT", bound=_PendingLogin)


class AsyncChatGptLogin(_PendingLogin):
    """A browser sign-in in progress: open :attr:`url`, then ``await login.wait()``.

    Codex listens on a local port for the browser's redirect, so the browser must run on
    the machine of the app-server.
    """

    def __init__(self, codex: _Client, watch: _LoginWatch, raw: Json) -> None:
        super().__init__(codex, watch, raw)
        self.url: str = str(raw["authUrl"])

    def __repr__(self) -> str:
        return f"AsyncChatGptLogin(login_id={self.login_id!r}, url={self.url!r})"


class AsyncDeviceCodeLogin(_PendingLogin):
    """A device-code sign-in in progress: have the user open :attr:`verification_url`
    anywhere and enter :attr:`user_code`, then ``await login.wait()``."""

    def __init__(self, codex: _Client, watch: _LoginWatch, raw: Json) -> None:
        super().__init__(codex, watch, raw)
        self.user_code: str = str(raw["userCode"])
        self.verification_url: str = str(raw["verificationUrl"])

    def __repr__(self) -> str:
        return (
            f"AsyncDeviceCodeLogin(login_id={self.login_id!r}, user_code={self.user_code!r}, "
            f"verification_url={self.verification_url!r})"
        )


class AsyncAccount:
    """Sign-in state and credentials of the app-server (``account/*``).

    Credentials are stored in the server's ``CODEX_HOME`` (``auth.json``), so they outlive
    the server and are shared by every codex process using that home.
    """

    def __init__(self, codex: _Client) -> None:
        self._codex = codex

    async def read(self, *, refresh_token: bool = False) -> AccountInfo | None:
        """The account in use, or ``None`` when not signed in.

        A provider that does not need OpenAI credentials (a custom ``model_provider``)
        reports no account even with stored credentials. ``refresh_token`` asks codex to
        refresh a ChatGPT token first.
        """
        result = await self._codex.request("account/read", {"refreshToken": refresh_token})
        account = result.get("account")
        if not isinstance(account, dict):
            return None
        return AccountInfo(
            type=str(account.get("type", "")),
            email=account.get("email"),
            plan_type=account.get("planType"),
            requires_openai_auth=bool(result.get("requiresOpenaiAuth")),
            raw=result,
        )

    async def login_api_key(self, api_key: str) -> None:
        """Store an OpenAI API key as codex's credentials (takes effect at once)."""
        await self._codex.request("account/login/start", {"type": "apiKey", "apiKey": api_key})

    async def login_chatgpt(self) -> AsyncChatGptLogin:
        """Start the browser sign-in with a ChatGPT account; see :class:`AsyncChatGptLogin`."""
        return await self._start_login({"type": "chatgpt"}, AsyncChatGptLogin)

    async def login_device_code(self) -> AsyncDeviceCodeLogin:
        """Start a device-code sign-in (for machines without a browser); see
        :class:`AsyncDeviceCodeLogin`. Codex asks OpenAI for the code, so this needs network."""
        return await self._start_login({"type": "chatgptDeviceCode"}, AsyncDeviceCodeLogin)

    async def _start_login(self, params: Json, cls: type[_LoginT]) -> _LoginT:
        watch = _LoginWatch(self._codex)
        try:
            result = await self._codex.request("account/login/start", params)
            login = cls(self._codex, watch, result)
        except BaseException:
            watch.close()
            raise
        watch.bind(login.login_id)
        return login

    async def logout(self) -> None:
        """Forget the stored credentials."""
        await self._codex.request("account/logout")

    async def rate_limits(self) -> Json:
        """The ChatGPT plan's usage limits (``account/rateLimits/read``), raw: the
        ``rateLimits`` snapshot (``primary``/``secondary`` windows, ``credits``,
        ``planType``), ``rateLimitsByLimitId`` and more.

        Needs ChatGPT sign-in: otherwise the server answers with an error
        (:class:`~codexkit.InvalidRequestError`).
        """
        return dict(await self._codex.request("account/rateLimits/read"))


# -- settings -----------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigWriteResult:
    """What a settings write did. ``status`` is ``"ok"``, or ``"okOverridden"`` when a
    layer above the file (such as ``-c`` overrides) still decides the effective value;
    ``version`` is the file's new version, for ``expected_version`` of the next write."""

    status: str
    version: str
    file_path: str
    overridden: Json | None
    raw: Json = field(repr=False, compare=False)

    @staticmethod
    def from_wire(raw: Json) -> ConfigWriteResult:
        return ConfigWriteResult(
            status=str(raw.get("status", "")),
            version=str(raw.get("version", "")),
            file_path=str(raw.get("filePath", "")),
            overridden=raw.get("overriddenMetadata"),
            raw=raw,
        )


class AsyncSettings:
    """Codex's configuration as the server sees it (``config/*``).

    Writes go to the user's ``config.toml`` in ``CODEX_HOME`` (dotted key paths such as
    ``"features.web_search"``). A value of ``None`` removes the key. Threads already
    open keep the settings they started with.
    """

    def __init__(self, codex: _Client) -> None:
        self._codex = codex

    async def read(self, *, cwd: str | None = None) -> Json:
        """The effective configuration: every layer merged (built-in defaults, the user's
        ``config.toml``, project layers between ``cwd`` and its repository root,
        ``-c`` overrides). Keys are codex's ``snake_case`` setting names."""
        result = await self.read_layers(cwd=cwd, include_layers=False)
        return dict(result["config"])

    async def read_layers(self, *, cwd: str | None = None, include_layers: bool = True) -> Json:
        """The raw ``config/read`` result: ``config`` (effective), ``origins`` (which layer
        set each key) and, with ``include_layers``, ``layers`` (each with its file and
        ``version``)."""
        params: Json = {"includeLayers": include_layers}
        if cwd is not None:
            params["cwd"] = str(cwd)
        return dict(await self._codex.request("config/read", params))

    async def write(
        self,
        key_path: str,
        value: Any,
        *,
        merge_strategy: str = "replace",
        expected_version: str | None = None,
        file_path: str | None = None,
    ) -> ConfigWriteResult:
        """Set one setting. ``merge_strategy="upsert"`` merges a table value into the
        existing table instead of replacing it. ``expected_version`` makes the write fail
        if the file changed since that version was read."""
        params: Json = {"keyPath": key_path, "value": value, "mergeStrategy": merge_strategy}
        put(params, expectedVersion=expected_version, filePath=file_path)
        return ConfigWriteResult.from_wire(await self._codex.request("config/value/write", params))

    async def batch_write(
        self,
        edits: Mapping[str, Any],
        *,
        merge_strategy: str = "replace",
        expected_version: str | None = None,
        file_path: str | None = None,
        reload: bool = False,
    ) -> ConfigWriteResult:
        """Set several settings at once, atomically: ``{key_path: value}``. With
        ``reload`` the server also applies runtime settings to loaded threads (not the
        model, reasoning effort or service tier, which are fixed per session)."""
        params: Json = {
            "edits": [
                {"keyPath": key, "value": value, "mergeStrategy": merge_strategy}
                for key, value in edits.items()
            ]
        }
        put(params, expectedVersion=expected_version, filePath=file_path)
        if reload:
            params["reloadUserConfig"] = True
        return ConfigWriteResult.from_wire(await self._codex.request("config/batchWrite", params))

    async def requirements(self) -> Json | None:
        """Administrator-enforced requirements (``requirements.toml`` or MDM), raw, or
        ``None`` when there are none."""
        result = await self._codex.request("configRequirements/read")
        requirements = result.get("requirements")
        return dict(requirements) if isinstance(requirements, dict) else None
