"""Worker sessions: the system-owned sessions in which queued jobs talk to an agent.

There is one per owner (a project, or ``session:<id>`` for a chat without one) and
agent, made when a job first needs it and remembered in the database. People cannot
write to them (403 ``system_session``) and default session lists leave them out. One
turn at a time runs in each: jobs of the same owner and agent take turns.

An agent may have Python tools (``codexkit.tools``): the worker session is made with
them as its dynamic tools, and the calls its turn makes come through the request broker
like any session's (``item/tool/call``, a ``tool_call_requested`` frame); the worker
answers them itself, with what the tool returns, through the same broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from ...tools import ToolRegistry
from ..store import Store
from .errors import Conflict, RuntimeFailure
from .hub import EventHub
from .queue import TransientFailure
from .requests import RequestBroker
from .sessions import Sessions
from .turns import Turns

__all__ = ["WorkerSessions", "owner_of"]

_log = logging.getLogger("codexkit.server")
Json = dict[str, Any]

#: The frames after which a worker's turn has ended (or can no longer end).
_TURN_END = "app_server.turn.completed"
_EXITED = "app_server_exited"
#: Seconds a cancelled job waits for its worker's turn to start, to interrupt it.
_START_GRACE = 30.0
#: Seconds one call of a worker's tool may take before the agent is told it failed.
TOOL_TIMEOUT = 60.0
_TOOL_CALL = "tool_call_requested"


def owner_of(project_id: str | None, session_id: str) -> str:
    """Who owns the jobs of a session: its project, else the chat itself."""
    return project_id if project_id is not None else f"session:{session_id}"


class WorkerSessions:
    def __init__(
        self,
        store: Store,
        hub: EventHub,
        sessions: Sessions,
        turns: Turns,
        broker: RequestBroker,
    ) -> None:
        self._store = store
        self._hub = hub
        self._sessions = sessions
        self._turns = turns
        self._broker = broker
        self._locks: dict[str, asyncio.Lock] = {}
        self._making = asyncio.Lock()

    async def session_for(
        self,
        owner_id: str,
        agent: str,
        *,
        cwd: str | None = None,
        fresh: bool = False,
        tools: ToolRegistry | None = None,
    ) -> str:
        """The id of the worker session of ``owner_id`` and ``agent`` (made, working in
        ``cwd`` with ``tools`` as its dynamic tools, if there is none, it was deleted, its
        tools are not these, or ``fresh``)."""
        specs = tools.specs() if tools else None
        async with self._making:
            known = await self._store.workers.get(owner_id, agent)
            if known is not None and not fresh:
                row = await self._store.sessions.get(known.session_id)
                if row is not None and row.deleted_at is None and row.dynamic_tools == specs:
                    return row.id
            project = None if owner_id.startswith("session:") else owner_id
            if project is not None and await self._store.projects.get(project) is None:
                project = None  # the project is gone: the worker belongs to no project
            made = await self._sessions.create(
                cwd=cwd,
                project_id=project,
                approval_policy="never",
                system_owned=True,
                dynamic_tools=specs,
            )
            session_id = str(made["session"]["sessionId"])
            await self._store.sessions.update(session_id, title=f"{agent} worker ({owner_id})")
            await self._store.workers.put(owner_id, agent, session_id)
            _log.info("worker session %s made for %s / %s", session_id, owner_id, agent)
            return session_id

    async def run(
        self,
        owner_id: str,
        agent: str,
        text: str,
        *,
        cwd: str | None = None,
        tools: ToolRegistry | None = None,
        model: str | None = None,
        effort: str | None = None,
    ) -> Json:
        """Run one turn of ``agent`` for ``owner_id`` with ``text`` as the request (on
        ``model`` at ``effort`` when given, else the session's); ``{sessionId, turnId,
        reply}`` (the agent's last message) once it completed. The turn's calls of
        ``tools`` are answered as they come. A failed turn, or one lost with its
        app-server, raises ``TransientFailure``."""
        turn = _Turn(text, tools or ToolRegistry(), model, effort)
        session_id = await self.session_for(owner_id, agent, cwd=cwd, tools=tools)
        try:
            return await self._turn(session_id, turn)
        except (Conflict, RuntimeFailure) as exc:
            lost = exc.code == "not_materialized" or exc.extra.get("method") == "thread/resume"
            if not lost:
                raise
            _log.warning(
                "worker session %s cannot be resumed (%s): making a new one", session_id, exc
            )
        # Its app-server restarted (or the whole server) and codex cannot resume the
        # worker's thread: start over in a new worker session.
        session_id = await self.session_for(owner_id, agent, cwd=cwd, fresh=True, tools=tools)
        return await self._turn(session_id, turn)

    async def _turn(self, session_id: str, turn: _Turn) -> Json:
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            subscription, _ = self._hub.subscribe(session_id)
            try:
                turn_id = await self._start(session_id, turn)
                try:
                    await self._until_ended(subscription, turn_id, turn.tools)
                except asyncio.CancelledError:
                    await self._stop(session_id, turn_id)
                    raise
            finally:
                subscription.close()
            return await self._outcome(session_id, turn_id)

    async def _start(self, session_id: str, turn: _Turn) -> str:
        """Start the worker's turn; its id. Cancelled meanwhile, the turn may start all
        the same: it is then waited for (a while) and interrupted, never left running."""
        sending = asyncio.ensure_future(
            self._turns.send(
                session_id, turn.text, model=turn.model, effort=turn.effort, system=True
            )
        )
        try:
            started = await asyncio.shield(sending)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                late = await asyncio.wait_for(sending, _START_GRACE)
                await self._stop(session_id, str(late["turnId"]))
            raise
        return str(started["turnId"])

    async def _until_ended(self, subscription: Any, turn_id: str, tools: ToolRegistry) -> None:
        async for frame in subscription:
            if frame.type == _EXITED:
                raise TransientFailure(f"the worker's app-server exited: {frame.payload}")
            if frame.type == _TOOL_CALL and isinstance(frame.payload, dict):
                await self._answer(frame.payload, tools)
            if frame.type == _TURN_END and _turn_of(frame.payload) == turn_id:
                return
        raise TransientFailure(f"stopped following the worker's turn: {subscription.dropped}")

    async def _answer(self, call: Json, tools: ToolRegistry) -> None:
        """Run the tool the agent called and answer the call through the broker (the
        turn waits for it meanwhile, so its frames wait too)."""
        details = call.get("details")
        params: Json = details if isinstance(details, dict) else {}
        try:
            wire = await asyncio.wait_for(tools.call(params), TOOL_TIMEOUT)
        except TimeoutError:
            message = f"tool {call.get('tool')!r} did not finish within {TOOL_TIMEOUT:g} s"
            wire = {"success": False, "contentItems": [{"type": "inputText", "text": message}]}
        try:
            await self._broker.decide(
                "tool_call", str(call.get("requestId")), wire, actor="worker", source="worker"
            )
        except Conflict:  # expired meanwhile (its app-server went away): nothing to answer
            _log.info("worker tool call %s was no longer pending", call.get("requestId"))

    async def _stop(self, session_id: str, turn_id: str) -> None:
        try:
            await asyncio.shield(self._turns.interrupt(session_id, turn_id, system=True))
        except (Conflict, RuntimeFailure):  # it ended meanwhile, or its app-server is gone
            pass
        except Exception:
            _log.exception("interrupting worker turn %s failed", turn_id)

    async def _outcome(self, session_id: str, turn_id: str) -> Json:
        read = await self._sessions.read(session_id)
        turns = {turn["id"]: turn for turn in read["thread"]["turns"]}
        turn = turns.get(turn_id, {})
        if turn.get("status") != "completed":
            error = turn.get("error") or {}
            message = error.get("message") if isinstance(error, dict) else error
            raise TransientFailure(
                f"the worker's turn ended {turn.get('status', 'unrecorded')}: {message}"
            )
        replies = [
            entry["content"]
            for entry in read["transcript"]
            if entry["turnId"] == turn_id and entry["role"] == "assistant"
        ]
        return {"sessionId": session_id, "turnId": turn_id, "reply": replies[-1] if replies else ""}


@dataclass(frozen=True)
class _Turn:
    """What one worker turn is asked, with what."""

    text: str
    tools: ToolRegistry
    model: str | None = None
    effort: str | None = None


def _turn_of(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    context = payload.get("context")
    if isinstance(context, dict) and context.get("turnId"):
        return str(context["turnId"])
    params = payload.get("params")
    turn = params.get("turn") if isinstance(params, dict) else None
    return str(turn["id"]) if isinstance(turn, dict) and "id" in turn else None
