"""A conversation with the agent: its turns, its history, and how it is kept.

``ThreadOpener`` makes :class:`AsyncThread` handles: it turns the client's defaults and a
call's options into ``thread/start``, ``thread/resume`` or ``thread/fork`` params, and
registers the thread's own approval policy and tools with the router."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from typing_extensions import Unpack

from .._defaults import DEFAULT_CODEX_SETTINGS
from .._runtime.config import flatten_config
from .._structured import OutputSpec
from ..approvals import ApprovalPolicy
from ..errors import CodexError, InvalidRequestError, RpcError, ThreadHasForksError
from ..mcp import McpServer, mcp_servers_config
from ..options import CLIENT_DEFAULT, ThreadOptions, TurnOptions, check_directory, thread_settings
from ..types import InputLike, TurnResult, normalize_input
from .resources import put, read_thread
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
    reasoning_effort: str | None
    additional_directories: Sequence[str | os.PathLike[str]] | None
    network_access: bool | None
    web_search: bool | str | None
    base_url: str | None
    turn_idle_timeout: float | None
    max_buffered_events: int | None
    mcp_servers: Mapping[str, McpServer]


#: How many threads started here and not yet given a turn are remembered (see fresh).
_FRESH_LIMIT = 1024


class ThreadOpener:
    """Opens threads for one client: their params, their request, their handlers."""

    def __init__(self, router: Router, defaults: ThreadDefaults, *, mcp_in_threads: bool) -> None:
        self.router = router
        self.defaults = defaults
        # The client's MCP servers are set when it starts its app-server; one it reaches
        # by `connect` or a `transport` of the user's has its own: each thread gets them.
        self.mcp_in_threads = mcp_in_threads
        # Threads started here that have had no turn yet, with their thread/start params.
        # The runtime stores a thread at its first turn: until then it cannot resume, fork
        # or list its turns ("no rollout found"), and codexkit does it for it.
        self.fresh: dict[str, Json] = {}

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
        fields = _merged(self._client_params(), self.params(**options))
        return await self._send(method, {**wire, **fields}, handlers)

    async def _send(
        self, method: ClientMethod, wire: Json, handlers: ThreadHandlers | None
    ) -> AsyncThread:
        result = await self.router.request(method, wire)
        thread = AsyncThread(self, result["thread"])
        self.router.registrations.hold(thread.id, thread, handlers)
        if method == "thread/start":
            self.fresh[thread.id] = wire
            while len(self.fresh) > _FRESH_LIMIT:  # the oldest loses only the stand-ins
                del self.fresh[next(iter(self.fresh))]
        return thread

    async def resume(
        self, thread_id: str, handlers: ThreadHandlers, options: Mapping[str, Any]
    ) -> AsyncThread:
        """``thread/resume``; a thread started here with no turn yet, which the runtime
        cannot resume, is returned as it is loaded."""
        try:
            return await self.open("thread/resume", {"threadId": thread_id}, handlers, options)
        except RpcError:
            if thread_id not in self.fresh:
                raise
        info = await read_thread(self.router, thread_id, False, self.fresh)
        thread = AsyncThread(self, info)
        self.router.registrations.hold(thread.id, thread, handlers)
        return thread

    async def fork(
        self, thread_id: str, handlers: ThreadHandlers | None, options: Mapping[str, Any]
    ) -> AsyncThread:
        """``thread/fork``; a thread with no turn has no history to copy: its fork is a new
        thread started with its settings (the client's defaults among them), the fork's
        own over them."""
        try:
            return await self.open("thread/fork", {"threadId": thread_id}, handlers, options)
        except RpcError:
            started = self.fresh.get(thread_id)
            if started is None:
                raise
        return await self._send("thread/start", _merged(started, self.params(**options)), handlers)

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
        mcp_servers: Mapping[str, McpServer] | None = None,
        params: Json | None = None,
    ) -> Json:
        """The wire fields of these thread options alone (see :meth:`_client_params`)."""
        check_directory(cwd, base=self.defaults.cwd)  # a relative one is the server's
        settings = thread_settings(
            reasoning_effort=reasoning_effort,
            writable_roots=additional_directories,
            network_access=network_access,
            web_search=web_search,
        )
        settings.update(self._servers(mcp_servers, config or {}))
        wire: Json = {}
        put(
            wire,
            cwd=os.fspath(cwd) if cwd is not None else None,
            model=model or None,
            sandbox=sandbox,
            approvalPolicy=_mode_of(approval_policy or None),
            developerInstructions=instructions,
            baseInstructions=base_instructions,
            ephemeral=ephemeral,
            config={**flatten_config(config or {}), **flatten_config(settings)} or None,
        )
        wire.update(params or {})
        return wire

    def _servers(self, servers: Mapping[str, McpServer] | None, config: Mapping[str, Any]) -> Json:
        """The settings that give a thread ``servers``. An app-server someone else
        started has their settings, so its threads also bring the wait for their servers
        (see DEFAULT_CODEX_SETTINGS), unless ``config`` sets its own."""
        if not servers:
            return {}
        settings: Json = {"mcp_servers": mcp_servers_config(servers)}
        if self.mcp_in_threads:
            settings.update({k: v for k, v in DEFAULT_CODEX_SETTINGS.items() if k not in config})
        return settings

    def _client_params(self) -> Json:
        """The wire fields every thread the client opens gets, unless its own say else."""
        defaults = self.defaults
        settings = thread_settings(
            reasoning_effort=defaults.reasoning_effort,
            writable_roots=defaults.additional_directories,
            network_access=defaults.network_access,
            web_search=defaults.web_search,
        )
        if defaults.base_url is not None:
            settings["openai_base_url"] = defaults.base_url
        if self.mcp_in_threads:  # a server this client started has them already
            settings.update(self._servers(defaults.mcp_servers, {}))
        wire: Json = {}
        put(
            wire,
            cwd=defaults.cwd,
            model=defaults.model,
            approvalPolicy=_mode_of(defaults.approval_policy),
            config=flatten_config(settings) or None,
        )
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
        reasoning_effort: str | None = None,
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
        ask the user questions). ``reasoning_effort`` applies to this turn and the next
        ones. ``params`` merges extra raw ``turn/start`` fields.
        """
        check_directory(cwd, base=self._opener.defaults.cwd)
        wire: Json = {"threadId": self.id, "input": normalize_input(input)}
        output = None
        if output_type is not None or output_schema is not None:
            output = OutputSpec(output_type, output_schema)
        put(
            wire,
            model=model,
            effort=reasoning_effort,
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
        self._opener.fresh.pop(self.id, None)  # the runtime stores the thread from now on
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
        ``options`` set the new thread up as in :meth:`AsyncCodex.start_thread`.

        A thread that has had no turn yet has no history: its fork is a new thread
        started with the original's settings (the runtime cannot fork it yet)."""
        handlers = self._router.handlers(self.id)  # the fork keeps this thread's handlers
        return await self._opener.fork(self.id, handlers, options)

    async def read(self, *, include_turns: bool = True) -> Json:
        """The thread as stored by the app-server (``thread/read``), with its turns."""
        thread = await read_thread(self._router, self.id, include_turns, self._opener.fresh)
        self._adopt(thread, with_turns=include_turns)
        return thread

    def _turn_finished(self, turn: AsyncTurn, completed: Any) -> None:
        if self._active is turn:
            self._active = None
        self._record_turn(completed)

    def _record_turn(self, turn: Any) -> None:
        """Keep :attr:`info`'s turns current with a turn that ended (``turn/completed``
        carries its summary), when ``info`` lists the thread's turns at all."""
        turns = self.info.get("turns")
        if not isinstance(turns, list) or not isinstance(turn, dict):
            return
        for index in range(len(turns) - 1, -1, -1):  # a read() may have listed it running
            known = turns[index]
            if isinstance(known, dict) and known.get("id") == turn.get("id"):
                turns[index] = dict(turn)
                return
        turns.append(dict(turn))  # a copy: the event keeps its own

    def _adopt(self, thread: Json, *, with_turns: bool) -> Json:
        """Take the server's view of the thread as :attr:`info`. An answer that lists no
        turns because none were asked for keeps the turns ``info`` knew."""
        known = self.info.get("turns")
        self.info = dict(thread)
        if not with_turns and known is not None:
            self.info["turns"] = known
        elif isinstance(self.info.get("turns"), list):  # info's own, not the caller's
            self.info["turns"] = list(self.info["turns"])
        return self.info

    # -- the stored thread ----------------------------------------------------------------

    async def refresh(self) -> Json:
        """Re-read the thread's metadata from the server into :attr:`info` (without its
        turns) and return it."""
        thread = await read_thread(self._router, self.id, False, self._opener.fresh)
        return self._adopt(thread, with_turns=False)

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
        return self._adopt(result["thread"], with_turns=False)

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
        known = self.info.get("turns")
        if isinstance(known, list):  # the answer lists no turns: drop the reverted ones
            ids = [turn.get("id") if isinstance(turn, dict) else None for turn in known]
            if oldest in ids:
                del known[ids.index(oldest) :]
        return self._adopt(result["thread"], with_turns=False)

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


def _merged(base: Json, over: Json) -> Json:
    """``over``'s fields over ``base``'s, their ``config`` settings merged key by key."""
    merged = {**base, **over}
    config = {**base.get("config", {}), **over.get("config", {})}
    if config:
        merged["config"] = config
    return merged


def _mode_of(policy: str | ApprovalPolicy | None) -> str | None:
    return policy.mode if isinstance(policy, ApprovalPolicy) else policy
