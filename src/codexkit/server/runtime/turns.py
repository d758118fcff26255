"""Operations that start, steer or stop turns, and those that rewrite a thread's history
(fork, rollback).

A turn's id is returned as soon as the app-server accepts it; it is recorded as running
in the session's order first, so a reader sees it running and never finished early.
"""

from __future__ import annotations

import time
from typing import Any

from ...types import normalize_input
from ..store.models import SessionRow
from .base import Parts, rpc
from .checks import thread_params, wire_policy
from .controls import check_controls
from .errors import Conflict, Invalid, RuntimeFailure
from .sessions import Sessions

__all__ = ["EFFORTS", "Turns"]

Json = dict[str, Any]
_SANDBOX_POLICY = {
    "read-only": "readOnly",
    "workspace-write": "workspaceWrite",
    "danger-full-access": "dangerFullAccess",
}
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


def _text(value: Any, field: str = "text") -> str:
    if not isinstance(value, str) or not value:
        raise Invalid(f"{field} must be a non-empty string", issues=[{"path": [field]}])
    return value


class Turns:
    def __init__(self, parts: Parts, sessions: Sessions) -> None:
        self._parts = parts
        self._sessions = sessions

    async def send(
        self,
        session_id: str,
        text: Any,
        *,
        model: str | None = None,
        effort: str | None = None,
        approval_policy: str | None = None,
        network_access: str | None = None,
        filesystem_sandbox: str | None = None,
        dynamic_tools: list[Json] | None = None,
        system: bool = False,
    ) -> Json:
        """Start a turn; ``{status: accepted, sessionId, turnId}`` once it is accepted.
        The controls in force are the session's (or the defaults), overridden by the
        ones given for this message only. Only ``system`` callers (the job queue's
        workers) may start turns in system-owned sessions."""
        body = _text(text)
        if effort is not None and effort not in EFFORTS:
            raise Invalid(
                f"effort must be one of {', '.join(EFFORTS)}", issues=[{"path": ["effort"]}]
            )
        parts = self._parts
        row = await parts.row(session_id, system=system)
        given = {
            k: v
            for k, v in {
                "model": model,
                "approvalPolicy": approval_policy,
                "networkAccess": network_access,
                "filesystemSandbox": filesystem_sandbox,
            }.items()
            if v is not None
        }
        controls = {**await parts.controls.effective(row), **check_controls(given, partial=True)}
        if dynamic_tools is not None:
            await self._sessions.resume(row.id, dynamic_tools)
        # In a cluster: run it here, settling first what a dead holder left (its turn).
        await parts.claim(row.id)
        if await parts.running_turn(row.id) is not None:
            raise Conflict(
                "a turn is already in progress; steer or interrupt it",
                code="in_flight",
                sessionId=row.id,
            )
        client = await parts.client(row)
        settings: Json = {
            "approvalPolicy": wire_policy(controls["approvalPolicy"]),
            "sandboxPolicy": _sandbox_policy(controls),
        }
        if controls.get("model"):
            settings["model"] = controls["model"]
        wire: Json = {"threadId": row.id, "input": normalize_input(body)}
        # codex keeps a turn's settings for the turns after it, and taking new ones
        # costs it a rebuild of the turn's context (a third of turn/start's time): they
        # go again only when they changed or the thread was loaded anew.
        sent = parts.pool.turn_settings
        origin = parts.pool.loaded.get(row.id)
        if origin is None or sent.get(row.id) != (origin, settings):
            wire.update(settings)
        if effort is not None:
            wire["effort"] = effort
        answer = await self._start(row, client, "turn/start", wire)
        if origin is not None:
            sent[row.id] = (origin, settings)
        return answer

    async def _start(self, row: SessionRow, client: Any, method: str, wire: Json) -> Json:
        result = await rpc(client, method, wire)
        turn = result.get("turn") if isinstance(result, dict) else None
        if not isinstance(turn, dict) or not isinstance(turn.get("id"), str):
            raise RuntimeFailure(f"{method} answered without a turn", method=method)
        turn_id = turn["id"]
        store = self._parts.store

        async def record() -> None:
            async with store.writes() as writes:
                await writes.start_turn(row.id, turn_id)
                await self._parts.recorder.directory.materialized(writes, row.id)

        # In the session's order, not awaited: every read of the session and every
        # check for a running turn waits for the session's jobs first, so nothing can
        # see the session without this turn; the answer need not wait for the write.
        self._parts.jobs.submit(row.id, record)
        answer: Json = {"status": "accepted", "sessionId": row.id, "turnId": turn_id}
        if isinstance(result, dict) and result.get("reviewThreadId"):
            answer["reviewThreadId"] = result["reviewThreadId"]
        return answer

    async def steer(self, session_id: str, turn_id: str, text: Any) -> Json:
        body = _text(text)
        parts = self._parts
        row = await parts.row(session_id, system=False)
        running = await parts.running_turn(row.id)
        if running != turn_id:
            raise Conflict(f"turn {turn_id} is not in progress", code="not_running", turnId=turn_id)
        client = await parts.client(row)
        wire = {
            "threadId": row.id,
            "expectedTurnId": turn_id,
            "input": normalize_input(body),
        }
        await rpc(client, "turn/steer", wire)
        return {"status": "ok", "sessionId": row.id, "turnId": turn_id}

    async def interrupt(
        self, session_id: str, turn_id: str | None = None, *, system: bool = False
    ) -> Json:
        """Interrupt the turn in progress (only if it is ``turn_id``, when given)."""
        parts = self._parts
        row = await parts.row(session_id, system=system)
        running = await parts.running_turn(row.id)
        if running is None:
            raise Conflict("no turn is in progress", code="no_active_turn", sessionId=row.id)
        if turn_id is not None and turn_id != running:
            raise Conflict(f"turn {turn_id} is not in progress", code="not_running", turnId=turn_id)
        client = await parts.client(row)
        await rpc(client, "turn/interrupt", {"threadId": row.id, "turnId": running})
        return {"status": "ok", "sessionId": row.id, "turnId": running}

    async def compact(self, session_id: str) -> Json:
        parts = self._parts
        row = await parts.row(session_id)
        await self._idle(row)
        client = await parts.client(row)
        await rpc(client, "thread/compact/start", {"threadId": row.id})
        return {"status": "ok", "sessionId": row.id}

    async def review(self, session_id: str, target: Json | None = None) -> Json:
        parts = self._parts
        row = await parts.row(session_id)
        await self._idle(row)
        client = await parts.client(row)
        wire = {
            "threadId": row.id,
            "target": dict(target) if target else {"type": "uncommittedChanges"},
            "delivery": "inline",
        }
        return await self._start(row, client, "review/start", wire)

    async def rollback(self, session_id: str, num_turns: Any = 1) -> Json:
        """Drop the last ``num_turns`` turns from the thread and from the transcript."""
        if not isinstance(num_turns, int) or isinstance(num_turns, bool) or num_turns < 1:
            raise Invalid("numTurns must be an integer >= 1", issues=[{"path": ["numTurns"]}])
        parts = self._parts
        row = await parts.row(session_id)
        await self._idle(row)
        turns = await parts.store.turns.list(row.id)
        if num_turns > len(turns):
            raise Conflict(f"the session has {len(turns)} turns", code="not_enough_turns")
        client = await parts.client(row)
        try:
            await client.thread(row.id).rollback(num_turns)
        except Exception as exc:
            raise RuntimeFailure(str(exc), method="thread/revert") from None
        dropped = [t.id for t in turns[-num_turns:]]
        await parts.store.transcript.drop_turns(row.id, dropped)
        await parts.store.turns.remove(row.id, dropped)
        await parts.store.sessions.update(row.id)
        return {"status": "ok", "sessionId": row.id, "removedTurnIds": dropped}

    async def fork(self, session_id: str) -> Json:
        """A new session with this one's history, settings, controls and project."""
        parts = self._parts
        row = await parts.row(session_id)
        if not row.materialized:
            raise Conflict("a session can be forked after its first turn", code="not_materialized")
        client = await parts.client(row)
        controls = await parts.controls.effective(row)
        wire: Json = {"threadId": row.id, "cwd": row.cwd, **thread_params(controls)}
        result = await rpc(client, "thread/fork", wire)
        thread = result.get("thread") if isinstance(result, dict) else None
        if not isinstance(thread, dict) or not isinstance(thread.get("id"), str):
            raise RuntimeFailure("thread/fork answered without a thread", method="thread/fork")
        now = time.time()
        fork = SessionRow(
            id=thread["id"],
            title=f"Fork of {row.title}".strip(),
            cwd=row.cwd,
            project_id=row.project_id,
            archived=False,
            system_owned=row.system_owned,
            materialized=True,
            model_provider=row.model_provider,
            source=row.source,
            created_at=now,
            updated_at=now,
            controls=row.controls,
            settings=dict(row.settings or {}),
            dynamic_tools=row.dynamic_tools,
            approval_timeout=row.approval_timeout,
            approval_timeout_decision=row.approval_timeout_decision,
        )
        await parts.store.sessions.add(fork)
        await self._copy_history(row.id, fork.id)
        await parts.claim(fork.id)
        parts.pool.bind(fork.id, parts.pool.assign(row.id))
        return await self._sessions.read(fork.id)

    async def _copy_history(self, source: str, target: str) -> None:
        store = self._parts.store
        for turn in await store.turns.list(source):
            await store.turns.put(
                target, turn.id, turn.status, completed_at=turn.completed_at, error=turn.error
            )
        for entry in await store.transcript.list(source):
            await store.transcript.put(
                target,
                entry.message_id,
                turn_id=entry.turn_id,
                role=entry.role,
                type=entry.type,
                content=entry.content,
                status=entry.status,
                details=entry.details,
                started_at=entry.started_at,
                completed_at=entry.completed_at,
            )

    async def _idle(self, row: SessionRow) -> None:
        if await self._parts.running_turn(row.id) is not None:
            raise Conflict(
                "a turn is in progress; wait for it or interrupt it",
                code="in_flight",
                sessionId=row.id,
            )


def _sandbox_policy(controls: Json) -> Json:
    mode = controls["filesystemSandbox"]
    policy: Json = {"type": _SANDBOX_POLICY[mode]}
    if mode == "workspace-write":
        policy["networkAccess"] = controls["networkAccess"] == "enabled"
    return policy
