"""``ClusterForward``: in a cluster, a request reaches the process that runs its session.

Each process runs the sessions it holds leases on (``runtime/cluster.py``). A request
for a session another live process runs (``/api/sessions/{id}/...``, a decision on one
of its requests, the cancel of a job it runs) is sent on to that process's advertised
URL with the caller's own headers (its bearer token too), and its answer comes back as
it is. An ``api`` process runs no app-server: it sends every request it cannot answer
from the database alone to the live runner with the fewest sessions. A forwarded
request carries ``X-Codexkit-Forwarded`` and is never forwarded again (no loops: a
process that no longer holds the lease answers 409 ``session_elsewhere``).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .runtime.cluster import FORWARDED, unreachable

if TYPE_CHECKING:
    from .deps import Runtime
    from .runtime import Runtime as Engine
    from .store.models import ProcessRow

__all__ = ["ClusterForward"]

_log = logging.getLogger("codexkit.server")

#: Seconds a forwarded request may take (a message's answer comes before its turn ends).
FORWARD_TIMEOUT = 120.0
#: Headers that describe one hop, not the request.
_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}
#: What an ``api`` process answers itself: from the database, or about itself.
_API_LOCAL = {
    ("GET", "/api"),
    ("GET", "/api/health"),
    ("GET", "/api/sessions"),
    ("GET", "/api/projects"),
}
_REQUEST_KINDS = {"approvals", "tool-input", "tool-calls"}


class ClusterForward:
    def __init__(self, app: ASGIApp, *, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = await self._target(scope) if scope["type"] == "http" else None
        if target is None:
            await self.app(scope, receive, send)
        else:
            await self._forward(target, scope, receive, send)

    async def _target(self, scope: Scope) -> ProcessRow | None:
        path: str = scope["path"]
        if not path.startswith("/api") or path.startswith("/api/auth/"):
            return None
        if any(name.decode("latin-1").lower() == FORWARDED for name, _ in scope["headers"]):
            return None
        try:
            engine = self.runtime.engine
        except Exception:  # not started: the routes answer that themselves
            return None
        if engine.cluster is None:
            return None
        try:
            return await _owner(engine, scope["method"], path)
        except Exception:
            _log.exception("finding the process for %s failed; answering here", path)
            return None

    async def _forward(
        self, target: ProcessRow, scope: Scope, receive: Receive, send: Send
    ) -> None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1").lower() not in _HOP
        ]
        engine = self.runtime.engine
        assert engine.cluster is not None
        headers.append((FORWARDED, engine.cluster.id))
        url = target.url.rstrip("/") + scope["path"]
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=FORWARD_TIMEOUT)
        try:
            answer = await self._client.request(
                scope["method"], url, headers=headers, content=bytes(body)
            )
        except httpx.HTTPError as error:
            # The owner stopped answering: once its lease lapses another process takes
            # the session over and the request can be sent again.
            refusal = unreachable(target, error)
            await _send_json(send, 503, refusal, retry_after=engine.cluster.lease)
            return
        out = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in answer.headers.multi_items()
            if k.lower() not in _HOP and k.lower() != "content-encoding"
        ]
        content = answer.content
        out.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": answer.status_code, "headers": out})
        await send({"type": "http.response.body", "body": content})


async def _owner(engine: Engine, method: str, path: str) -> ProcessRow | None:
    """The process that must answer ``method path``; None: this one."""
    cluster = engine.cluster
    assert cluster is not None
    parts = path.rstrip("/").split("/")[2:]  # after "/api"
    session_id: str | None = None
    if len(parts) >= 2 and parts[0] == "sessions":
        session_id = parts[1]
    elif len(parts) >= 3 and parts[0] in _REQUEST_KINDS:
        request = await engine.store.requests.get(parts[1])
        session_id = request.session_id if request is not None else None
    elif len(parts) >= 4 and parts[:2] == ["orchestrator", "jobs"] and parts[3] == "cancel":
        job = await engine.store.jobs.get(parts[2])
        if job is not None and job.state == "running" and job.runner_id not in (None, cluster.id):
            row = await engine.store.cluster.process(job.runner_id)
            if row is not None and cluster.alive(row):
                return row
    if session_id is not None:
        owner = await cluster.owner(session_id)
        if owner is not None:
            return owner
        if cluster.settings.runs_sessions:
            await cluster.adopt(session_id)
    if cluster.settings.runs_sessions or (method, path.rstrip("/") or "/") in _API_LOCAL:
        return None
    return await cluster.runner()


async def _send_json(send: Send, status: int, body: Any, *, retry_after: float) -> None:
    data = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"retry-after", str(int(retry_after + 0.999)).encode()),
    ]
    start: Message = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": data})
