"""Servers and session helpers for the REST tests of ``codexkit serve``: a real server on
a scripted model, on SQLite or PostgreSQL, whose sessions work under ``workspace``."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from codexkit.testing import ScriptedModel

from .postgres import Cluster
from .serve import ServeProcess
from .stream import Stream, completed

Json = dict[str, Any]
_databases = itertools.count()
#: The states a job ends in.
TERMINAL = ("completed", "failed", "canceled")


def workspace(server: ServeProcess) -> Path:
    """The directory the server's sessions work in (its only ``--allowed-root``)."""
    return server.data_dir.parent / "work"


def start_server(
    root: Path,
    model: ScriptedModel,
    cluster: Cluster | None = None,
    *,
    data: str = "data",
    more: Sequence[str] = (),
) -> ServeProcess:
    """``codexkit serve`` on ``model``, with SQLite in its data dir, or a fresh database
    of ``cluster``; ``more`` are further options. A second call with the same ``root``
    and ``data`` reuses both."""
    (root / "work").mkdir(parents=True, exist_ok=True)
    args = ["--no-profile", "--allowed-root", str(root / "work"), *more]
    if cluster is not None:
        name = f"serve_{next(_databases)}"
        cluster.psql(f"CREATE DATABASE {name}")
        args += ["--database-url", cluster.url(name)]
    return ServeProcess.scripted(model, root, args=args, data=data).start()


def ok(answer: httpx.Response, status: int = 200) -> Json:
    body: Json = answer.json()
    assert answer.status_code == status, body
    return body


def refused(answer: httpx.Response, status: int) -> Json:
    """A contract error body: ``status`` and ``message`` always, never FastAPI's own."""
    body: Json = answer.json()
    assert answer.status_code == status, body
    assert isinstance(body["status"], str)
    assert body["message"]
    assert "detail" not in body
    return body


def create(client: httpx.Client, server: ServeProcess, **fields: Any) -> str:
    body = {"cwd": str(workspace(server)), **fields}
    session: Json = ok(client.post("/api/sessions", json=body))["session"]
    return str(session["sessionId"])


def send(client: httpx.Client, session_id: str, text: str) -> str:
    accepted = ok(client.post(f"/api/sessions/{session_id}/messages", json={"text": text}), 202)
    assert accepted["status"] == "accepted"
    assert accepted["sessionId"] == session_id
    return str(accepted["turnId"])


def turn(client: httpx.Client, server: ServeProcess, session_id: str, text: str) -> str:
    """Send ``text`` and wait, on the websocket, for its turn to end; its id."""
    with Stream(server, f"?threadId={session_id}") as stream:
        stream.next("ready")
        turn_id = send(client, session_id, text)
        stream.next("app_server.turn.completed", completed(turn_id))
    return turn_id


def replies(state: Json) -> list[str]:
    return [e["content"] for e in state["transcript"] if e["role"] == "assistant"]


def job_ended(server: ServeProcess, client: httpx.Client, job_id: str, timeout: float = 60) -> Json:
    """The job once it reached a terminal state (its frame awaited on the websocket)."""
    with Stream(server) as stream:
        stream.next("ready")
        job: Json = ok(client.get(f"/api/orchestrator/jobs/{job_id}"))["job"]
        if job["state"] not in TERMINAL:
            kinds = tuple(f"orchestrator_job_{state}" for state in TERMINAL)
            stream.next(kinds, lambda f: f["payload"]["jobId"] == job_id, timeout=timeout)
            job = ok(client.get(f"/api/orchestrator/jobs/{job_id}"))["job"]
    return job


def note(client: httpx.Client, sid: str, message_id: str) -> None:
    """A transcript entry written by a client: one ``transcript_updated`` frame, its
    content the ``message_id``."""
    entry = {
        "messageId": message_id,
        "turnId": "notes",
        "role": "system",
        "type": "note",
        "content": message_id,
        "status": "complete",
    }
    ok(client.post(f"/api/sessions/{sid}/transcript/upsert", json=entry))
