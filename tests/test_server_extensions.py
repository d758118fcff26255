"""Agent extensions in a real ``codexkit serve`` on the real codex binary (scripted
model): they see the server's events and act (transcript, settings, approvals, jobs);
one that raises or hangs is isolated and recorded, and the user's turn goes on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.serve import ServeProcess
from support.serve_rest import create, ok, refused, start_server, workspace
from support.stream import Stream, completed

from codexkit.testing import ScriptedModel, shell, text

pytestmark = [pytest.mark.real, pytest.mark.slow]

TESTS = Path(__file__).resolve().parent
NAMES = ("broken", "slow", "noter", "approver")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, model: ScriptedModel
) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("serve-extensions")
    more = [arg for name in NAMES for arg in ("--extension", f"support.demo_extensions:{name}")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(TESTS))  # the server imports support.demo_extensions
        running = start_server(root, model, more=more)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def client(server: ServeProcess) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def _extensions(client: httpx.Client) -> dict[str, dict[str, object]]:
    listed = ok(client.get("/api/agents/extensions"))
    return {e["name"]: e for e in listed["extensions"]}


def test_a_raising_and_a_hanging_extension_do_not_stop_the_turn(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    model.add(text("the reply"))
    chat = create(client, server)
    with Stream(server, f"?threadId={chat}") as stream:
        stream.next("ready")
        turn_id = ok(client.post(f"/api/sessions/{chat}/messages", json={"text": "hi"}), 202)[
            "turnId"
        ]
        stream.next("app_server.turn.completed", completed(turn_id))
        # The noter's entry arrives after the turn ended, whatever the others did; the
        # raising one fails at once, the hanging one is stopped at its time limit, and
        # both failures are announced.
        stream.next(
            "transcript_updated", lambda f: f["payload"]["entry"]["messageId"] == f"note::{turn_id}"
        )
        failed = {
            f["payload"]["name"] for f in stream.seen if f["type"] == "agent_extension_failed"
        }
        while failed != {"broken", "slow"}:
            failed.add(stream.next("agent_extension_failed")["payload"]["name"])
    state = ok(client.get(f"/api/sessions/{chat}"))
    assert [t["status"] for t in state["thread"]["turns"]] == ["completed"]
    contents = [e["content"] for e in state["transcript"]]
    assert "the reply" in contents
    assert f"noted turn {turn_id}" in contents
    setting = ok(client.get(f"/api/sessions/{chat}/settings", params={"key": "lastNotedTurn"}))
    assert setting["value"] == turn_id
    listed = _extensions(client)
    assert listed["broken"]["health"] == "error"
    assert listed["broken"]["lastError"] == "turn.completed: RuntimeError: broken on purpose"
    assert listed["slow"]["lastError"] == "turn.completed: ran past its time limit of 0.5 s"
    assert listed["noter"]["health"] == "ok"
    assert listed["noter"]["errors"] == 0
    assert listed["noter"]["jobTypes"] == ["echo"]
    assert listed["approver"]["events"] == ["command.approval_requested"]


def test_an_extension_decides_an_approval(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    model.extend([shell("touch approved.txt", escalate=True), text("done")])
    chat = create(client, server, approvalPolicy="on-request", filesystemSandbox="read-only")
    with Stream(server, f"?threadId={chat}") as stream:
        stream.next("ready")
        turn_id = ok(client.post(f"/api/sessions/{chat}/messages", json={"text": "touch"}), 202)[
            "turnId"
        ]
        resolved = stream.next("approval_resolved")
        stream.next("app_server.turn.completed", completed(turn_id))
    assert resolved["payload"]["decision"] == "accept"
    assert (workspace(server) / "approved.txt").exists()
    history = client.get(f"/api/sessions/{chat}/approvals", params={"history": "true"})
    [decided] = ok(history)["data"]
    assert (decided["actor"], decided["source"]) == ("approver", "extension")


def test_extension_job_types_run_on_the_queue_and_reload_keeps_the_record(
    server: ServeProcess, client: httpx.Client
) -> None:
    chat = create(client, server)
    body = {"type": "echo", "sourceSessionId": chat, "payload": {"n": 1}}
    job = ok(client.post("/api/orchestrator/jobs", json=body), 202)["job"]
    with Stream(server) as stream:
        stream.next("ready")
        state = ok(client.get(f"/api/orchestrator/jobs/{job['id']}"))["job"]
        if state["state"] != "completed":
            stream.next("orchestrator_job_completed", lambda f: f["payload"]["jobId"] == job["id"])
    assert ok(client.get(f"/api/orchestrator/jobs/{job['id']}"))["job"]["result"] == {
        "echo": {"n": 1}
    }

    before = _extensions(client)["broken"]["errors"]
    reloaded = ok(client.post("/api/agents/extensions/reload"))
    assert sorted(e["name"] for e in reloaded["extensions"]) == sorted(
        [*NAMES, "supervisor", "chat-titles"]
    )
    assert reloaded["loadErrors"] == []
    assert _extensions(client)["broken"]["errors"] == before
    refused(client.get("/api/orchestrator/jobs/nope"), 404)


def test_a_suggestion_asked_for_is_an_event_and_runs_on_the_model_and_effort_asked(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    chat = create(client, server)
    model.add(text("Run the tests"))
    body = {"draft": "run", "model": "gpt-5.5", "effort": "high"}
    with Stream(server, f"?threadId={chat}") as stream:
        stream.next("ready")
        answer = ok(client.post(f"/api/sessions/{chat}/suggested-request", json=body))
        noted = stream.next(
            "transcript_updated",
            lambda f: f["payload"]["entry"]["type"] == "extension.asked",
        )
    assert answer["suggestion"] == "Run the tests"
    assert noted["payload"]["entry"]["content"] == f"suggest:{chat} run gpt-5.5 high"
    asked = model.requests[-1]
    assert asked.model == "gpt-5.5"
    assert asked.body.get("reasoning", {}).get("effort") == "high"
