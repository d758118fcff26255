"""A conversation with the agent: start turns, fork, read."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from typing_extensions import Unpack

from ._errors import CodexError
from ._options import check_directory
from ._structured import OutputSpec
from ._thread_ops import ThreadOpsMixin
from ._turn import AsyncTurn
from .types import InputLike, TurnResult, normalize_input

if TYPE_CHECKING:
    from ._client import AsyncCodex
    from .approvals import ApprovalPolicy

__all__ = ["AsyncThread"]

Json = dict[str, Any]


class TurnOptions(TypedDict, total=False):
    """The options of :meth:`AsyncThread.turn`, as taken by ``run`` and ``ask``."""

    model: str | None
    reasoning_effort: str | None
    cwd: str | None
    output_type: type[Any] | None
    output_schema: Json | None
    approval_policy: str | None
    summary: str | None
    collaboration_mode: str | None
    idle_timeout: float | None
    params: Json | None


class ForkOptions(TypedDict, total=False):
    """How a forked thread is set up (the thread options of ``start_thread``)."""

    cwd: str | os.PathLike[str] | None
    model: str | None
    reasoning_effort: str | None
    sandbox: str | None
    additional_directories: Sequence[str | os.PathLike[str]] | None
    network_access: bool | None
    web_search: bool | str | None
    approval_policy: str | ApprovalPolicy | None
    instructions: str | None
    base_instructions: str | None
    ephemeral: bool | None
    config: Mapping[str, Any] | None
    params: Json | None


class _ClientDefault:
    """The value of an argument left to the client's setting (``turn_idle_timeout``)."""

    def __repr__(self) -> str:
        return "CLIENT_DEFAULT"


CLIENT_DEFAULT: Any = _ClientDefault()


class AsyncThread(ThreadOpsMixin):
    """A thread on the app-server. Get one from :meth:`AsyncCodex.start_thread`,
    :meth:`AsyncCodex.resume_thread` or :meth:`fork`."""

    def __init__(self, codex: AsyncCodex, info: Json) -> None:
        self.codex = codex
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
        check_directory(cwd, base=self.codex.cwd)
        wire: Json = {"threadId": self.id, "input": normalize_input(input)}
        output = None
        if output_type is not None or output_schema is not None:
            output = OutputSpec(output_type, output_schema)
        _put(
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
        method: str,
        wire: Json,
        *,
        idle_timeout: float | None = CLIENT_DEFAULT,
        output: OutputSpec | None = None,
    ) -> AsyncTurn:
        """Send a request that starts a turn on this thread (a prompt, a compaction, a
        review) and return the turn, already receiving its events."""
        if self._active is not None:
            raise CodexError(
                f"thread {self.id} already has turn {self._active.id} in progress; "
                "steer it, interrupt it or wait for it"
            )
        idle = self.codex.turn_idle_timeout if idle_timeout is CLIENT_DEFAULT else idle_timeout
        turn = AsyncTurn(self, idle_timeout=idle, output=output)
        # Route this thread's notifications to the turn before asking, so none is lost.
        self._active = turn
        self.codex._claim(self.id, turn)
        try:
            result = await self.codex._request(method, wire)
        except BaseException as exc:
            self._turn_finished(turn)
            turn._end_span(error=exc)
            raise
        self.codex._fresh.pop(self.id, None)  # the runtime stores the thread from now on
        started = result.get("turn") if isinstance(result, dict) else None
        if isinstance(started, dict) and started.get("id"):
            turn.id = str(started["id"])  # else the turn's own turn/started names it
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

    async def fork(self, **options: Unpack[ForkOptions]) -> AsyncThread:
        """A new thread with this thread's history; the original is left as it is.
        ``options`` set the new thread up as in :meth:`AsyncCodex.start_thread`.

        A thread that has had no turn yet has no history: its fork is a new thread
        started with the original's settings (the runtime cannot fork it yet)."""
        handlers = self.codex._handlers_of(self.id)  # the fork keeps this thread's handlers
        return await self.codex._fork_thread(self.id, handlers, options)

    async def read(self, *, include_turns: bool = True) -> Json:
        """The thread as stored by the app-server (``thread/read``), with its turns (none
        for a thread that has had no turn yet). :attr:`info` takes the answer too."""
        thread = await self.codex.read_thread(self.id, include_turns=include_turns)
        self._adopt(thread, with_turns=include_turns)
        return thread

    def _record_turn(self, turn: Any) -> None:
        """Keep :attr:`info`'s turns current with a turn that ended (``turn/completed``
        carries its summary), when ``info`` lists the thread's turns at all."""
        turns = self.info.get("turns")
        if not isinstance(turns, list) or not isinstance(turn, dict):
            return
        for index in range(len(turns) - 1, -1, -1):  # a read() may have listed it running
            known = turns[index]
            if isinstance(known, dict) and known.get("id") == turn.get("id"):
                turns[index] = turn
                return
        turns.append(turn)

    def _turn_finished(self, turn: AsyncTurn) -> None:
        if self._active is turn:
            self._active = None
            self.codex._release(self.id, turn)

    def __repr__(self) -> str:
        return f"AsyncThread(id={self.id!r})"


def _put(wire: Json, **values: Any) -> None:
    for key, value in values.items():
        if value is not None:
            wire[key] = value
