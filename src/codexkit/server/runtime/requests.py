"""The agent's requests to people: approvals, tool input and dynamic tool calls.

Each one is stored as a pending row before anyone hears of it, then announced, then it
waits. Nothing times it out but the session's own approval timeout, if set: a person may
take as long as they need (the runtime never starts an SDK turn, so no turn idle limit
runs meanwhile, and the connection awaits a server request's answer without a deadline).

Deciding is a conditional update of the row (pending -> resolved): exactly one decider
wins and its answer, in the shape the request's method expects, is what the app-server
receives. A request whose app-server is gone is expired with the reason, never answered.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..._client.dispatch import _legacy
from ..._client.server_requests import default_response
from ..._connection.rpc import ServerRequest
from ..store import Store
from ..store.models import ServerRequestRow
from .errors import Conflict, Invalid, NotFound
from .hub import EventHub
from .ordered import OrderedJobs
from .recorder import SessionDirectory
from .signals import REQUEST_FRAMES, context_of, envelope
from .views import record_view, summary_of

__all__ = ["KINDS", "RequestBroker"]

_log = logging.getLogger("codexkit.server")
Json = dict[str, Any]

#: The request kind of each server-request method the control plane lets people answer.
KINDS = {
    "item/commandExecution/requestApproval": "approval",
    "item/fileChange/requestApproval": "approval",
    "item/permissions/requestApproval": "approval",
    "execCommandApproval": "approval",
    "applyPatchApproval": "approval",
    "item/tool/requestUserInput": "tool_input",
    "item/tool/call": "tool_call",
}
_LEGACY = frozenset({"execCommandApproval", "applyPatchApproval"})
_DECISIONS = ("accept", "decline", "cancel")


@dataclass
class _Waiting:
    row: ServerRequestRow
    origin: str  # which app-server process asked (see AppServerPool.origin)
    answer: asyncio.Future[Json | None]


class RequestBroker:
    def __init__(
        self,
        store: Store,
        hub: EventHub,
        jobs: OrderedJobs,
        directory: SessionDirectory,
    ) -> None:
        self._store = store
        self._hub = hub
        self._jobs = jobs
        self._directory = directory
        self._waiting: dict[str, _Waiting] = {}

    def handler(self, origin: Callable[[], str]) -> Callable[[ServerRequest], Awaitable[Any]]:
        """The ``request_handler`` of one pool slot; ``origin()`` names its current
        app-server process."""

        async def handle(request: ServerRequest) -> Any:
            return await self.handle(origin(), request)

        return handle

    async def handle(self, origin: str, request: ServerRequest) -> Any:
        params = request.params if isinstance(request.params, dict) else {}
        kind = KINDS.get(request.method)
        thread_id, turn_id = context_of(params)
        request_id = uuid.uuid4().hex
        if kind is None or thread_id is None:
            await self._announce(thread_id, request.method, params, request_id, None)
            return await default_response(request)
        row = ServerRequestRow(
            id=request_id,
            kind=kind,
            method=request.method,
            session_id=thread_id,
            turn_id=turn_id,
            item_id=params.get("itemId") or params.get("callId"),
            params=params,
            summary=summary_of(kind, request.method, params),
            status="pending",
            created_at=time.time(),
        )
        await self._store.requests.add(row)
        waiting = _Waiting(row, origin, asyncio.get_running_loop().create_future())
        self._waiting[request_id] = waiting
        try:
            await self._announce(thread_id, request.method, params, request_id, row)
            answer = await self._wait(waiting)
        finally:
            self._waiting.pop(request_id, None)
        if answer is None:
            # Expired: its app-server is gone (nobody hears this) or its session was
            # deleted (the agent gets the fail-closed answer and goes on).
            return await default_response(request)
        return answer

    async def _announce(
        self,
        thread_id: str | None,
        method: str,
        params: Json,
        request_id: str,
        row: ServerRequestRow | None,
    ) -> None:
        """The request's frames, in its session's order among its notifications."""

        async def publish() -> None:
            session = await self._directory.meta(thread_id)
            private = bool(session and session.get("systemOwned"))
            event_type, payload = envelope(method, params, session=session, request_id=request_id)
            self._hub.publish(event_type, thread_id, payload, private=private)
            if row is not None:
                frame = REQUEST_FRAMES[row.kind][0]
                self._hub.publish(frame, thread_id, record_view(row), private=private)
            else:
                raw = {"id": request_id, "method": method, "params": params}
                self._hub.publish("server_request", thread_id, raw, private=private)

        await self._jobs.call(thread_id or "", publish)

    async def _wait(self, waiting: _Waiting) -> Json | None:
        session = await self._store.sessions.get(waiting.row.session_id)
        timeout = session.approval_timeout if session is not None else None
        if timeout is None:
            return await waiting.answer
        try:
            return await asyncio.wait_for(asyncio.shield(waiting.answer), timeout)
        except asyncio.TimeoutError:
            decision = (session.approval_timeout_decision if session else None) or "decline"
            return await self._time_out(waiting, timeout, decision)

    async def _time_out(self, waiting: _Waiting, timeout: float, decision: str) -> Json | None:
        row = waiting.row
        reason = f"no decision within the session's approval timeout of {timeout:g} s"
        answer = timeout_answer(row, decision, reason)
        record = {"decision": decision, "answer": answer, "reason": reason}
        if not await self._store.requests.expire(row.id, reason, decision=record):
            return await waiting.answer  # decided in the same instant: that decision stands
        self._resolved(row, "expired", {"decision": decision}, reason=reason)
        return answer

    # -- deciding ------------------------------------------------------------------------

    async def list(self, session_id: str, kind: str, *, pending_only: bool = True) -> list[Json]:
        """The session's requests of ``kind``: pending ones, or every one (resolved and
        expired too, with their decision and reason)."""
        status = "pending" if pending_only else None
        rows = await self._store.requests.list(session_id, kind, status=status)
        return [record_view(r) for r in rows]

    async def decide(
        self, kind: str, request_id: str, body: Json, *, actor: str | None, source: str | None
    ) -> Json:
        """Answer a pending request; raises ``NotFound`` (unknown) or ``Conflict``
        (already resolved or expired: clients count both as done) otherwise."""
        id_key = "approvalId" if kind == "approval" else "requestId"
        row = await self._store.requests.get(request_id)
        if row is None or row.kind != kind:
            raise NotFound(f"no {kind} request {request_id}", **{id_key: request_id})
        answer = wire_answer(row, body)  # Invalid before anything changes
        waiting = self._waiting.get(request_id)
        if row.status == "pending" and waiting is None:
            # Pending in the store but no app-server waits for it (its process is gone).
            await self._store.requests.expire(request_id, "the app-server that asked is gone")
        record = {**body, "answer": answer}
        if waiting is None or not await self._store.requests.resolve(
            request_id, record, actor=actor, source=source
        ):
            raise _already(kind, request_id, row.session_id)
        if not waiting.answer.done():
            waiting.answer.set_result(answer)
        self._resolved(row, "resolved", body)
        return {"status": "ok", id_key: request_id, "threadId": row.session_id}

    def _resolved(
        self, row: ServerRequestRow, status: str, body: Json, *, reason: str | None = None
    ) -> None:
        frame = REQUEST_FRAMES[row.kind][1]
        payload: Json = {"threadId": row.session_id, "status": status}
        if row.kind == "approval":
            payload.update(
                approvalId=row.id, decision=body.get("decision"), scope=body.get("scope", "turn")
            )
        elif row.kind == "tool_input":
            payload.update(requestId=row.id, decision=body.get("decision"))
        else:
            success = tool_result(body)["success"] if status == "resolved" else False
            payload.update(requestId=row.id, success=success)
        if reason is not None:
            payload["reason"] = reason
        self._hub.publish(frame, row.session_id, payload)

    async def abandon(self, origin: str, reason: str) -> builtins.list[ServerRequestRow]:
        """Expire what one app-server process asked and no one answered (it exited)."""
        mine = [w for w in self._waiting.values() if w.origin == origin]
        expired = set(
            await self._store.requests.expire_pending(reason, ids=[w.row.id for w in mine])
        )
        for waiting in mine:
            if waiting.row.id in expired:
                self._resolved(waiting.row, "expired", {}, reason=reason)
            if not waiting.answer.done():
                waiting.answer.set_result(None)
        return [w.row for w in mine if w.row.id in expired]

    async def expire_session(self, session_id: str, reason: str) -> builtins.list[str]:
        """Expire a session's pending requests (it is being deleted); the agent's waits
        get the fail-closed default answer."""
        expired = await self._store.requests.expire_pending(reason, session_id=session_id)
        for request_id in expired:
            waiting = self._waiting.get(request_id)
            if waiting is not None:
                self._resolved(waiting.row, "expired", {}, reason=reason)
                if not waiting.answer.done():
                    waiting.answer.set_result(None)
        return expired

    async def expire_orphans(self, reason: str) -> builtins.list[str]:
        """On start: every request still pending was asked by a process of an earlier
        server; none of them can be answered any more."""
        return await self._store.requests.expire_pending(reason)


def _already(kind: str, request_id: str, thread_id: str) -> Conflict:
    if kind == "tool_call":
        return Conflict(
            "this tool call was already answered or expired",
            code="in_flight",
            requestId=request_id,
            threadId=thread_id,
        )
    id_key = "approvalId" if kind == "approval" else "requestId"
    return Conflict(
        f"this {kind.replace('_', ' ')} request was already resolved or expired",
        code="already_resolved",
        status="reconciled",
        threadId=thread_id,
        **{id_key: request_id},
    )


# -- the answers' shapes ----------------------------------------------------------------


def wire_answer(row: ServerRequestRow, body: Json) -> Json:
    """What the app-server receives for ``body``, in the shape ``row.method`` expects;
    raises ``Invalid`` for a body that says nothing usable."""
    if row.kind == "tool_call":
        return tool_result(body)
    decision = body.get("decision")
    if decision not in _DECISIONS:
        raise Invalid(
            "decision must be accept, decline or cancel",
            issues=[{"path": ["decision"], "message": "expected accept|decline|cancel"}],
        )
    if row.kind == "tool_input":
        return _tool_input_answer(decision, body)
    scope = body.get("scope", "turn")
    if scope not in ("turn", "session"):
        raise Invalid("scope must be turn or session", issues=[{"path": ["scope"]}])
    return _approval_answer(row, decision, scope)


def timeout_answer(row: ServerRequestRow, decision: str, reason: str) -> Json:
    """The answer a request gets when the session's approval timeout decides it: the
    configured decision, or for a tool call a failure the agent can read."""
    if row.kind == "tool_call":
        return {"success": False, "contentItems": [{"type": "inputText", "text": reason}]}
    return wire_answer(row, {"decision": decision})


def _approval_answer(row: ServerRequestRow, decision: str, scope: str) -> Json:
    if row.method == "item/permissions/requestApproval":
        asked = row.params.get("permissions")
        granted = asked if decision == "accept" and isinstance(asked, dict) else {}
        return {"permissions": granted, "scope": scope if granted else "turn"}
    wire = decision
    if decision == "accept" and scope == "session":
        offered = row.params.get("availableDecisions")
        if not isinstance(offered, list) or "acceptForSession" in offered:
            wire = "acceptForSession"
    if row.method in _LEGACY:
        return {"decision": _legacy(wire)}
    return {"decision": wire}


def _tool_input_answer(decision: str, body: Json) -> Json:
    if decision != "accept":
        return {"answers": {}}
    answers = body.get("answers")
    response = body.get("response")
    if answers is None and isinstance(response, dict):
        answers = response.get("answers", response)
    if answers is None:
        answers = {}
    if not isinstance(answers, dict):
        raise Invalid("answers must be an object", issues=[{"path": ["answers"]}])
    wire: Json = {}
    for question_id, value in answers.items():
        given = value.get("answers") if isinstance(value, dict) else value
        if isinstance(given, str):
            given = [given]
        if not isinstance(given, list):
            raise Invalid(
                f"answers.{question_id} must be {{answers: [...]}}",
                issues=[{"path": ["answers", question_id]}],
            )
        wire[str(question_id)] = {"answers": [str(v) for v in given]}
    return {"answers": wire}


def tool_result(body: Json) -> Json:
    """``{response: {success, contentItems}}`` or ``{success, text | contentItems}`` as
    the app-server's ``{success, contentItems}``."""
    response = body.get("response")
    source: Json = response if isinstance(response, dict) else body
    items = source.get("contentItems")
    if items is None and source.get("text") is not None:
        items = [{"type": "inputText", "text": str(source["text"])}]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Invalid(
            "a tool call response needs contentItems (a list) or text",
            issues=[{"path": ["contentItems"], "message": "expected a list of content items"}],
        )
    return {"success": bool(source.get("success", True)), "contentItems": items}
