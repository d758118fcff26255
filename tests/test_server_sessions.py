"""Sessions, messages, requests, controls and projects over REST, against a real
``codexkit serve`` (the real binary on a scripted model); the representative ones on
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.postgres import Cluster, postgres_cluster  # noqa: F401 (fixture)
from support.serve import ServeProcess
from support.serve_rest import create, ok, refused, replies, send, start_server, turn, workspace
from support.stream import Stream, completed

from codexkit.testing import ScriptedModel, shell, stall, text, tool_call

pytestmark = pytest.mark.real

TERMINAL = {"completed", "failed", "error", "interrupted", "canceled"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, model: ScriptedModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    """A real server on SQLite in its data dir, or on a fresh PostgreSQL database: every
    test of this file runs on both stores."""
    cluster: Cluster | None = None
    if request.param == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
    running = start_server(tmp_path_factory.mktemp(f"serve-{request.param}"), model, cluster)
    yield running
    running.stop()


@pytest.fixture
def client(server: ServeProcess) -> Iterator[httpx.Client]:
    with server.client() as opened:
        yield opened


# -- lifecycle -------------------------------------------------------------------------------


def test_session_lifecycle(server: ServeProcess, tmp_path: Path) -> None:
    with server.client() as client:
        sid = create(client, server, approvalPolicy="never")
        state = ok(client.get(f"/api/sessions/{sid}"))
        assert state["session"]["sessionId"] == sid
        assert state["session"]["cwd"] == str(workspace(server))
        assert state["session"]["projectId"] is None
        assert state["session"]["sessionControls"]["approvalPolicy"] == "never"
        assert state["thread"]["id"] == sid
        assert state["thread"]["turns"] == []
        assert state["transcript"] == []
        listed = ok(client.get("/api/sessions"))
        assert sid in [s["sessionId"] for s in listed["data"]]
        assert listed["archived"] is False

        renamed = ok(client.post(f"/api/sessions/{sid}/rename", json={"title": "my chat"}))
        assert renamed["session"]["title"] == "my chat"
        ok(client.post(f"/api/sessions/{sid}/archive"))  # bodiless, as clients send it
        archived = ok(client.get("/api/sessions", params={"archived": "true"}))
        assert [s["sessionId"] for s in archived["data"]] == [sid]
        ok(client.post(f"/api/sessions/{sid}/unarchive"))
        assert sid in [s["sessionId"] for s in ok(client.get("/api/sessions"))["data"]]

        missing = refused(client.get("/api/sessions/no-such-session"), 404)
        assert missing["status"] == "not_found"
        outside = refused(client.post("/api/sessions", json={"cwd": str(tmp_path)}), 400)
        assert outside["code"] == "cwd_not_allowed"

        assert ok(client.delete(f"/api/sessions/{sid}")) == {"status": "ok", "sessionId": sid}
        gone = refused(client.get(f"/api/sessions/{sid}"), 410)
        assert gone["status"] == "deleted"
        assert gone["sessionId"] == sid
        assert gone["title"] == "my chat"
        assert gone["deletedAt"]
        refused(client.post(f"/api/sessions/{sid}/messages", json={"text": "hello?"}), 410)
        assert sid not in [s["sessionId"] for s in ok(client.get("/api/sessions"))["data"]]


def test_a_message_and_its_reply_are_in_the_transcript_when_the_turn_reads_completed(
    server: ServeProcess, model: ScriptedModel
) -> None:
    model.add(stall(0.3) + text("Hello from the agent"))
    with server.client() as client, Stream(server) as stream:
        stream.next("ready")
        sid = create(client, server)
        turn_id = send(client, sid, "hi")
        # Read the session as a waiting client does: whenever its turn reads finished,
        # the reply is there.
        reads = 0
        while True:
            state = ok(client.get(f"/api/sessions/{sid}"))
            reads += 1
            [current] = state["thread"]["turns"]
            assert current["id"] == turn_id
            if current["status"] in TERMINAL:
                break
        assert current["status"] == "completed"
        entries = [(e["role"], e["content"], e["status"]) for e in state["transcript"]]
        assert entries == [
            ("user", "hi", "complete"),
            ("assistant", "Hello from the agent", "complete"),
        ]
        assert state["session"]["materialized"] is True
        assert reads > 1
        stream.next("app_server.turn.completed", completed(turn_id))


# -- requests --------------------------------------------------------------------------------


def test_a_command_approval_is_seen_on_the_websocket_decided_over_rest_and_runs(
    server: ServeProcess, model: ScriptedModel
) -> None:
    model.extend([shell("touch approved.txt", escalate=True), text("done")])
    with server.client() as client:
        sid = create(client, server, approvalPolicy="on-request", filesystemSandbox="read-only")
        with Stream(server, f"?threadId={sid}") as stream:
            stream.next("ready")
            turn_id = send(client, sid, "make the file")
            asked = stream.next("approval")
            approval_id = asked["payload"]["approvalId"]
            [signal] = [f for f in stream.seen if f["type"].startswith("app_server.request.")]
            assert signal["type"] == "app_server.request.item.command_execution.request_approval"
            assert signal["payload"]["requestId"] == approval_id
            [listed] = ok(client.get(f"/api/sessions/{sid}/approvals"))["data"]
            assert listed["approvalId"] == approval_id
            assert listed["status"] == "pending"
            assert listed["turnId"] == turn_id

            body = {"decision": "accept", "actor": "alice", "source": "pytest"}
            decided = ok(client.post(f"/api/approvals/{approval_id}/decision", json=body))
            assert decided["status"] == "ok"
            resolved = stream.next("approval_resolved")
            assert resolved["payload"]["approvalId"] == approval_id
            assert resolved["payload"]["decision"] == "accept"
            stream.next("app_server.turn.completed", completed(turn_id))
        assert (workspace(server) / "approved.txt").exists()
        assert ok(client.get(f"/api/sessions/{sid}/approvals"))["data"] == []
        history = client.get(f"/api/sessions/{sid}/approvals", params={"history": "true"})
        [done] = ok(history)["data"]
        assert (done["status"], done["actor"], done["source"]) == ("resolved", "alice", "pytest")
        again = client.post(f"/api/approvals/{approval_id}/decision", json={"decision": "decline"})
        assert refused(again, 409)["status"] == "reconciled"  # clients count it as done
        refused(client.post("/api/approvals/no-such-id/decision", json={"decision": "accept"}), 404)


def test_an_approval_timeout_set_over_rest_decides_and_records_why(
    server: ServeProcess, model: ScriptedModel, client: httpx.Client
) -> None:
    model.extend([shell("touch late.txt", escalate=True), text("nobody answered")])
    sid = create(client, server, approvalPolicy="on-request", filesystemSandbox="read-only")
    path = f"/api/sessions/{sid}/approval-timeout"
    assert refused(client.post(path, json={"seconds": -1}), 400)["issues"]
    assert refused(client.post(path, json={"seconds": 1, "decision": "maybe"}), 400)["issues"]
    refused(client.post("/api/sessions/no-such-session/approval-timeout", json={}), 404)
    set_ = ok(client.post(path, json={"seconds": 1, "decision": "decline"}))
    assert (set_["seconds"], set_["decision"]) == (1, "decline")
    with Stream(server, f"?threadId={sid}") as stream:
        stream.next("ready")
        turn_id = send(client, sid, "make the file")
        asked = stream.next("approval")["payload"]
        resolved = stream.next("approval_resolved")["payload"]  # nobody decides it
        assert resolved["approvalId"] == asked["approvalId"]
        stream.next("app_server.turn.completed", completed(turn_id))
    assert not (workspace(server) / "late.txt").exists()
    history = client.get(f"/api/sessions/{sid}/approvals", params={"history": "true"})
    [expired] = ok(history)["data"]
    assert expired["status"] == "expired"
    assert "approval timeout of 1 s" in expired["expiryReason"]
    late = client.post(
        f"/api/approvals/{asked['approvalId']}/decision", json={"decision": "accept"}
    )
    assert refused(late, 409)["status"] == "reconciled"


def test_locked_defaults_refuse_default_scope_writes(model: ScriptedModel, tmp_path: Path) -> None:
    locked = start_server(tmp_path, model, more=["--lock-defaults"])
    try:
        with locked.client() as client:
            sid = create(client, locked)
            base = f"/api/sessions/{sid}"
            assert ok(client.get(f"{base}/session-controls"))["defaultsLocked"] is True
            body = {"scope": "default", "key": "team", "value": "blue"}
            assert refused(client.post(f"{base}/settings", json=body), 423)["scope"] == "default"
            session = {"scope": "session", "key": "team", "value": "blue"}
            assert ok(client.post(f"{base}/settings", json=session))["status"] == "ok"
    finally:
        locked.stop()
    unlocked = start_server(tmp_path, model, more=["--unlock-defaults"])  # same data dir
    try:
        with unlocked.client() as client:
            sid = create(client, unlocked)
            body = {"scope": "default", "key": "team", "value": "blue"}
            assert ok(client.post(f"/api/sessions/{sid}/settings", json=body))["status"] == "ok"
    finally:
        unlocked.stop()


def test_a_tool_input_request_is_answered(
    server: ServeProcess, model: ScriptedModel, client: httpx.Client
) -> None:
    questions = [
        {
            "id": "color",
            "header": "Color",
            "question": "Favourite colour?",
            "options": [
                {"label": "red", "description": "warm"},
                {"label": "blue", "description": "cool"},
            ],
        }
    ]
    model.extend([tool_call("request_user_input", {"questions": questions}), text("ok")])
    sid = create(client, server)
    with Stream(server, f"?threadId={sid}") as stream:
        stream.next("ready")
        turn_id = send(client, sid, "ask me")
        request_id = stream.next("tool_user_input_requested")["payload"]["requestId"]
        [listed] = ok(client.get(f"/api/sessions/{sid}/tool-input"))["data"]
        assert listed["requestId"] == request_id
        assert listed["questions"][0]["options"][1] == {"label": "blue", "description": "cool"}
        body = {"decision": "accept", "answers": {"color": {"answers": ["blue"]}}}
        assert (
            ok(client.post(f"/api/tool-input/{request_id}/decision", json=body))["status"] == "ok"
        )
        stream.next("tool_user_input_resolved")
        stream.next("app_server.turn.completed", completed(turn_id))
    [output] = model.requests[-1].function_call_outputs()
    assert '"color":{"answers":["blue"]}' in str(output["output"]).replace(" ", "")


def test_a_dynamic_tool_call_is_answered_with_the_envelopes_request_id(
    server: ServeProcess, model: ScriptedModel, client: httpx.Client
) -> None:
    tools = [
        {
            "name": "lookup",
            "description": "Look a word up",
            "inputSchema": {"type": "object", "properties": {"word": {"type": "string"}}},
        }
    ]
    model.extend([tool_call("lookup", {"word": "codex"}), text("thanks")])
    sid = create(client, server, dynamicTools=tools)
    with Stream(server, f"?threadId={sid}") as stream:
        stream.next("ready")
        turn_id = send(client, sid, "look it up")
        # What codex-manager's client listens for to serve a remote skill.
        signal = stream.next("app_server.request.item.tool.call")
        request_id = signal["payload"]["requestId"]
        assert signal["payload"]["params"]["arguments"] == {"word": "codex"}
        [listed] = ok(client.get(f"/api/sessions/{sid}/tool-calls"))["data"]
        assert listed["requestId"] == request_id
        answer = {
            "response": {
                "success": True,
                "contentItems": [{"type": "inputText", "text": "a coding agent"}],
            }
        }
        ok(client.post(f"/api/tool-calls/{request_id}/response", json=answer))
        resolved = stream.next("tool_call_resolved")
        assert resolved["payload"]["success"] is True
        stream.next("app_server.turn.completed", completed(turn_id))
    [output] = model.requests[-1].function_call_outputs()
    assert "a coding agent" in str(output["output"])
    twice = client.post(
        f"/api/tool-calls/{request_id}/response", json={"success": True, "text": "x"}
    )
    assert refused(twice, 409)["code"] == "in_flight"
    state = ok(client.get(f"/api/sessions/{sid}"))
    assert replies(state) == ["thanks"]


# -- controls and settings -------------------------------------------------------------------


def test_controls_and_settings_with_a_namespaced_key(
    server: ServeProcess, client: httpx.Client
) -> None:
    sid = create(client, server)
    base = f"/api/sessions/{sid}"
    controls = ok(client.get(f"{base}/session-controls"))
    assert controls["controls"]["approvalPolicy"] == "on-request"
    assert controls["defaultsLocked"] is False
    wanted = {
        "model": None,
        "approvalPolicy": "never",
        "networkAccess": "enabled",
        "filesystemSandbox": "workspace-write",
    }
    body = {"scope": "session", "controls": wanted, "actor": "test", "source": "pytest"}
    applied = ok(client.post(f"{base}/session-controls", json=body))
    assert applied["status"] == "ok"
    assert applied["controls"]["approvalPolicy"] == "never"
    assert ok(client.post(f"{base}/session-controls", json=body))["status"] == "unchanged"
    summary = ok(client.get(base))["session"]
    assert summary["sessionControls"]["networkAccess"] == "enabled"
    bad = {"scope": "session", "controls": {**wanted, "approvalPolicy": "sometimes"}}
    assert refused(client.post(f"{base}/session-controls", json=bad), 400)["issues"]

    # A dotted namespace is a read-modify-write of its top-level key, as clients do it.
    key = "supervisor"
    assert ok(client.get(f"{base}/settings", params={"key": key}))["found"] is False
    ns = {"fileChange": {"mode": "ask"}}
    set_ = ok(client.post(f"{base}/settings", json={"scope": "session", "key": key, "value": ns}))
    assert set_["settings"] == {"supervisor": ns}
    read = ok(client.get(f"{base}/settings", params={"key": key}))
    assert (read["found"], read["value"]) == (True, ns)
    merged = {key: {**read["value"], "fileChange": {"mode": "auto"}}}
    body = {"scope": "session", "settings": merged, "mode": "merge"}
    assert ok(client.post(f"{base}/settings", json=body))["status"] == "ok"
    assert ok(client.post(f"{base}/settings", json=body))["status"] == "unchanged"
    value = ok(client.get(f"{base}/settings", params={"key": key}))["value"]
    assert value["fileChange"] == {"mode": "auto"}
    both = {"scope": "session", "key": key, "value": 1, "settings": {}}
    refused(client.post(f"{base}/settings", json=both), 400)
    query = {"scope": "session", "actor": "me", "source": "pytest"}
    removed = ok(client.delete(f"{base}/settings/{key}", params=query))
    assert (removed["removed"], removed["settings"]) == (True, {})
    assert ok(client.delete(f"{base}/settings/{key}", params=query))["status"] == "unchanged"

    # A key may also be the dotted name itself: one flat key, read and deleted as such.
    dotted = "supervisor.fileChange"
    body = {"scope": "session", "key": dotted, "value": {"mode": "ask"}}
    assert ok(client.post(f"{base}/settings", json=body))["settings"] == {dotted: {"mode": "ask"}}
    read = ok(client.get(f"{base}/settings", params={"key": dotted}))
    assert (read["found"], read["value"]) == (True, {"mode": "ask"})
    assert ok(client.delete(f"{base}/settings/{dotted}"))["removed"] is True

    # Default scope: every session without its own value follows it.
    other = create(client, server)
    body = {"scope": "default", "key": "team", "value": "blue"}
    ok(client.post(f"/api/sessions/{other}/settings", json=body))
    read = ok(client.get(f"{base}/settings", params={"scope": "default", "key": "team"}))
    assert read["value"] == "blue"
    ok(client.delete(f"{base}/settings/team", params={"scope": "default"}))


# -- projects ------------------------------------------------------------------------------


def test_projects_move_all_and_delete_all(server: ServeProcess, client: httpx.Client) -> None:
    project = ok(client.post("/api/projects", json={"name": "alpha"}))["project"]
    pid = project["projectId"]
    assert (
        refused(client.post("/api/projects", json={"name": "alpha"}), 409)["code"]
        == "duplicate_name"
    )
    first, second = create(client, server), create(client, server)
    for sid in (first, second):
        moved = ok(client.post(f"/api/sessions/{sid}/project", json={"projectId": pid}))
        assert moved["session"]["projectId"] == pid
    listed = ok(client.get(f"/api/projects/{pid}/agent-sessions"))["data"]
    assert {s["sessionId"] for s in listed} == {first, second}
    refused(client.delete(f"/api/projects/{pid}"), 409)  # not empty

    out = ok(client.post(f"/api/projects/{pid}/chats/move-all", json={"destination": "unassigned"}))
    assert set(out["sessionIds"]) == {first, second}
    assert ok(client.get(f"/api/sessions/{first}"))["session"]["projectId"] is None

    for sid in (first, second):
        ok(client.post(f"/api/sessions/{sid}/project", json={"projectId": pid}))
    ok(client.post(f"/api/projects/{pid}/chats/move-all", json={"destination": "archive"}))
    archived = ok(client.get("/api/sessions", params={"archived": "true"}))["data"]
    assert {first, second} <= {s["sessionId"] for s in archived}

    renamed = ok(client.post(f"/api/projects/{pid}/rename", json={"name": "beta"}))
    assert renamed["project"]["name"] == "beta"
    deleted = ok(client.post(f"/api/projects/{pid}/chats/delete-all"))
    assert set(deleted["deletedSessionIds"]) == {first, second}
    refused(client.get(f"/api/sessions/{first}"), 410)
    ok(client.delete(f"/api/projects/{pid}"))
    assert pid not in [p["projectId"] for p in ok(client.get("/api/projects"))["data"]]
    refused(client.post(f"/api/projects/{pid}/rename", json={"name": "gamma"}), 404)


# -- thread operations -----------------------------------------------------------------------


def test_fork_compact_rollback_and_review(
    server: ServeProcess, model: ScriptedModel, client: httpx.Client
) -> None:
    model.extend([text("alpha reply"), text("beta reply"), text("a summary"), text("Looks fine.")])
    sid = create(client, server)
    refused(client.post(f"/api/sessions/{sid}/fork"), 409)  # nothing to fork yet
    first = turn(client, server, sid, "q1")
    second = turn(client, server, sid, "q2")

    forked = ok(client.post(f"/api/sessions/{sid}/fork"))
    fork_id = forked["session"]["sessionId"]
    assert fork_id != sid
    assert replies(forked) == ["alpha reply", "beta reply"]

    rolled = ok(client.post(f"/api/sessions/{sid}/rollback", json={"numTurns": 1}))
    assert rolled["removedTurnIds"] == [second]
    state = ok(client.get(f"/api/sessions/{sid}"))
    assert [t["id"] for t in state["thread"]["turns"]] == [first]
    assert replies(state) == ["alpha reply"]
    refused(client.post(f"/api/sessions/{sid}/rollback", json={"numTurns": 0}), 400)
    assert replies(ok(client.get(f"/api/sessions/{fork_id}"))) == ["alpha reply", "beta reply"]

    with Stream(server, f"?threadId={sid}") as stream:
        stream.next("ready")
        assert ok(client.post(f"/api/sessions/{sid}/compact"))["status"] == "ok"
        stream.next("app_server.turn.completed")
        body = {"targetType": "custom", "instructions": "check the greeting"}
        review = ok(client.post(f"/api/sessions/{sid}/review", json=body))
        assert review["status"] == "accepted"
        stream.next("app_server.turn.completed", completed(review["turnId"]))
    turns = ok(client.get(f"/api/sessions/{sid}"))["thread"]["turns"]
    assert {t["status"] for t in turns} == {"completed"}
    assert "check the greeting" in str(model.requests[-1].input)


def _wait_for_prompt(model: ScriptedModel, prompt: str, timeout: float = 30.0) -> None:
    """Block until the model was asked ``prompt`` (other sessions may call it meanwhile)."""
    deadline = time.monotonic() + timeout
    while not any(request.last_user_text == prompt for request in model.requests):
        model.wait_for_requests(len(model.requests) + 1, timeout=deadline - time.monotonic())


def test_steer_then_interrupt_a_running_turn(
    server: ServeProcess, model: ScriptedModel, client: httpx.Client
) -> None:
    # The model never answers this turn: it runs until stopped. Tied to its prompt, so a
    # late request of an earlier test's session cannot take the stall and end it early.
    model.add(stall(), match="think hard")
    # codex may carry the steer into a second call of the same turn: that one stalls too.
    model.add(stall(), match="consider this")
    sid = create(client, server)
    base = f"/api/sessions/{sid}"
    refused(client.post(f"{base}/interrupt"), 409)  # nothing runs yet
    with Stream(server, f"?threadId={sid}") as stream:
        stream.next("ready")
        turn_id = send(client, sid, "think hard")
        stream.next("app_server.turn.started")
        # A steer sent before the turn's model call would become that call's prompt.
        _wait_for_prompt(model, "think hard")
        refused(client.post(f"{base}/messages", json={"text": "another"}), 409)
        refused(client.post(f"{base}/turns/not-the-turn/steer", json={"input": "more"}), 409)
        steered = ok(client.post(f"{base}/turns/{turn_id}/steer", json={"input": "consider this"}))
        assert steered == {"status": "ok", "sessionId": sid, "turnId": turn_id}
        stopped = ok(client.post(f"{base}/interrupt", json={"turnId": turn_id}))
        assert stopped["turnId"] == turn_id
        stream.next("app_server.turn.completed", completed(turn_id))
    [current] = ok(client.get(base))["thread"]["turns"]
    assert current["status"] == "interrupted"
    assert ok(client.post(f"{base}/background-terminals/clean"))["status"] == "ok"


def test_parallel_sessions_each_get_their_own_reply(
    server: ServeProcess, model: ScriptedModel, client: httpx.Client
) -> None:
    """Four sessions at once on one server: each reply lands in its own transcript."""
    sids = [create(client, server) for _ in range(4)]
    for sid in sids:
        model.add(text(f"reply to {sid}"), match=f"hello {sid}")
    errors: list[BaseException] = []

    def run(sid: str) -> None:
        try:
            with server.client() as own:
                turn(own, server, sid, f"hello {sid}")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(sid,)) for sid in sids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    for sid in sids:
        state = ok(client.get(f"/api/sessions/{sid}"))
        assert replies(state) == [f"reply to {sid}"]
        assert state["transcript"][0]["content"] == f"hello {sid}"


def test_every_approval_policy_of_the_contract_starts_a_session(
    server: ServeProcess, client: httpx.Client
) -> None:
    # codex 0.163 no longer knows `on-failure`; the server gives it the nearest policy.
    for policy in ("untrusted", "on-failure", "on-request", "never"):
        sid = create(client, server, approvalPolicy=policy)
        summary = ok(client.get(f"/api/sessions/{sid}"))["session"]
        assert summary["sessionControls"]["approvalPolicy"] == policy
