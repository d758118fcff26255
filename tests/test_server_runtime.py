"""The control plane's runtime without HTTP: the real binary, the scripted model, SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.postgres import postgres_cluster, postgres_url  # noqa: F401 (fixtures)
from support.serve_runtime import completed, frame, running

from codexkit.server.runtime import Frame, Runtime
from codexkit.server.runtime.errors import (
    Conflict,
    Invalid,
    Locked,
    NotFound,
    SessionDeleted,
)
from codexkit.testing import ScriptedModel, apply_patch, shell, stall, text, tool_call

pytestmark = pytest.mark.real

TERMINAL = {"completed", "failed", "error", "interrupted", "canceled"}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
async def runtime(codex_home: Path, workspace: Path, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(codex_home, workspace, tmp_path / "data") as started:
        yield started


async def test_session_lifecycle(runtime: Runtime, workspace: Path) -> None:
    created = await runtime.sessions.create()
    session = created["session"]
    sid = session["sessionId"]
    assert created["thread"]["id"] == sid
    assert session["cwd"] == str(workspace)
    assert session["projectId"] is None
    assert session["materialized"] is False
    listed = await runtime.sessions.list()
    assert [s["sessionId"] for s in listed["data"]] == [sid]
    assert listed["nextCursor"] is None

    renamed = await runtime.sessions.rename(sid, "my chat")
    assert renamed["session"]["title"] == "my chat"
    await runtime.sessions.archive(sid)
    assert (await runtime.sessions.list())["data"] == []
    archived = await runtime.sessions.list(archived=True)
    assert [s["sessionId"] for s in archived["data"]] == [sid]
    await runtime.sessions.unarchive(sid)
    assert [s["sessionId"] for s in (await runtime.sessions.list())["data"]] == [sid]

    await runtime.sessions.delete(sid)
    with pytest.raises(SessionDeleted) as gone:
        await runtime.sessions.read(sid)
    assert gone.value.http_status == 410
    assert gone.value.body()["status"] == "deleted"
    assert gone.value.body()["sessionId"] == sid
    with pytest.raises(SessionDeleted):
        await runtime.turns.send(sid, "hello?")
    with pytest.raises(NotFound):
        await runtime.sessions.read("no-such-session")
    assert (await runtime.sessions.list())["data"] == []


async def test_pages_of_sessions_neither_repeat_nor_skip_when_sessions_come_and_go(
    runtime: Runtime,
) -> None:
    made = [(await runtime.sessions.create())["session"]["sessionId"] for _ in range(5)]
    newest_first = made[::-1]

    first = await runtime.sessions.list(limit=2)
    assert [s["sessionId"] for s in first["data"]] == newest_first[:2]
    # Between two pages: a new session, and one of the next page deleted.
    late = (await runtime.sessions.create())["session"]["sessionId"]
    await runtime.sessions.delete(newest_first[2])
    second = await runtime.sessions.list(limit=2, cursor=first["nextCursor"])
    assert [s["sessionId"] for s in second["data"]] == newest_first[3:5]
    assert second["nextCursor"] is None
    everything = await runtime.sessions.list()
    assert [s["sessionId"] for s in everything["data"]] == [
        late,
        *newest_first[:2],
        *newest_first[3:],
    ]

    for bad in ("12", "not-a-cursor", "WzEsMiwzXQ"):  # an offset, garbage, [1,2,3]
        with pytest.raises(Invalid, match="cursor"):
            await runtime.sessions.list(cursor=bad)


async def test_the_reply_is_in_the_transcript_before_the_turn_reads_finished(
    runtime: Runtime, scripted_model: ScriptedModel
) -> None:
    scripted_model.add(stall(0.3) + text("Hello from the agent"))
    sid = (await runtime.sessions.create())["session"]["sessionId"]
    subscription, _ = runtime.hub.subscribe(sid)
    turn_id = (await runtime.turns.send(sid, "hi"))["turnId"]

    first = await runtime.sessions.read(sid)
    assert [(t["id"], t["status"]) for t in first["thread"]["turns"]] == [(turn_id, "inProgress")]

    # Read the session as fast as a client polls while the turn runs: whenever the turn
    # reads as finished, its reply is already there.
    done = asyncio.Event()
    reads = 0

    async def poll() -> None:
        nonlocal reads
        while not done.is_set():
            state = await runtime.sessions.read(sid)
            reads += 1
            [turn] = state["thread"]["turns"]
            if turn["status"] in TERMINAL:
                replies = [
                    e
                    for e in state["transcript"]
                    if e["role"] == "assistant" and e["turnId"] == turn_id
                ]
                assert [(e["content"], e["status"]) for e in replies] == [
                    ("Hello from the agent", "complete")
                ]
                return

    poller = asyncio.create_task(poll())
    await frame(subscription, "app_server.turn.completed", completed(turn_id))
    await asyncio.wait_for(poller, 30)
    done.set()
    assert reads > 1
    final = await runtime.sessions.read(sid)
    assert final["thread"]["turns"][0]["status"] == "completed"
    assert final["session"]["materialized"] is True
    assert [e["role"] for e in final["transcript"]] == ["user", "assistant"]


async def test_a_command_approval_is_a_frame_then_decided_and_the_command_runs(
    runtime: Runtime, scripted_model: ScriptedModel, workspace: Path
) -> None:
    scripted_model.extend([shell("touch approved.txt", escalate=True), text("done")])
    created = await runtime.sessions.create(
        approval_policy="on-request", filesystem_sandbox="read-only"
    )
    sid = created["session"]["sessionId"]
    subscription, _ = runtime.hub.subscribe(sid)
    turn_id = (await runtime.turns.send(sid, "make the file"))["turnId"]

    seen: list[Frame] = []
    asked = await frame(subscription, "approval", seen=seen)
    approval_id = asked.payload["approvalId"]
    signal = [f for f in seen if f.type.startswith("app_server.request.")]
    assert [f.type for f in signal] == [
        "app_server.request.item.command_execution.request_approval"
    ]
    assert signal[0].payload["requestId"] == approval_id  # the id the lists show
    assert signal[0].seq == asked.seq - 1  # the signal, then the derived frame
    [pending] = (await runtime.pending(sid, "approval"))["data"]
    assert pending["approvalId"] == approval_id
    assert pending["status"] == "pending"
    assert "touch approved.txt" in pending["summary"]
    assert not (workspace / "approved.txt").exists()

    answer = await runtime.decide("approval", approval_id, {"decision": "accept"}, actor="me")
    assert answer == {"status": "ok", "approvalId": approval_id, "threadId": sid}
    resolved = await frame(subscription, "approval_resolved")
    assert resolved.payload["approvalId"] == approval_id
    assert resolved.payload["decision"] == "accept"
    await frame(subscription, "app_server.turn.completed", completed(turn_id))
    assert (workspace / "approved.txt").exists()
    assert (await runtime.pending(sid, "approval"))["data"] == []

    with pytest.raises(Conflict) as again:  # clients count this as done
        await runtime.decide("approval", approval_id, {"decision": "decline"})
    assert again.value.http_status == 409
    assert again.value.body()["code"] == "already_resolved"
    with pytest.raises(NotFound):
        await runtime.decide("approval", "no-such-id", {"decision": "accept"})


async def test_every_turn_runs_under_the_controls_in_force_when_it_starts(
    runtime: Runtime, scripted_model: ScriptedModel
) -> None:
    # codex keeps a turn's approval policy and sandbox for the turns after it, so the
    # server sends them only when they change: each turn must still get the session's
    # controls of its moment, and a message's own ones for that message only.
    created = await runtime.sessions.create(
        approval_policy="on-request", filesystem_sandbox="read-only"
    )
    sid = created["session"]["sessionId"]
    subscription, _ = runtime.hub.subscribe(sid)

    async def asks(approval_policy: str | None = None) -> bool:
        """A turn whose command asks to leave the sandbox: did codex ask a person?"""
        scripted_model.extend([shell("touch outside.txt", escalate=True), text("done")])
        sent = await runtime.turns.send(sid, "go", approval_policy=approval_policy)
        turn_id = sent["turnId"]

        async def until_completed() -> bool:
            asked = False
            while (got := await subscription.get()) is not None:
                if got.type == "approval":
                    asked = True
                    decision = {"decision": "decline"}
                    await runtime.decide("approval", got.payload["approvalId"], decision)
                elif got.type == "app_server.turn.completed" and completed(turn_id)(got):
                    return asked
            raise AssertionError(f"subscription ended ({subscription.dropped})")

        return await asyncio.wait_for(until_completed(), 30)

    assert await asks() is True
    assert await asks() is True  # the same controls, not sent again
    await runtime.sessions.set_approval_policy(sid, "never")
    assert await asks() is False
    assert await asks(approval_policy="on-request") is True  # this message only
    assert await asks() is False


async def test_a_person_may_take_longer_than_any_request_timeout(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path, tmp_path: Path
) -> None:
    scripted_model.extend([shell("touch pondered.txt", escalate=True), text("done")])
    async with running(codex_home, workspace, tmp_path / "data", request_timeout=1.0) as rt:
        sid = (
            await rt.sessions.create(approval_policy="on-request", filesystem_sandbox="read-only")
        )["session"]["sessionId"]
        subscription, _ = rt.hub.subscribe(sid)
        turn_id = (await rt.turns.send(sid, "go"))["turnId"]
        approval_id = (await frame(subscription, "approval")).payload["approvalId"]
        await asyncio.sleep(2.0)  # the person reading it: twice the request timeout
        await rt.decide("approval", approval_id, {"decision": "accept"})
        await frame(subscription, "app_server.turn.completed", completed(turn_id))
        [turn] = (await rt.sessions.read(sid))["thread"]["turns"]
    assert turn["status"] == "completed"
    assert (workspace / "pondered.txt").exists()


async def test_a_file_change_approval_is_decided_and_the_file_written(
    scripted_model: ScriptedModel, workspace: Path, tmp_path: Path
) -> None:
    # codex offers its patch tool only for models it knows.
    home = scripted_model.codex_home(tmp_path / "home", extra_config={"model": "gpt-5.5"})
    patch = "*** Begin Patch\n*** Add File: notes.txt\n+hello\n*** End Patch\n"
    scripted_model.extend([apply_patch(patch), text("written")])
    async with running(home, workspace, tmp_path / "data") as rt:
        sid = (
            await rt.sessions.create(approval_policy="on-request", filesystem_sandbox="read-only")
        )["session"]["sessionId"]
        subscription, _ = rt.hub.subscribe(sid)
        turn_id = (await rt.turns.send(sid, "write notes"))["turnId"]
        seen: list[Frame] = []
        asked = await frame(subscription, "approval", seen=seen)
        assert asked.payload["method"] == "item/fileChange/requestApproval"
        expected = "app_server.request.item.file_change.request_approval"
        assert [f.type for f in seen if f.type.startswith("app_server.request.")] == [expected]
        assert not (workspace / "notes.txt").exists()
        await rt.decide("approval", asked.payload["approvalId"], {"decision": "accept"})
        await frame(subscription, "app_server.turn.completed", completed(turn_id))
    assert (workspace / "notes.txt").read_text() == "hello\n"


async def test_an_invalid_decision_changes_nothing(
    runtime: Runtime, scripted_model: ScriptedModel, workspace: Path
) -> None:
    scripted_model.extend([shell("touch never.txt", escalate=True), text("done")])
    sid = (
        await runtime.sessions.create(approval_policy="on-request", filesystem_sandbox="read-only")
    )["session"]["sessionId"]
    subscription, _ = runtime.hub.subscribe(sid)
    turn_id = (await runtime.turns.send(sid, "go"))["turnId"]
    approval_id = (await frame(subscription, "approval")).payload["approvalId"]
    with pytest.raises(Invalid) as bad:
        await runtime.decide("approval", approval_id, {"decision": "maybe"})
    assert bad.value.http_status == 400
    assert bad.value.body()["issues"]
    assert (await runtime.pending(sid, "approval"))["data"][0]["approvalId"] == approval_id
    await runtime.decide("approval", approval_id, {"decision": "decline"})
    await frame(subscription, "app_server.turn.completed", completed(turn_id))
    assert not (workspace / "never.txt").exists()


async def test_deleting_a_session_expires_its_pending_requests(
    runtime: Runtime, scripted_model: ScriptedModel, workspace: Path
) -> None:
    scripted_model.extend([shell("touch orphan.txt", escalate=True), text("done")])
    sid = (
        await runtime.sessions.create(approval_policy="on-request", filesystem_sandbox="read-only")
    )["session"]["sessionId"]
    subscription, _ = runtime.hub.subscribe(sid)
    await runtime.turns.send(sid, "go")
    approval_id = (await frame(subscription, "approval")).payload["approvalId"]
    await runtime.sessions.delete(sid)
    resolved = await frame(subscription, "approval_resolved")
    assert resolved.payload["status"] == "expired"
    assert resolved.payload["reason"] == "the session was deleted"
    deleted = await frame(subscription, "session_deleted")
    assert deleted.payload["expiredRequestIds"] == [approval_id]
    with pytest.raises(Conflict):
        await runtime.decide("approval", approval_id, {"decision": "accept"})
    assert not (workspace / "orphan.txt").exists()


async def test_an_approval_timeout_decides_and_records_why(
    runtime: Runtime, scripted_model: ScriptedModel, workspace: Path
) -> None:
    scripted_model.extend([shell("touch late.txt", escalate=True), text("done")])
    sid = (
        await runtime.sessions.create(approval_policy="on-request", filesystem_sandbox="read-only")
    )["session"]["sessionId"]
    await runtime.sessions.set_approval_timeout(sid, 0.5, "decline")
    subscription, _ = runtime.hub.subscribe(sid)
    turn_id = (await runtime.turns.send(sid, "go"))["turnId"]
    approval_id = (await frame(subscription, "approval")).payload["approvalId"]
    resolved = await frame(subscription, "approval_resolved")
    assert resolved.payload["status"] == "expired"
    assert "approval timeout of 0.5 s" in resolved.payload["reason"]
    await frame(subscription, "app_server.turn.completed", completed(turn_id))
    assert not (workspace / "late.txt").exists()
    row = await runtime.store.requests.get(approval_id)
    assert row is not None
    assert row.status == "expired"
    assert row.expiry_reason is not None
    assert "approval timeout" in row.expiry_reason
    assert row.decision is not None
    assert row.decision["decision"] == "decline"


async def test_a_tool_input_request_is_answered(
    runtime: Runtime, scripted_model: ScriptedModel
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
    scripted_model.extend([tool_call("request_user_input", {"questions": questions}), text("ok")])
    sid = (await runtime.sessions.create())["session"]["sessionId"]
    subscription, _ = runtime.hub.subscribe(sid)
    turn_id = (await runtime.turns.send(sid, "ask me"))["turnId"]
    asked = await frame(subscription, "tool_user_input_requested")
    request_id = asked.payload["requestId"]
    [listed] = (await runtime.pending(sid, "tool_input"))["data"]
    assert listed["requestId"] == request_id
    assert listed["questions"][0]["id"] == "color"
    assert listed["questions"][0]["options"][1] == {"label": "blue", "description": "cool"}
    body = {"decision": "accept", "answers": {"color": {"answers": ["blue"]}}}
    await runtime.decide("tool_input", request_id, body)
    await frame(subscription, "tool_user_input_resolved")
    await frame(subscription, "app_server.turn.completed", completed(turn_id))
    [output] = scripted_model.requests[1].function_call_outputs()
    assert '"color":{"answers":["blue"]}' in str(output["output"]).replace(" ", "")


async def test_a_dynamic_tool_call_is_answered(
    runtime: Runtime, scripted_model: ScriptedModel
) -> None:
    tools = [
        {
            "name": "lookup",
            "description": "Look a word up",
            "inputSchema": {"type": "object", "properties": {"word": {"type": "string"}}},
        }
    ]
    scripted_model.extend([tool_call("lookup", {"word": "codex"}), text("thanks")])
    sid = (await runtime.sessions.create(dynamic_tools=tools))["session"]["sessionId"]
    subscription, _ = runtime.hub.subscribe(sid)
    turn_id = (await runtime.turns.send(sid, "look it up"))["turnId"]
    seen: list[Frame] = []
    asked = await frame(subscription, "tool_call_requested", seen=seen)
    request_id = asked.payload["requestId"]
    assert asked.payload["tool"] == "lookup"
    assert asked.payload["arguments"] == {"word": "codex"}
    [signal] = [f for f in seen if f.type == "app_server.request.item.tool.call"]
    assert signal.payload["requestId"] == request_id
    [listed] = (await runtime.pending(sid, "tool_call"))["data"]
    assert listed["requestId"] == request_id
    await runtime.decide("tool_call", request_id, {"success": True, "text": "a coding agent"})
    resolved = await frame(subscription, "tool_call_resolved")
    assert resolved.payload == {
        "threadId": sid,
        "status": "resolved",
        "requestId": request_id,
        "success": True,
    }
    await frame(subscription, "app_server.turn.completed", completed(turn_id))
    [output] = scripted_model.requests[1].function_call_outputs()
    assert "a coding agent" in str(output["output"])
    with pytest.raises(Conflict) as again:
        await runtime.decide("tool_call", request_id, {"success": True, "text": "twice"})
    assert again.value.body()["code"] == "in_flight"


async def test_an_unanswered_tool_call_fails_after_the_approval_timeout(
    runtime: Runtime, scripted_model: ScriptedModel
) -> None:
    tools = [{"name": "slow", "description": "Never answered", "inputSchema": {"type": "object"}}]
    scripted_model.extend([tool_call("slow", {}), text("gave up")])
    sid = (await runtime.sessions.create(dynamic_tools=tools))["session"]["sessionId"]
    await runtime.sessions.set_approval_timeout(sid, 0.5)
    subscription, _ = runtime.hub.subscribe(sid)
    turn_id = (await runtime.turns.send(sid, "call it"))["turnId"]
    resolved = await frame(subscription, "tool_call_resolved")
    assert resolved.payload["status"] == "expired"
    assert resolved.payload["success"] is False
    await frame(subscription, "app_server.turn.completed", completed(turn_id))
    [output] = scripted_model.requests[1].function_call_outputs()
    assert "approval timeout of 0.5 s" in str(output["output"])


async def test_controls_and_settings_with_a_namespaced_key(runtime: Runtime) -> None:
    sid = (await runtime.sessions.create())["session"]["sessionId"]
    tuple_ = {
        "model": None,
        "approvalPolicy": "never",
        "networkAccess": "enabled",
        "filesystemSandbox": "workspace-write",
    }
    applied = await runtime.controls.apply(sid, "session", tuple_)
    assert applied["status"] == "ok"
    assert applied["controls"]["approvalPolicy"] == "never"
    again = await runtime.controls.apply(sid, "session", tuple_)
    assert again["status"] == "unchanged"
    summary = (await runtime.sessions.read(sid))["session"]
    assert summary["approvalPolicy"] == "never"
    assert summary["sessionControls"]["networkAccess"] == "enabled"
    with pytest.raises(Invalid):
        await runtime.controls.apply(sid, "session", {**tuple_, "approvalPolicy": "sometimes"})

    # A client writes `supervisor.fileChange` as a read-modify-write of `supervisor`.
    first = {"scope": "session", "key": "supervisor", "value": {"other": 1}}
    assert (await runtime.controls.set_settings(sid, first))["status"] == "ok"
    current = await runtime.controls.settings(sid, "session", "supervisor")
    assert current["found"] is True
    value = {**current["value"], "fileChange": {"mode": "auto"}}
    written = await runtime.controls.set_settings(
        sid, {"scope": "session", "key": "supervisor", "value": value}
    )
    assert written["settings"] == {"supervisor": {"other": 1, "fileChange": {"mode": "auto"}}}
    same = await runtime.controls.set_settings(
        sid, {"scope": "session", "key": "supervisor", "value": value}
    )
    assert same["status"] == "unchanged"
    merged = await runtime.controls.set_settings(
        sid, {"scope": "session", "settings": {"b": 2}, "mode": "merge"}
    )
    assert set(merged["settings"]) == {"supervisor", "b"}
    removed = await runtime.controls.unset(sid, "b")
    assert removed["removed"] is True
    assert removed["status"] == "ok"
    assert (await runtime.controls.unset(sid, "b"))["status"] == ("unchanged")
    with pytest.raises(Invalid):
        await runtime.controls.set_settings(sid, {"scope": "session", "settings": {}, "key": "x"})

    policy = await runtime.sessions.set_approval_policy(sid, "untrusted")
    assert policy == {"status": "ok", "sessionId": sid, "approvalPolicy": "untrusted"}
    assert (await runtime.sessions.read(sid))["session"]["approvalPolicy"] == "untrusted"

    await runtime.store.defaults.update(locked=True)
    with pytest.raises(Locked) as locked:
        await runtime.controls.set_settings(sid, {"scope": "default", "key": "x", "value": 1})
    assert locked.value.http_status == 423
    assert locked.value.body()["status"] == "locked"
    with pytest.raises(Locked):
        await runtime.controls.apply(sid, "default", tuple_)
    # The session scope is still writable.
    ok = await runtime.controls.set_settings(sid, {"scope": "session", "key": "x", "value": 1})
    assert ok["status"] == "ok"


async def test_projects_move_all_and_delete_all(runtime: Runtime) -> None:
    project = (await runtime.projects.create("alpha"))["project"]
    pid = project["projectId"]
    with pytest.raises(Conflict):
        await runtime.projects.create("alpha")
    subscription, _ = runtime.hub.subscribe()
    ids = []
    for _ in range(2):
        sid = (await runtime.sessions.create())["session"]["sessionId"]
        await runtime.sessions.set_project(sid, pid)
        ids.append(sid)
    updated = await frame(subscription, "session_project_updated")
    assert updated.payload == {"sessionId": ids[0], "projectId": pid}
    listed = await runtime.projects.sessions(pid)
    assert sorted(s["sessionId"] for s in listed["data"]) == sorted(ids)
    with pytest.raises(Conflict):
        await runtime.projects.delete(pid)  # not empty

    moved = await runtime.projects.move_all(pid, "unassigned")
    assert sorted(moved["sessionIds"]) == sorted(ids)
    assert (await runtime.projects.sessions(pid))["data"] == []
    for sid in ids:
        assert (await runtime.sessions.read(sid))["session"]["projectId"] is None

    for sid in ids:
        await runtime.sessions.set_project(sid, pid)
    await runtime.projects.move_all(pid, "archive")
    assert (await runtime.sessions.list())["data"] == []
    assert len((await runtime.sessions.list(archived=True))["data"]) == 2

    renamed = await runtime.projects.rename(pid, "beta")
    assert renamed["project"]["name"] == "beta"
    other = (await runtime.projects.create("gamma"))["project"]["projectId"]
    with pytest.raises(Conflict):
        await runtime.projects.rename(other, "beta")
    assert [p["name"] for p in (await runtime.projects.list())["data"]] == ["beta", "gamma"]
    await runtime.projects.delete(other)

    deleted = await runtime.projects.delete_all(pid)
    assert sorted(deleted["deletedSessionIds"]) == sorted(ids)
    for sid in ids:
        with pytest.raises(SessionDeleted):
            await runtime.sessions.read(sid)
    assert (await runtime.projects.delete(pid))["status"] == "ok"
    assert (await runtime.projects.list())["data"] == []
    with pytest.raises(NotFound):
        await runtime.projects.move_all(pid, "archive")


async def test_a_client_upserts_a_transcript_entry(runtime: Runtime) -> None:
    sid = (await runtime.sessions.create())["session"]["sessionId"]
    subscription, _ = runtime.hub.subscribe(sid)
    entry = {
        "messageId": "note-1",
        "turnId": "t-none",
        "role": "system",
        "type": "note",
        "content": "draft",
        "status": "streaming",
        "startedAt": 1_700_000_000_000,
    }
    await runtime.sessions.upsert_transcript(sid, entry)
    await runtime.sessions.upsert_transcript(
        sid, {**entry, "content": "final", "status": "complete"}
    )
    [stored] = (await runtime.sessions.read(sid))["transcript"]
    assert stored["content"] == "final"
    assert stored["status"] == "complete"
    assert stored["startedAt"] == 1_700_000_000_000
    updates = [await frame(subscription, "transcript_updated") for _ in range(2)]
    assert [u.payload["entry"]["content"] for u in updates] == ["draft", "final"]
    with pytest.raises(Invalid) as bad:
        await runtime.sessions.upsert_transcript(sid, {**entry, "role": "robot", "content": 3})
    assert {tuple(i["path"]) for i in bad.value.body()["issues"]} == {("role",), ("content",)}


async def test_the_runtime_on_postgresql(
    scripted_model: ScriptedModel,
    codex_home: Path,
    workspace: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    database_url: str = request.getfixturevalue("postgres_url")
    scripted_model.extend([shell("touch on-postgres.txt", escalate=True), text("done")])
    async with running(codex_home, workspace, tmp_path / "data", database_url=database_url) as rt:
        sid = (
            await rt.sessions.create(approval_policy="on-request", filesystem_sandbox="read-only")
        )["session"]["sessionId"]
        subscription, _ = rt.hub.subscribe(sid)
        turn_id = (await rt.turns.send(sid, "go"))["turnId"]
        approval_id = (await frame(subscription, "approval")).payload["approvalId"]
        await rt.decide("approval", approval_id, {"decision": "accept"})
        await frame(subscription, "app_server.turn.completed", completed(turn_id))
        state = await rt.sessions.read(sid)
    assert (workspace / "on-postgres.txt").exists()
    assert state["thread"]["turns"][0]["status"] == "completed"
    assert [e["content"] for e in state["transcript"] if e["role"] == "assistant"] == ["done"]


async def test_many_sessions_at_once_lose_no_reply_and_no_frame(
    runtime: Runtime, scripted_model: ScriptedModel
) -> None:
    sessions, messages, watchers = 6, 2, 3
    scripted_model.extend([text("reply") for _ in range(sessions * messages)])
    ids = [(await runtime.sessions.create())["session"]["sessionId"] for _ in range(sessions)]
    subscriptions = {sid: [runtime.hub.subscribe(sid)[0] for _ in range(watchers)] for sid in ids}

    async def converse(sid: str) -> list[str]:
        turns = []
        for n in range(messages):
            turn_id = (await runtime.turns.send(sid, f"message {n}"))["turnId"]
            await frame(subscriptions[sid][0], "app_server.turn.completed", completed(turn_id))
            turns.append(turn_id)
        return turns

    turns = dict(zip(ids, await asyncio.gather(*(converse(sid) for sid in ids)), strict=True))
    for sid in ids:
        state = await runtime.sessions.read(sid)
        replies = [e for e in state["transcript"] if e["role"] == "assistant"]
        assert [e["turnId"] for e in replies] == turns[sid]
        assert {t["status"] for t in state["thread"]["turns"]} == {"completed"}
        # Every watcher of a thread saw the same frames of it, in the same order.
        first, *others = subscriptions[sid]
        seen = [f.seq for f in first.ready()]
        for other in others:
            frames = other.ready()
            assert all(f.thread_id in (sid, None) for f in frames)
            assert [f.seq for f in frames][len(frames) - len(seen) :] == seen
            completions = [f for f in frames if f.type == "app_server.turn.completed"]
            assert [f.payload["context"]["turnId"] for f in completions] == turns[sid]


async def test_sessions_spread_over_a_pool_of_app_servers(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path, tmp_path: Path
) -> None:
    scripted_model.extend([text("from one"), text("from the other")])
    async with running(codex_home, workspace, tmp_path / "data", app_servers=2) as rt:
        first = (await rt.sessions.create())["session"]["sessionId"]
        second = (await rt.sessions.create())["session"]["sessionId"]
        assert {rt.pool.assign(first), rt.pool.assign(second)} == {0, 1}
        assert rt.pool.pid(0) != rt.pool.pid(1)
        for sid in (first, second):
            subscription, _ = rt.hub.subscribe(sid)
            turn_id = (await rt.turns.send(sid, "hello"))["turnId"]
            await frame(subscription, "app_server.turn.completed", completed(turn_id))
        replies = [
            e["content"]
            for sid in (first, second)
            for e in (await rt.sessions.read(sid))["transcript"]
            if e["role"] == "assistant"
        ]
    assert replies == ["from one", "from the other"]
