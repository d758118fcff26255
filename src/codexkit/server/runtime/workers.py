"""Worker sessions: the system-owned sessions in which queued jobs talk to an agent.

There is one per owner (a project, or ``session:<id>`` for a chat without one) and
agent, made when a job first needs it and remembered in the database. People cannot
write to them (403 ``system_session``) and default session lists leave them out. One
turn at a time runs in each: jobs of the same owner and agent take turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..store import Store
from .errors import Conflict, RuntimeFailure
from .hub import EventHub
from .queue import TransientFailure
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


def owner_of(project_id: str | None, session_id: str) -> str:
    """Who owns the jobs of a session: its project, else the chat itself."""
    return project_id if project_id is not None else f"session:{session_id}"


class WorkerSessions:
    def __init__(self, store: Store, hub: EventHub, sessions: Sessions, turns: Turns) -> None:
        self._store = store
        self._hub = hub
        self._sessions = sessions
        self._turns = turns
        self._locks: dict[str, asyncio.Lock] = {}
        self._making = asyncio.Lock()

    async def session_for(
        self, owner_id: str, agent: str, *, cwd: str | None = None, fresh: bool = False
    ) -> str:
        """The id of the worker session of ``owner_id`` and ``agent`` (made, working in
        ``cwd``, if there is none, it was deleted, or ``fresh``)."""
        async with self._making:
            known = await self._store.workers.get(owner_id, agent)
            if known is not None and not fresh:
                row = await self._store.sessions.get(known.session_id)
                if row is not None and row.deleted_at is None:
                    return row.id
            project = None if owner_id.startswith("session:") else owner_id
            if project is not None and await self._store.projects.get(project) is None:
                project = None  # the project is gone: the worker belongs to no project
            made = await self._sessions.create(
                cwd=cwd, project_id=project, approval_policy="never", system_owned=True
            )
            session_id = str(made["session"]["sessionId"])
            await self._store.sessions.update(session_id, title=f"{agent} worker ({owner_id})")
            await self._store.workers.put(owner_id, agent, session_id)
            _log.info("worker session %s made for %s / %s", session_id, owner_id, agent)
            return session_id

    async def run(self, owner_id: str, agent: str, text: str, *, cwd: str | None = None) -> Json:
        """Run one turn of ``agent`` for ``owner_id`` with ``text`` as the request;
        ``{sessionId, turnId, reply}`` (the agent's last message) once it completed.
        A failed turn, or one lost with its app-server, raises ``TransientFailure``."""
        session_id = await self.session_for(owner_id, agent, cwd=cwd)
        try:
            return await self._turn(session_id, text)
        except (Conflict, RuntimeFailure) as exc:
            lost = exc.code == "not_materialized" or exc.extra.get("method") == "thread/resume"
            if not lost:
                raise
            _log.warning(
                "worker session %s cannot be resumed (%s): making a new one", session_id, exc
            )
        # Its app-server restarted (or the whole server) and codex cannot resume the
        # worker's thread: start over in a new worker session.
        session_id = await self.session_for(owner_id, agent, cwd=cwd, fresh=True)
        return await self._turn(session_id, text)

    async def _turn(self, session_id: str, text: str) -> Json:
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            subscription, _ = self._hub.subscribe(session_id)
            try:
                turn_id = await self._start(session_id, text)
                try:
                    await self._until_ended(subscription, turn_id)
                except asyncio.CancelledError:
                    await self._stop(session_id, turn_id)
                    raise
            finally:
                subscription.close()
            return await self._outcome(session_id, turn_id)

    async def _start(self, session_id: str, text: str) -> str:
        """Start the worker's turn; its id. Cancelled meanwhile, the turn may start all
        the same: it is then waited for (a while) and interrupted, never left running."""
        sending = asyncio.ensure_future(self._turns.send(session_id, text, system=True))
        try:
            started = await asyncio.shield(sending)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                late = await asyncio.wait_for(sending, _START_GRACE)
                await self._stop(session_id, str(late["turnId"]))
            raise
        return str(started["turnId"])

    async def _until_ended(self, subscription: Any, turn_id: str) -> None:
        async for frame in subscription:
            if frame.type == _EXITED:
                raise TransientFailure(f"the worker's app-server exited: {frame.payload}")
            if frame.type == _TURN_END and _turn_of(frame.payload) == turn_id:
                return
        raise TransientFailure(f"stopped following the worker's turn: {subscription.dropped}")

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


def _turn_of(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    context = payload.get("context")
    if isinstance(context, dict) and context.get("turnId"):
        return str(context["turnId"])
    params = payload.get("params")
    turn = params.get("turn") if isinstance(params, dict) else None
    return str(turn["id"]) if isinstance(turn, dict) and "id" in turn else None
