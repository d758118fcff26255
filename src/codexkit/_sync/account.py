"""Sync twins of the rest of the async surface: the server-wide operations of
:class:`~codexkit.AsyncCodex` (stored threads, models, commands, ``codex.account`` with
its pending logins, ``codex.settings``) and the housekeeping of
:class:`~codexkit.AsyncThread`, mixed into :class:`~codexkit.Codex` and
:class:`~codexkit.Thread`.

Each wraps its async original and runs every call on the :class:`~codexkit.Codex`'s
private event loop, so the two can never drift apart in what they send.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import queue
from collections.abc import AsyncIterator, Coroutine, Generator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .._client.account import (
    AccountInfo,
    AsyncAccount,
    AsyncChatGptLogin,
    AsyncDeviceCodeLogin,
    AsyncSettings,
    ConfigWriteResult,
)
from .._client.ops import (
    AsyncThreadListing,
    CommandResult,
    ModelInfo,
    OutputCallback,
    ThreadPage,
    ThreadSummary,
)
from ..types import TurnResult

if TYPE_CHECKING:
    from .._client.client import AsyncCodex
    from .._client.thread import AsyncThread

__all__ = [
    "Account",
    "ChatGptLogin",
    "DeviceCodeLogin",
    "Settings",
    "SyncClientOps",
    "SyncThreadOps",
    "ThreadListing",
]

Json = dict[str, Any]
PathLike = str | os.PathLike[str]
_T = TypeVar("_T")


class _Runner(Protocol):
    """What the views need of a :class:`~codexkit.Codex`: a way to run a coroutine on its
    loop and wait for the result."""

    def _call(self, coroutine: Coroutine[Any, Any, _T]) -> _T: ...


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

    def __init__(self, codex: _Runner, listing: AsyncThreadListing) -> None:
        self._codex = codex
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
            while step := self._codex._call(_step(pages)):
                yield step[0]
            done = True
        finally:
            if not done:  # left early (a `break`): end the async generator on its loop
                with contextlib.suppress(Exception):
                    self._codex._call(_aclose(pages))

    def to_list(self, *, max_items: int | None = None) -> list[ThreadSummary]:
        """Collect the threads (at most ``max_items``) into a list."""
        return self._codex._call(self._async.to_list(max_items=max_items))


class _SyncPendingLogin:
    def __init__(self, codex: _Runner, login: AsyncChatGptLogin | AsyncDeviceCodeLogin) -> None:
        self._codex = codex
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
        self._codex._call(self._login.wait(timeout))

    def cancel(self) -> bool:
        """Cancel the login; ``False`` if the server no longer knew it (finished already)."""
        return self._codex._call(self._login.cancel())


class ChatGptLogin(_SyncPendingLogin):
    """A browser sign-in in progress (the sync twin of :class:`AsyncChatGptLogin`): open
    :attr:`url`, then ``login.wait()``."""

    def __init__(self, codex: _Runner, login: AsyncChatGptLogin) -> None:
        super().__init__(codex, login)
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

    def __init__(self, codex: _Runner, login: AsyncDeviceCodeLogin) -> None:
        super().__init__(codex, login)
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

    def __init__(self, codex: _Runner, account: AsyncAccount) -> None:
        self._codex = codex
        self._async = account

    def read(self, *, refresh_token: bool = False) -> AccountInfo | None:
        """The account in use, or ``None`` when not signed in."""
        return self._codex._call(self._async.read(refresh_token=refresh_token))

    def login_api_key(self, api_key: str) -> None:
        """Store an OpenAI API key as codex's credentials (takes effect at once)."""
        self._codex._call(self._async.login_api_key(api_key))

    def login_chatgpt(self) -> ChatGptLogin:
        """Start the browser sign-in with a ChatGPT account; see :class:`ChatGptLogin`."""
        return ChatGptLogin(self._codex, self._codex._call(self._async.login_chatgpt()))

    def login_device_code(self) -> DeviceCodeLogin:
        """Start a device-code sign-in (for machines without a browser)."""
        login = self._codex._call(self._async.login_device_code())
        return DeviceCodeLogin(self._codex, login)

    def logout(self) -> None:
        """Forget the stored credentials."""
        self._codex._call(self._async.logout())

    def rate_limits(self) -> Json:
        """The ChatGPT plan's usage limits (``account/rateLimits/read``), raw."""
        return self._codex._call(self._async.rate_limits())


class Settings:
    """Codex's configuration as the server sees it; the sync twin of
    :class:`AsyncSettings`."""

    def __init__(self, codex: _Runner, settings: AsyncSettings) -> None:
        self._codex = codex
        self._async = settings

    def read(self, *, cwd: str | None = None) -> Json:
        """The effective configuration, every layer merged."""
        return self._codex._call(self._async.read(cwd=cwd))

    def read_layers(self, *, cwd: str | None = None, include_layers: bool = True) -> Json:
        """The raw ``config/read`` result: ``config``, ``origins`` and ``layers``."""
        return self._codex._call(self._async.read_layers(cwd=cwd, include_layers=include_layers))

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
        return self._codex._call(
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
        return self._codex._call(
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
        return self._codex._call(self._async.requirements())


# -- mixed into Codex and Thread ------------------------------------------------------


class SyncClientOps:
    """The methods of :class:`~codexkit.Codex` that mirror ``ClientOpsMixin``."""

    if TYPE_CHECKING:
        _async: AsyncCodex

        def _call(self, coroutine: Coroutine[Any, Any, _T]) -> _T: ...

        def _submit(self, coroutine: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]: ...

    def list_threads(
        self,
        *,
        page_size: int | None = None,
        archived: bool = False,
        cwd: PathLike | Sequence[PathLike] | None = None,
        model_providers: Sequence[str] | None = None,
        search: str | None = None,
        sort_key: str | None = None,
        sort_direction: str | None = None,
        source_kinds: Sequence[str] | None = None,
        parent_thread_id: str | None = None,
        state_db_only: bool = False,
        cursor: str | None = None,
        params: Json | None = None,
    ) -> ThreadListing:
        """The stored threads, newest first, fetched page by page as you iterate
        (``for thread in codex.list_threads(): ...``); see :meth:`AsyncCodex.list_threads`."""
        listing = self._async.list_threads(
            page_size=page_size,
            archived=archived,
            cwd=cwd,
            model_providers=model_providers,
            search=search,
            sort_key=sort_key,
            sort_direction=sort_direction,
            source_kinds=source_kinds,
            parent_thread_id=parent_thread_id,
            state_db_only=state_db_only,
            cursor=cursor,
            params=params,
        )
        return ThreadListing(self, listing)

    def read_thread(self, thread_id: str, *, include_turns: bool = True) -> Json:
        """A stored thread by id, raw (``thread/read``), with its turns unless
        ``include_turns=False``."""
        return self._call(self._async.read_thread(thread_id, include_turns=include_turns))

    # -- the rest of the server -----------------------------------------------------------

    def models(self, *, include_hidden: bool = False) -> list[ModelInfo]:
        """The models the server offers for selection; see :meth:`AsyncCodex.models`."""
        return self._call(self._async.models(include_hidden=include_hidden))

    def exec_command(
        self,
        command: Sequence[str],
        *,
        cwd: PathLike | None = None,
        timeout: float | None = None,
        env: Mapping[str, str | None] | None = None,
        sandbox_policy: str | Mapping[str, Any] | None = None,
        permission_profile: str | None = None,
        output_bytes_cap: int | None = None,
        on_output: OutputCallback | None = None,
        params: Json | None = None,
    ) -> CommandResult:
        """Run one command (an argv list) in codex's sandbox, without a thread; see
        :meth:`AsyncCodex.exec_command`. ``on_output(stream, chunk)`` is called in the
        calling thread as the output arrives (so it may be slow, or use this client)."""
        chunks: queue.SimpleQueue[tuple[str, bytes] | None] = queue.SimpleQueue()
        work = self._async.exec_command(
            command,
            cwd=cwd,
            timeout=timeout,
            env=env,
            sandbox_policy=sandbox_policy,
            permission_profile=permission_profile,
            output_bytes_cap=output_bytes_cap,
            on_output=None if on_output is None else lambda s, c: chunks.put((s, c)),
            params=params,
        )
        if on_output is None:
            return self._call(work)
        future = self._submit(work)
        future.add_done_callback(lambda _: chunks.put(None))  # after every chunk
        try:
            while (chunk := chunks.get()) is not None:
                on_output(*chunk)
            return future.result()
        except BaseException:
            future.cancel()
            raise

    @property
    def account(self) -> Account:
        """Sign-in state and credentials: see :class:`Account`."""
        return Account(self, self._async.account)

    @property
    def settings(self) -> Settings:
        """Codex's configuration files: see :class:`Settings`."""
        return Settings(self, self._async.settings)


class SyncThreadOps:
    """The methods of :class:`~codexkit.Thread` that mirror ``ThreadOpsMixin``."""

    if TYPE_CHECKING:
        _async: AsyncThread

        def _call(self, coroutine: Coroutine[Any, Any, _T]) -> _T: ...

    def refresh(self) -> Json:
        """Re-read the thread's metadata into :attr:`info` and return it."""
        return self._call(self._async.refresh())

    def set_name(self, name: str) -> None:
        """Give the thread a title (shown by ``list_threads`` as ``name``)."""
        self._call(self._async.set_name(name))

    def archive(self) -> None:
        """Archive the thread (it leaves the default listing and is unloaded)."""
        self._call(self._async.archive())

    def unarchive(self) -> Json:
        """Bring an archived thread back to the default listing; returns its metadata."""
        return self._call(self._async.unarchive())

    def delete(self) -> None:
        """Delete the thread and its stored history for good."""
        self._call(self._async.delete())

    def unsubscribe(self) -> str:
        """Stop receiving this thread's events on this connection."""
        return self._call(self._async.unsubscribe())

    def rollback(self, turns: int = 1) -> Json:
        """Drop the last ``turns`` turns from the thread's history (files the agent
        changed are not restored); returns the updated metadata."""
        return self._call(self._async.rollback(turns))

    def background_terminals(self) -> list[Json]:
        """The commands the agent started in this thread that are still running."""
        return self._call(self._async.background_terminals())

    def clean_background_terminals(self) -> None:
        """End every command the agent started in this thread that still runs."""
        self._call(self._async.clean_background_terminals())

    def compact(self, *, wait: bool = True, timeout: float | None = None) -> TurnResult | None:
        """Summarize the conversation so far to free the model's context window."""
        return self._call(self._async.compact(wait=wait, timeout=timeout))
