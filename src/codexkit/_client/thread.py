"""A conversation with the agent: its turns, its history, and how it is kept.

``ThreadOpener`` makes :class:`AsyncThread` handles: it turns the client's defaults and a
call's options into ``thread/start``, ``thread/resume`` or ``thread/fork`` params, and
registers the thread's own approval policy and tools with the router."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from typing_extensions import Unpack

from .._runtime.config import flatten_config
from .._structured import OutputSpec
from ..approvals import ApprovalPolicy
from ..errors import CodexError, InvalidRequestError, ThreadHasForksError
from ..options import CLIENT_DEFAULT, ThreadOptions, TurnOptions
from ..types import InputLike, TurnResult, normalize_input
from .resources import read_thread
from .turn import AsyncTurn, start_turn, until_stopped

if TYPE_CHECKING:
    from ..protocol import ClientMethod
    from .dispatch import ThreadHandlers
    from .router import Router

__all__ = ["AsyncThread", "ThreadOpener"]

Json = dict[str, Any]


class ThreadDefaults(Protocol):
    """The client settings a thread starts from (``AsyncCodex`` has them all)."""

    model: str | None
    cwd: str | None
    approval_policy: str | ApprovalPolicy | None
    turn_idle_timeout: float | None
    max_buffered_events: int | None


class ThreadOpener:
    """Opens threads for one client: their params, their request, their handlers."""

    def __init__(self, router: Router, defaults: ThreadDefaults) -> None:
        self.router = router
        self.defaults = defaults

    @property
    def turn_idle_timeout(self) -> float | None:
        return self.defaults.turn_idle_timeout

    @property
    def max_buffered_events(self) -> int | None:
        return self.defaults.max_buffered_events

    async def open(
        self,
        method: ClientMethod,
        wire: Json,
        handlers: ThreadHandlers | None,
        options: Mapping[str, Any],
    ) -> AsyncThread:
        """Send ``method`` with ``wire`` and the params of ``options``; the new thread
        answers its requests with ``handlers``."""
        wire = {**wire, **self.params(**options)}
        result = await self.router.request(method, wire)
        thread = AsyncThread(self, result["thread"])
        self.router.registrations.hold(thread.id, thread, handlers)
        return thread

    def handle(self, thread_id: str) -> AsyncThread:
        """A handle on a stored thread, without asking the server anything."""
        thread = AsyncThread(self, {"id": thread_id})
        self.router.registrations.hold(thread_id, thread)
        return thread

    def params(
        self,
        *,
        cwd: str | os.PathLike[str] | None = None,
        model: str | None = None,
        sandbox: str | None = None,
        approval_policy: str | ApprovalPolicy | None = None,
        instructions: str | None = None,
        base_instructions: str | None = None,
        ephemeral: bool | None = None,
        config: Mapping[str, Any] | None = None,
        params: Json | None = None,
    ) -> Json:
        """The wire params of a thread's options, over the client's defaults."""
        defaults = self.defaults
        cwd = cwd if cwd is not None else defaults.cwd
        policy = approval_policy or defaults.approval_policy
        values = {
            "cwd": os.fspath(cwd) if cwd is not None else None,
            "model": model or defaults.model,
            "sandbox": sandbox,
            "approvalPolicy": policy.mode if isinstance(policy, ApprovalPolicy) else policy,
            "developerInstructions": instructions,
            "baseInstructions": base_instructions,
            "ephemeral": ephemeral,
            "config": flatten_config(config) if config else None,
        }
        wire = {key: value for key, value in values.items() if value is not None}
        wire.update(params or {})
        return wire


class AsyncThread:
    """A thread on the app-server. Get one from :meth:`AsyncCodex.start_thread`,
    :meth:`AsyncCodex.resume_thread` or :meth:`fork`."""

    def __init__(self, opener: ThreadOpener, info: Json) -> None:
        self._opener = opener
        self._router = opener.router
        self.info = info
        self.id: str = str(info["id"])
        self._active: AsyncTurn | None = None

    async def turn(
        self,
        input: InputLike,
        *,
        model: str | None = None,
        effort: str | None = None,
        cwd: str | None = None,
        output_type: type[Any] | None = None,
        output_schema: Json | None = None,
        approval_policy: str | None = None,
        summary: str | None = None,
        collaboration_mode: str | None = None,
        idle_timeout: float | None = CLIENT_DEFAULT,
        params: Json | None = None,
    ) -> AsyncTurn:
        """Start a turn and return it at once; iterate it or ``await turn.run()``.

        ``output_type`` (a pydantic model or any type pydantic can validate) asks for a
        structured answer, parsed into ``result.output``; ``output_schema`` does the same
        with a raw JSON schema (``result.output`` is then the parsed JSON).
        ``collaboration_mode`` ``"plan"`` runs the turn in plan mode (where the agent may
        ask the user questions). ``params`` merges extra raw ``turn/start`` fields.
        """
        wire: Json = {"threadId": self.id, "input": normalize_input(input)}
        output = None
        if output_type is not None or output_schema is not None:
            output = OutputSpec(output_type, output_schema)
        _put(
            wire,
            model=model,
            effort=effort,
            cwd=cwd,
            outputSchema=output.schema if output else None,
            approvalPolicy=approval_policy,
            summary=summary,
        )
        if collaboration_mode is not None:
            settings = {"model": model or self.info.get("model"), "developer_instructions": None}
            wire["collaborationMode"] = {"mode": collaboration_mode, "settings": settings}
        wire.update(params or {})
        return await self._begin("turn/start", wire, idle_timeout=idle_timeout, output=output)

    async def _begin(
        self,
        method: ClientMethod,
        wire: Json,
        *,
        idle_timeout: float | None = CLIENT_DEFAULT,
        output: OutputSpec | None = None,
    ) -> AsyncTurn:
        """Send a request that starts a turn on this thread (a prompt, a compaction, a
        review) and return the turn, already receiving its events."""
        if self._active is not None:
            await until_stopped(self._active)  # an interrupted turn is about to end
        if self._active is not None:
            raise CodexError(
                f"thread {self.id} already has turn {self._active.id} in progress; "
                "steer it, interrupt it or wait for it"
            )
        opener = self._opener
        if idle_timeout is CLIENT_DEFAULT:
            idle_timeout = opener.turn_idle_timeout
        turn = AsyncTurn(
            self._router,
            self.id,
            idle_timeout=idle_timeout,
            max_buffered_events=opener.max_buffered_events,
            output=output,
            on_finished=self._turn_finished,
        )
        self._active = turn
        await start_turn(turn, method, wire)
        return turn

    async def run(
        self, input: InputLike, *, timeout: float | None = None, **options: Unpack[TurnOptions]
    ) -> TurnResult:
        """Run one turn to the end and return its :class:`TurnResult`; ``options`` are
        those of :meth:`turn`."""
        turn = await self.turn(input, **options)
        return await turn.run(timeout=timeout)

    async def ask(
        self, input: InputLike, *, timeout: float | None = None, **options: Unpack[TurnOptions]
    ) -> str:
        """Run one turn and return only the agent's final text ("" if it wrote none)."""
        result = await self.run(input, timeout=timeout, **options)
        return result.final_response or ""

    async def fork(self, **options: Unpack[ThreadOptions]) -> AsyncThread:
        """A new thread with this thread's history; the original is left as it is.
        ``options`` set the new thread up as in :meth:`AsyncCodex.start_thread`."""
        handlers = self._router.handlers(self.id)  # the fork keeps this thread's handlers
        return await self._opener.open("thread/fork", {"threadId": self.id}, handlers, options)

    async def read(self, *, include_turns: bool = True) -> Json:
        """The thread as stored by the app-server (``thread/read``), with its turns."""
        return await read_thread(self._router, self.id, include_turns)

    def _turn_finished(self, turn: AsyncTurn) -> None:
        if self._active is turn:
            self._active = None

    # -- the stored thread ----------------------------------------------------------------

    async def refresh(self) -> Json:
        """Re-read the thread's metadata from the server into :attr:`info` (without its
        turns) and return it."""
        self.info = await read_thread(self._router, self.id, False)
        return self.info

    async def set_name(self, name: str) -> None:
        """Give the thread a title (shown by ``list_threads`` as ``name``)."""
        await self._router.request("thread/name/set", {"threadId": self.id, "name": name})
        self.info["name"] = name

    async def archive(self) -> None:
        """Archive the thread: it leaves the default ``list_threads`` listing (see
        ``list_threads(archived=True)``) and is unloaded from the server. Resume it
        (``codex.resume_thread(id)``) to run turns again."""
        await self._router.request("thread/archive", {"threadId": self.id})
        self._router.registrations.drop(self.id)

    async def unarchive(self) -> Json:
        """Bring an archived thread back to the default listing; returns its metadata."""
        result = await self._router.request("thread/unarchive", {"threadId": self.id})
        self.info = dict(result["thread"])
        return self.info

    async def delete(self) -> None:
        """Delete the thread and its stored history for good. Reading it afterwards fails
        with :class:`~codexkit.InvalidRequestError`.

        A thread that was forked shares its history with its forks: codex refuses to
        delete it while a fork remains, and this raises
        :class:`~codexkit.ThreadHasForksError`. Delete the forks first.
        """
        try:
            await self._router.request("thread/delete", {"threadId": self.id})
        except InvalidRequestError as exc:
            if ThreadHasForksError.FORKED_HISTORY not in exc.message:
                raise
            raise ThreadHasForksError(
                exc.code,
                f"{exc.message}; delete the threads forked from it first",
                exc.data,
                method=exc.method,
            ) from None
        self._router.registrations.drop(self.id)

    async def unsubscribe(self) -> str:
        """Stop receiving this thread's events on this connection; the server unloads a
        thread nobody is subscribed to. Returns ``"unsubscribed"``, ``"notSubscribed"``
        or ``"notLoaded"``. Resume the thread to use it again."""
        result = await self._router.request("thread/unsubscribe", {"threadId": self.id})
        self._router.registrations.drop(self.id)  # no more requests for it come here
        return str(result.get("status", ""))

    async def rollback(self, turns: int = 1) -> Json:
        """Drop the last ``turns`` turns from the thread's history: the model no longer
        sees them, and ``read()`` no longer lists them. Files the agent changed in those
        turns are *not* restored. Returns the thread's updated metadata (also in
        :attr:`info`).

        Counts every turn the server lists, including compactions and reviews. Raises
        :class:`~codexkit.CodexError` if the thread has fewer turns. Only threads with
        paginated history (the default for new threads) can be rolled back; others raise
        :class:`~codexkit.InvalidRequestError`.
        """
        if turns < 1:
            raise ValueError("rollback needs turns >= 1")
        oldest = await self._nth_latest_turn(turns)
        result = await self._router.request(
            "thread/revert", {"threadId": self.id, "beforeTurnId": oldest}
        )
        self.info = dict(result["thread"])
        return self.info

    async def _nth_latest_turn(self, n: int) -> str:
        """The id of the ``n``-th turn counting back from the latest (1 = latest)."""
        seen = 0
        cursor: str | None = None
        while True:
            params: Json = {
                "threadId": self.id,
                "limit": n - seen,
                "sortDirection": "desc",
                "itemsView": "notLoaded",
            }
            if cursor is not None:
                params["cursor"] = cursor
            result = await self._router.request("thread/turns/list", params)
            for turn in result.get("data") or []:
                seen += 1
                if seen == n:
                    return str(turn["id"])
            next_cursor = result.get("nextCursor")
            if not next_cursor or next_cursor == cursor or not result.get("data"):
                raise CodexError(f"thread {self.id} has {seen} turns; cannot roll back {n}")
            cursor = next_cursor

    async def background_terminals(self) -> list[Json]:
        """The commands the agent started in this thread that are still running, whether
        their turn ended or not (``thread/backgroundTerminals/list``). Each entry, as the
        server sends it, has ``processId``, ``itemId`` (the command's item), ``command``,
        ``cwd`` and, where known, ``osPid``, ``cpuPercent`` and ``rssKb``."""
        terminals: list[Json] = []
        cursor: str | None = None
        while True:
            params: Json = {"threadId": self.id}
            if cursor is not None:
                params["cursor"] = cursor
            result = await self._router.request("thread/backgroundTerminals/list", params)
            terminals.extend(result.get("data") or [])
            next_cursor = result.get("nextCursor")
            if not next_cursor or next_cursor == cursor or not result.get("data"):
                return terminals
            cursor = next_cursor

    async def clean_background_terminals(self) -> None:
        """End every command the agent started in this thread that still runs, including
        those earlier turns left running (``thread/backgroundTerminals/clean``).
        Interrupting a turn does this for you."""
        await self._router.request("thread/backgroundTerminals/clean", {"threadId": self.id})

    async def compact(
        self, *, wait: bool = True, timeout: float | None = None
    ) -> TurnResult | None:
        """Summarize the conversation so far to free the model's context window.

        Codex runs the compaction as a turn of its own (one model call, a
        ``contextCompaction`` item). By default this waits for it and returns its
        :class:`TurnResult`; ``wait=False`` returns ``None`` once it started (the thread
        then accepts a new turn when the compaction is done). Raises
        :class:`TurnFailedError` if it fails and :class:`CodexTimeoutError` (after
        interrupting it) when ``timeout`` seconds pass.
        """
        turn = await self._begin("thread/compact/start", {"threadId": self.id})
        if not wait:
            return None
        return await turn.run(timeout=timeout)

    async def review(
        self,
        *,
        base_branch: str | None = None,
        commit: str | None = None,
        commit_title: str | None = None,
        instructions: str | None = None,
        target: Json | None = None,
    ) -> AsyncTurn:
        """Ask codex's reviewer to review code changes in the thread's directory.

        With no argument it reviews the uncommitted changes (staged, unstaged and
        untracked files); ``base_branch="main"`` reviews the current branch against
        ``main``; ``commit="<sha>"`` (with an optional ``commit_title`` for display) one
        commit; ``instructions="..."`` whatever you describe. ``target`` gives a raw
        ``ReviewTarget`` instead.

        The review runs as a turn of this thread, returned at once: iterate it for its
        events (``enteredReviewMode``, the reviewer's messages, ``exitedReviewMode``
        carrying the review text) or ``await review.run()`` for the result.
        """
        chosen = [
            name
            for name, value in (
                ("base_branch", base_branch),
                ("commit", commit),
                ("instructions", instructions),
                ("target", target),
            )
            if value is not None
        ]
        if len(chosen) > 1:
            raise ValueError(f"review takes one target, got {', '.join(chosen)}")
        if commit_title is not None and commit is None:
            raise ValueError("commit_title needs commit")
        wire_target: Json
        if target is not None:
            wire_target = dict(target)
        elif base_branch is not None:
            wire_target = {"type": "baseBranch", "branch": base_branch}
        elif commit is not None:
            wire_target = {"type": "commit", "sha": commit}
            if commit_title is not None:
                wire_target["title"] = commit_title
        elif instructions is not None:
            wire_target = {"type": "custom", "instructions": instructions}
        else:
            wire_target = {"type": "uncommittedChanges"}
        params: Json = {"threadId": self.id, "target": wire_target, "delivery": "inline"}
        return await self._begin("review/start", params)

    def __repr__(self) -> str:
        return f"AsyncThread(id={self.id!r})"


def _put(wire: Json, **values: Any) -> None:
    for key, value in values.items():
        if value is not None:
            wire[key] = value
