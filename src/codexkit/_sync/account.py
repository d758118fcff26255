"""Sync twins of the client's resources: stored-thread listings, ``codex.account`` with its
pending logins, and ``codex.settings``.

Each wraps its async original and runs every call on the :class:`~codexkit.Codex`'s
private event loop (through the ``Runner`` it was given), so the two can never drift
apart in what they send.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from typing import Any, TypeVar

from .._client.account import (
    AccountInfo,
    AsyncAccount,
    AsyncChatGptLogin,
    AsyncDeviceCodeLogin,
    AsyncSettings,
    ConfigWriteResult,
)
from .._client.resources import (
    AsyncThreadListing,
    ThreadPage,
    ThreadSummary,
)
from .portal import Runner

__all__ = [
    "Account",
    "ChatGptLogin",
    "DeviceCodeLogin",
    "Settings",
    "ThreadListing",
]

Json = dict[str, Any]
PathLike = str | os.PathLike[str]
_T = TypeVar("_T")


async def _step(iterator: AsyncIterator[_T]) -> list[_T]:
    """The next item of ``iterator`` as ``[item]``, or ``[]`` at its end."""
    try:
        return [await iterator.__anext__()]
    except StopAsyncIteration:
        return []


async def _aclose(iterator: AsyncIterator[Any]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


class ThreadListing:
    """The result of :meth:`Codex.list_threads`; the sync twin of :class:`AsyncThreadListing`.

    Iterate it (``for thread in listing``) for every matching thread across pages, or
    call :meth:`pages` for the pages themselves. Pages are requested one at a time, as
    the iteration reaches them; each iteration starts again from the first page.
    """

    def __init__(self, run: Runner, listing: AsyncThreadListing) -> None:
        self._run = run
        self._async = listing

    def __iter__(self) -> Iterator[ThreadSummary]:
        pages = self.pages()
        try:
            for page in pages:
                yield from page.threads
        finally:
            pages.close()

    def pages(self) -> Generator[ThreadPage, None, None]:
        """Each page in turn, following ``nextCursor``."""
        pages = self._async.pages()
        done = False
        try:
            while step := self._run(_step(pages)):
                yield step[0]
            done = True
        finally:
            if not done:  # left early (a `break`): end the async generator on its loop
                with contextlib.suppress(Exception):
                    self._run(_aclose(pages))

    def to_list(self, *, max_items: int | None = None) -> list[ThreadSummary]:
        """Collect the threads (at most ``max_items``) into a list."""
        return self._run(self._async.to_list(max_items=max_items))


class _SyncPendingLogin:
    def __init__(self, run: Runner, login: AsyncChatGptLogin | AsyncDeviceCodeLogin) -> None:
        self._run = run
        self._login = login

    @property
    def login_id(self) -> str:
        return self._login.login_id

    @property
    def raw(self) -> Json:
        return self._login.raw

    @property
    def done(self) -> bool:
        """Whether the server reported the login's end (successful or not)."""
        return self._login.done

    def wait(self, timeout: float = 600.0) -> None:
        """Wait until the user finishes the login. Raises :class:`LoginFailedError` if it
        fails or is cancelled, :class:`CodexTimeoutError` after ``timeout`` seconds (the
        login stays pending: wait again, or :meth:`cancel` it)."""
        self._run(self._login.wait(timeout))

    def cancel(self) -> bool:
        """Cancel the login; ``False`` if the server no longer knew it (finished already)."""
        return self._run(self._login.cancel())


class ChatGptLogin(_SyncPendingLogin):
    """A browser sign-in in progress (the sync twin of :class:`AsyncChatGptLogin`): open
    :attr:`url`, then ``login.wait()``."""

    def __init__(self, run: Runner, login: AsyncChatGptLogin) -> None:
        super().__init__(run, login)
        self._chatgpt = login

    @property
    def url(self) -> str:
        return self._chatgpt.url

    def __repr__(self) -> str:
        return f"ChatGptLogin(login_id={self.login_id!r}, url={self.url!r})"


class DeviceCodeLogin(_SyncPendingLogin):
    """A device-code sign-in in progress (the sync twin of :class:`AsyncDeviceCodeLogin`):
    have the user open :attr:`verification_url` and enter :attr:`user_code`, then
    ``login.wait()``."""

    def __init__(self, run: Runner, login: AsyncDeviceCodeLogin) -> None:
        super().__init__(run, login)
        self._device = login

    @property
    def user_code(self) -> str:
        return self._device.user_code

    @property
    def verification_url(self) -> str:
        return self._device.verification_url

    def __repr__(self) -> str:
        return (
            f"DeviceCodeLogin(login_id={self.login_id!r}, user_code={self.user_code!r}, "
            f"verification_url={self.verification_url!r})"
        )


class Account:
    """Sign-in state and credentials of the app-server; the sync twin of
    :class:`AsyncAccount`."""

    def __init__(self, run: Runner, account: AsyncAccount) -> None:
        self._run = run
        self._async = account

    def read(self, *, refresh_token: bool = False) -> AccountInfo | None:
        """The account in use, or ``None`` when not signed in."""
        return self._run(self._async.read(refresh_token=refresh_token))

    def login_api_key(self, api_key: str) -> None:
        """Store an OpenAI API key as codex's credentials (takes effect at once)."""
        self._run(self._async.login_api_key(api_key))

    def login_chatgpt(self) -> ChatGptLogin:
        """Start the browser sign-in with a ChatGPT account; see :class:`ChatGptLogin`."""
        return ChatGptLogin(self._run, self._run(self._async.login_chatgpt()))

    def login_device_code(self) -> DeviceCodeLogin:
        """Start a device-code sign-in (for machines without a browser)."""
        login = self._run(self._async.login_device_code())
        return DeviceCodeLogin(self._run, login)

    def logout(self) -> None:
        """Forget the stored credentials."""
        self._run(self._async.logout())

    def rate_limits(self) -> Json:
        """The ChatGPT plan's usage limits (``account/rateLimits/read``), raw."""
        return self._run(self._async.rate_limits())


class Settings:
    """Codex's configuration as the server sees it; the sync twin of
    :class:`AsyncSettings`."""

    def __init__(self, run: Runner, settings: AsyncSettings) -> None:
        self._run = run
        self._async = settings

    def read(self, *, cwd: str | None = None) -> Json:
        """The effective configuration, every layer merged."""
        return self._run(self._async.read(cwd=cwd))

    def read_layers(self, *, cwd: str | None = None, include_layers: bool = True) -> Json:
        """The raw ``config/read`` result: ``config``, ``origins`` and ``layers``."""
        return self._run(self._async.read_layers(cwd=cwd, include_layers=include_layers))

    def write(
        self,
        key_path: str,
        value: Any,
        *,
        merge_strategy: str = "replace",
        expected_version: str | None = None,
        file_path: str | None = None,
    ) -> ConfigWriteResult:
        """Set one setting (``None`` removes it)."""
        return self._run(
            self._async.write(
                key_path,
                value,
                merge_strategy=merge_strategy,
                expected_version=expected_version,
                file_path=file_path,
            )
        )

    def batch_write(
        self,
        edits: Mapping[str, Any],
        *,
        merge_strategy: str = "replace",
        expected_version: str | None = None,
        file_path: str | None = None,
        reload: bool = False,
    ) -> ConfigWriteResult:
        """Set several settings at once, atomically: ``{key_path: value}``."""
        return self._run(
            self._async.batch_write(
                edits,
                merge_strategy=merge_strategy,
                expected_version=expected_version,
                file_path=file_path,
                reload=reload,
            )
        )

    def requirements(self) -> Json | None:
        """Administrator-enforced requirements, raw, or ``None`` when there are none."""
        return self._run(self._async.requirements())
