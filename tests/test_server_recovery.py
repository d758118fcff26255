"""Recovery of the control plane's runtime: an app-server killed mid-turn, and the whole
server killed with SIGKILL and started again. Real binary, scripted model, SQLite."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.serve_runtime import completed, frame, running

from codexkit.server.runtime import Frame, Runtime
from codexkit.server.runtime.errors import Conflict
from codexkit.server.runtime.runtime import RESTART_REASON, STOP_REASON
from codexkit.testing import ScriptedModel, shell, text, tool_call

pytestmark = pytest.mark.real

TESTS = Path(__file__).parent


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
async def runtime(codex_home: Path, workspace: Path, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(codex_home, workspace, tmp_path / "data") as started:
        yield started


async def _reply(runtime: Runtime, sid: str, prompt: str) -> list[str]:
    subscription, _ = runtime.hub.subscribe(sid)
    try:
        turn_id = (await runtime.turns.send(sid, prompt))["turnId"]
        await frame(subscription, "app_server.turn.completed", completed(turn_id), timeout=60)
    finally:
        subscription.close()
    state = await runtime.sessions.read(sid)
    return [
        e["content"]
        for e in state["transcript"]
        if e["role"] == "assistant" and e["turnId"] == turn_id and e["status"] == "complete"
    ]


async def test_an_app_server_killed_mid_turn_is_restarted_and_clients_see_why(
    runtime: Runtime, scripted_model: ScriptedModel, workspace: Path
) -> None:
    scripted_model.add(shell("touch never.txt", escalate=True))
    sid = (
        await runtime.sessions.create(approval_policy="on-request", filesystem_sandbox="read-only")
    )["session"]["sessionId"]
    subscription, _ = runtime.hub.subscribe(sid)
    turn_id = (await runtime.turns.send(sid, "go"))["turnId"]
    approval_id = (await frame(subscription, "approval")).payload["approvalId"]

    pid = runtime.pool.pid(0)
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)  # the app-server and everything it started

    seen: list[Frame] = []
    exited = await frame(subscription, "app_server_exited", seen=seen)
    assert "app-server 0 exited" in exited.payload["reason"]
    assert exited.payload["failedTurnIds"] == [turn_id]
    assert exited.payload["expiredRequestIds"] == [approval_id]
    [resolved] = [f for f in seen if f.type == "approval_resolved"]
    assert resolved.payload["status"] == "expired"
    assert resolved.payload["approvalId"] == approval_id

    state = await runtime.sessions.read(sid)
    [turn] = state["thread"]["turns"]
    assert turn["status"] == "failed"
    assert "app-server 0 exited" in turn["error"]["message"]
    assert any(
        e["role"] == "system" and "app-server 0 exited" in e["content"] for e in state["transcript"]
    )
    row = await runtime.store.requests.get(approval_id)
    assert row is not None
    assert row.status == "expired"
    assert row.expiry_reason == exited.payload["reason"]
    with pytest.raises(Conflict):
        await runtime.decide("approval", approval_id, {"decision": "accept"})
    assert not (workspace / "never.txt").exists()

    await frame(subscription, "session_resumed", timeout=60)
    assert runtime.pool.pid(0) not in (None, pid)
    scripted_model.add(text("back again"))
    assert await _reply(runtime, sid, "still there?") == ["back again"]


async def test_after_a_sigkill_of_the_server_pending_requests_are_expired_with_a_reason(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path, tmp_path: Path
) -> None:
    scripted_model.add(shell("touch never.txt", escalate=True))
    data = tmp_path / "data"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(TESTS / "support" / "serve_child.py"),
        str(codex_home),
        str(workspace),
        str(data),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(TESTS)},
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 90)
        ids = json.loads(line)
    finally:
        child.kill()  # SIGKILL: nothing of the server runs to clean up
        await child.wait()
    assert child.returncode == -signal.SIGKILL

    async with running(codex_home, workspace, data) as runtime:
        sid = ids["sessionId"]
        assert (await runtime.pending(sid, "approval"))["data"] == []
        [listed] = (await runtime.pending(sid, "approval", history=True))["data"]
        assert listed["approvalId"] == ids["approvalId"]
        assert listed["status"] == "expired"
        assert listed["expiryReason"] == RESTART_REASON
        row = await runtime.store.requests.get(ids["approvalId"])
        assert row is not None
        assert row.status == "expired"
        assert row.expiry_reason == RESTART_REASON
        with pytest.raises(Conflict) as late:
            await runtime.decide("approval", ids["approvalId"], {"decision": "accept"})
        assert late.value.http_status == 409
        assert late.value.body()["status"] == "reconciled"
        [turn] = (await runtime.sessions.read(sid))["thread"]["turns"]
        assert turn["id"] == ids["turnId"]
        assert turn["status"] == "failed"
        assert not (workspace / "never.txt").exists()

        scripted_model.add(text("after the restart"))
        assert await _reply(runtime, sid, "are you there?") == ["after the restart"]


async def test_closing_the_runtime_expires_what_it_cannot_finish(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path, tmp_path: Path
) -> None:
    scripted_model.add(shell("touch never.txt", escalate=True))
    data = tmp_path / "data"
    async with running(codex_home, workspace, data) as runtime:
        sid = (
            await runtime.sessions.create(
                approval_policy="on-request", filesystem_sandbox="read-only"
            )
        )["session"]["sessionId"]
        subscription, _ = runtime.hub.subscribe(sid)
        await runtime.turns.send(sid, "go")
        approval_id = (await frame(subscription, "approval")).payload["approvalId"]
    async with running(codex_home, workspace, data) as again:
        [listed] = (await again.pending(sid, "approval", history=True))["data"]
        assert listed["approvalId"] == approval_id
        assert listed["status"] == "expired"
        assert listed["expiryReason"] == STOP_REASON
        [turn] = (await again.sessions.read(sid))["thread"]["turns"]
        assert turn["status"] == "failed"
        assert turn["error"]["message"] == "the server stopped while this turn ran"


async def test_a_tool_call_pending_when_its_app_server_dies_expires(
    runtime: Runtime, scripted_model: ScriptedModel
) -> None:
    tools = [{"name": "lookup", "description": "Look up", "inputSchema": {"type": "object"}}]
    scripted_model.add(tool_call("lookup", {}))
    sid = (await runtime.sessions.create(dynamic_tools=tools))["session"]["sessionId"]
    subscription, _ = runtime.hub.subscribe(sid)
    await runtime.turns.send(sid, "look it up")
    request_id = (await frame(subscription, "tool_call_requested")).payload["requestId"]
    pid = runtime.pool.pid(0)
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    resolved = await frame(subscription, "tool_call_resolved")
    assert resolved.payload["requestId"] == request_id
    assert resolved.payload["status"] == "expired"
    exited = await frame(subscription, "app_server_exited")
    assert exited.payload["expiredRequestIds"] == [request_id]
    with pytest.raises(Conflict) as late:
        await runtime.decide("tool_call", request_id, {"success": True, "text": "late"})
    assert late.value.body()["code"] == "in_flight"
