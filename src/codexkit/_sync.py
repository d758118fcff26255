"""``Codex``: the synchronous twin of :class:`AsyncCodex`, name for name.

Every ``Codex`` owns one private event loop running on its own thread; each call hands
a coroutine to that loop and waits for it. Nothing uses ``asyncio.run`` or the caller's
loop, so the sync client works the same in a script, a thread, a Jupyter cell or code
that already runs an event loop. Turn events cross the thread in batches.

Callbacks you give the client run where the async client would run them: approval
callbacks and ``@tool`` functions that are plain functions run in a worker thread (they
may block, and may use this client); listeners (:meth:`Codex.add_listener`) run on the
loop thread. Only ``exec_command``'s ``on_output`` is brought back to the calling thread.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import os
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import Unpack

from ._client import AsyncCodex
from ._errors import CodexError
from ._rpc import Middleware, RequestHandler
from ._sync_account import SyncClientOps, SyncThreadOps
from ._thread import CLIENT_DEFAULT, ForkOptions, TurnOptions
from .approvals import ApprovalPolicy
from .events import Event
from .types import InputLike, ServerInfo, TurnResult

if TYPE_CHECKING:
    from ._thread import AsyncThread
    from ._turn import AsyncTurn
    from .tools import Tool

__all__ = ["Codex", "Thread", "Turn"]

_T = TypeVar("_T")
Json = dict[str, Any]


class _Portal:
    """A private event loop on a thread of its own; sync calls run their work there."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="codexkit-loop", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        if pending:
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    def submit(self, coroutine: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        """Start ``coroutine`` on the private loop; the future holds its outcome."""
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise CodexError(
                "a sync codexkit call was made from codexkit's own loop thread (from an "
                "async callback or a listener?); use the async API there"
            )
        if self._loop.is_closed():
            coroutine.close()
            raise CodexError("this Codex client is closed")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` on the private loop and return its result (or raise)."""
        future = self.submit(coroutine)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt: do not leave the work running
            raise

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


class Codex(SyncClientOps):
    """A synchronous client for one ``codex app-server``; see :class:`AsyncCodex`.

    ::

        with Codex() as codex:
            thread = codex.start_thread()
            print(thread.ask("Say hello"))
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
        codex_home: str | os.PathLike[str] | None = None,
        config: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        codex_bin: str | os.PathLike[str] | None = None,
        approval_policy: str | ApprovalPolicy | None = None,
        reasoning_effort: str | None = None,
        additional_directories: Sequence[str | os.PathLike[str]] | None = None,
        network_access: bool | None = None,
        web_search: bool | str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        tools: Iterable[Tool] | None = None,
        connect: str | None = None,
        request_timeout: float | None = 120.0,
        startup_timeout: float = 30.0,
        turn_idle_timeout: float | None = 600.0,
        request_handler: RequestHandler | None = None,
    ) -> None:
        self._async = AsyncCodex(
            model=model,
            cwd=cwd,
            codex_home=codex_home,
            config=config,
            env=env,
            codex_bin=codex_bin,
            approval_policy=approval_policy,
            reasoning_effort=reasoning_effort,
            additional_directories=additional_directories,
            network_access=network_access,
            web_search=web_search,
            api_key=api_key,
            base_url=base_url,
            tools=tools,
            connect=connect,
            request_timeout=request_timeout,
            startup_timeout=startup_timeout,
            turn_idle_timeout=turn_idle_timeout,
            request_handler=request_handler,
        )
        self._portal: _Portal | None = None

    @property
    def async_client(self) -> AsyncCodex:
        """The :class:`AsyncCodex` underneath (run its coroutines on its own loop only)."""
        return self._async

    def __enter__(self) -> Codex:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start (or connect to) the app-server and complete the handshake."""
        if self._portal is None:
            self._portal = _Portal()
        self._call(self._async.start())

    def close(self) -> None:
        """Shut the app-server down and stop the private loop."""
        portal, self._portal = self._portal, None
        if portal is not None:
            try:
                portal.call(self._async.close())
            finally:
                portal.close()

    def _submit(self, coroutine: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        if self._portal is None:
            coroutine.close()
            raise CodexError("Codex is not started; use `with Codex() as codex`")
        return self._portal.submit(coroutine)

    def _call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        if self._portal is None:
            coroutine.close()
            raise CodexError("Codex is not started; use `with Codex() as codex`")
        return self._portal.call(coroutine)

    @property
    def metadata(self) -> ServerInfo:
        """What the server said in the handshake (its version, ``CODEX_HOME``, platform)."""
        return self._async.metadata

    # -- threads ------------------------------------------------------------------------

    def start_thread(
        self,
        *,
        cwd: str | os.PathLike[str] | None = None,
        model: str | None = None,
        reasoning_effort: str | None = None,
        sandbox: str | None = None,
        additional_directories: Sequence[str | os.PathLike[str]] | None = None,
        network_access: bool | None = None,
        web_search: bool | str | None = None,
        approval_policy: str | ApprovalPolicy | None = None,
        instructions: str | None = None,
        base_instructions: str | None = None,
        ephemeral: bool | None = None,
        config: Mapping[str, Any] | None = None,
        tools: Iterable[Tool] | None = None,
        params: Json | None = None,
    ) -> Thread:
        """Start a new thread; see :meth:`AsyncCodex.start_thread`."""
        thread = self._async.start_thread(
            cwd=cwd,
            model=model,
            reasoning_effort=reasoning_effort,
            sandbox=sandbox,
            additional_directories=additional_directories,
            network_access=network_access,
            web_search=web_search,
            approval_policy=approval_policy,
            instructions=instructions,
            base_instructions=base_instructions,
            ephemeral=ephemeral,
            config=config,
            tools=tools,
            params=params,
        )
        return Thread(self, self._call(thread))

    def resume_thread(
        self,
        thread_id: str,
        *,
        cwd: str | os.PathLike[str] | None = None,
        model: str | None = None,
        sandbox: str | None = None,
        approval_policy: str | ApprovalPolicy | None = None,
        config: Mapping[str, Any] | None = None,
        params: Json | None = None,
    ) -> Thread:
        """Open a stored thread; see :meth:`AsyncCodex.resume_thread`."""
        thread = self._async.resume_thread(
            thread_id,
            cwd=cwd,
            model=model,
            sandbox=sandbox,
            approval_policy=approval_policy,
            config=config,
            params=params,
        )
        return Thread(self, self._call(thread))

    def thread(self, thread_id: str) -> Thread:
        """A handle on a stored thread without loading it; see :meth:`AsyncCodex.thread`."""
        return Thread(self, self._async.thread(thread_id))

    def request(self, method: str, params: Any = None, *, timeout: float | None = None) -> Any:
        """Send any app-server request and return its raw result."""
        return self._call(self._async.request(method, params, timeout=timeout))

    def add_listener(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener`` with every event no running turn claims; returns a function
        that removes it. The listener runs on the client's loop thread: keep it quick
        (hand work to a queue) and do not call this client from it."""
        return self._async.add_listener(listener)

    def use(self, middleware: Middleware) -> None:
        """Add a hook ``(direction, message)`` that sees every message in and out (it
        runs on the client's loop thread)."""
        self._async.use(middleware)

    def stderr_tail(self) -> str:
        """The last lines the app-server wrote to stderr."""
        return self._async.stderr_tail()


class Thread(SyncThreadOps):
    """A thread on the app-server; the sync twin of :class:`AsyncThread`."""

    def __init__(self, codex: Codex, thread: AsyncThread) -> None:
        self.codex = codex
        self._async = thread

    @property
    def id(self) -> str:
        return self._async.id

    @property
    def info(self) -> Json:
        return self._async.info

    def _call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        return self.codex._call(coroutine)

    def turn(
        self,
        input: InputLike,
        *,
        model: str | None = None,
        reasoning_effort: str | None = None,
        cwd: str | None = None,
        output_type: type[Any] | None = None,
        output_schema: Json | None = None,
        approval_policy: str | None = None,
        summary: str | None = None,
        collaboration_mode: str | None = None,
        idle_timeout: float | None = CLIENT_DEFAULT,
        params: Json | None = None,
    ) -> Turn:
        """Start a turn and return it at once; iterate it or call ``turn.run()``. The
        options are those of :meth:`AsyncThread.turn`."""
        turn = self._async.turn(
            input,
            model=model,
            reasoning_effort=reasoning_effort,
            cwd=cwd,
            output_type=output_type,
            output_schema=output_schema,
            approval_policy=approval_policy,
            summary=summary,
            collaboration_mode=collaboration_mode,
            idle_timeout=idle_timeout,
            params=params,
        )
        return Turn(self, self._call(turn))

    def run(
        self, input: InputLike, *, timeout: float | None = None, **options: Unpack[TurnOptions]
    ) -> TurnResult:
        """Run one turn to the end and return its :class:`TurnResult`; ``options`` are
        those of :meth:`turn`."""
        return self.turn(input, **options).run(timeout=timeout)

    def ask(
        self, input: InputLike, *, timeout: float | None = None, **options: Unpack[TurnOptions]
    ) -> str:
        """Run one turn and return only the agent's final text ("" if it wrote none)."""
        return self.run(input, timeout=timeout, **options).final_response or ""

    def fork(self, **options: Unpack[ForkOptions]) -> Thread:
        """A new thread with this thread's history; the original is left as it is."""
        return Thread(self.codex, self._call(self._async.fork(**options)))

    def read(self, *, include_turns: bool = True) -> Json:
        """The thread as stored by the app-server (``thread/read``), with its turns."""
        return self._call(self._async.read(include_turns=include_turns))

    def review(
        self,
        *,
        base_branch: str | None = None,
        commit: str | None = None,
        commit_title: str | None = None,
        instructions: str | None = None,
        target: Json | None = None,
    ) -> Turn:
        """Start a review of code changes in the thread's directory, as a turn of the
        thread; see :meth:`AsyncThread.review`."""
        review = self._async.review(
            base_branch=base_branch,
            commit=commit,
            commit_title=commit_title,
            instructions=instructions,
            target=target,
        )
        return Turn(self, self._call(review))

    def __repr__(self) -> str:
        return f"Thread(id={self.id!r})"


class Turn:
    """A running turn; iterate it for events (synchronously) or call :meth:`run`."""

    def __init__(self, thread: Thread, turn: AsyncTurn) -> None:
        self.thread = thread
        self._async = turn
        self._buffer: collections.deque[Event] = collections.deque()

    @property
    def id(self) -> str | None:
        return self._async.id

    @property
    def thread_id(self) -> str:
        return self._async.thread_id

    @property
    def idle_timeout(self) -> float | None:
        return self._async.idle_timeout

    @property
    def result(self) -> TurnResult | None:
        """The result once the stream has reached the end of the turn."""
        return self._async.result

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        if not self._buffer:
            self._buffer.extend(self.thread.codex._call(self._async.next_batch()))
            if not self._buffer:
                raise StopIteration
        return self._buffer.popleft()

    def run(self, *, timeout: float | None = None) -> TurnResult:
        """Consume the remaining events and return the result (errors as in
        :meth:`AsyncTurn.run`)."""
        self._buffer.clear()
        return self.thread.codex._call(self._async.run(timeout=timeout))

    def steer(self, input: InputLike) -> None:
        """Add input to the turn while it runs."""
        self.thread.codex._call(self._async.steer(input))

    def interrupt(self) -> None:
        """Ask the agent to stop; the stream then ends with status ``interrupted``."""
        self.thread.codex._call(self._async.interrupt())

    def __repr__(self) -> str:
        return f"Turn(id={self.id!r}, thread_id={self.thread.id!r})"
