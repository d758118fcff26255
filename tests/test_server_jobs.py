"""The orchestrator's durable job queue on a real ``codexkit serve``: jobs run as turns
of the real codex binary (scripted model) in system-owned worker sessions; dedupe,
retries, invalid payloads, limits, cancel, and ``kill -9`` of the server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.postgres import postgres_cluster  # noqa: F401 (fixture)
from support.serve import ServeProcess
from support.serve_rest import create, job_ended, ok, refused, start_server, turn
from support.stream import Stream, completed

from codexkit.testing import ScriptedModel, failure, stall, text

pytestmark = [pytest.mark.real, pytest.mark.slow]

Json = dict[str, Any]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, model: ScriptedModel
) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("serve-jobs")
    more = ["--jobs-per-project", "1", "--jobs-max", "4", "--job-attempts", "2"]
    running = start_server(root, model, more=more)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def client(server: ServeProcess) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def enqueue(client: httpx.Client, **body: Any) -> Json:
    job: Json = ok(client.post("/api/orchestrator/jobs", json=body), 202)["job"]
    return job


def instruction(agent: str, text_: str) -> Json:
    return {"type": "agent_instruction", "payload": {"agent": agent, "instructionText": text_}}


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_suggestion_runs_in_a_hidden_worker_session(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    chat = create(client, server)
    model.add(text("Here are the files."))
    turn(client, server, chat, "please list the files")

    model.add(text("Now run the tests"))
    queued = ok(client.post(f"/api/sessions/{chat}/suggested-request/jobs"), 202)
    assert queued["status"] == "queued"
    assert queued["dedupe"] == "enqueued"
    assert queued["sessionId"] == chat
    assert queued["projectId"] == f"session:{chat}"
    job = job_ended(server, client, queued["jobId"])
    assert job["state"] == "completed", job
    assert job["attempts"] == 1
    assert job["result"]["suggestion"] == "Now run the tests"
    asked = model.requests[-1].last_user_text or ""
    assert "please list the files" in asked
    assert "Here are the files." in asked

    worker = job["result"]["workerSessionId"]
    listed = [s["sessionId"] for s in ok(client.get("/api/sessions"))["data"]]
    assert chat in listed
    assert worker not in listed
    every = ok(client.get("/api/sessions", params={"includeSystemOwned": "true"}))["data"]
    assert {s["sessionId"]: s["systemOwned"] for s in every}[worker] is True
    message = client.post(f"/api/sessions/{worker}/messages", json={"text": "hi"})
    assert refused(message, 403)["code"] == "system_session"

    # The waiting variant answers with the suggestion, from the same worker session.
    model.add(text("Commit the change"))
    answer = ok(client.post(f"/api/sessions/{chat}/suggested-request", json={}))
    assert answer == {
        "status": "ok",
        "sessionId": chat,
        "requestKey": f"suggest:{chat}",
        "suggestion": "Commit the change",
    }
    every = ok(client.get("/api/sessions", params={"includeSystemOwned": "true"}))["data"]
    assert [s["sessionId"] for s in every if s["systemOwned"]].count(worker) == 1
    assert sum(s["systemOwned"] for s in every) == 1


def test_a_new_chat_is_named_after_its_first_request(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    chat = create(client, server)
    body = {"scope": "session", "key": "automation", "value": {"renameChats": True}}
    ok(client.post(f"/api/sessions/{chat}/settings", json=body))
    model.extend([text("Here they are."), text('"Listing the files"')])
    with Stream(server, f"?threadId={chat}") as stream:
        stream.next("ready")
        turn_id = ok(
            client.post(f"/api/sessions/{chat}/messages", json={"text": "ls please"}), 202
        )["turnId"]
        stream.next("app_server.turn.completed", completed(turn_id))
        done = stream.next(
            ("orchestrator_job_completed", "orchestrator_job_failed"),
            lambda f: f["payload"]["jobType"] == "session_initial_rename",
        )
    assert done["payload"]["result"] == {
        "sessionId": chat,
        "renamed": True,
        "title": "Listing the files",
    }
    assert ok(client.get(f"/api/sessions/{chat}"))["session"]["title"] == "Listing the files"
    assert "ls please" in (model.requests[-1].last_user_text or "")


def test_a_suggested_requests_state_is_upserted(server: ServeProcess, client: httpx.Client) -> None:
    chat = create(client, server)
    route = f"/api/sessions/{chat}/suggested-request/upsert"
    with Stream(server, f"?threadId={chat}") as stream:
        stream.next("ready")
        body = {"requestKey": "k1", "status": "complete", "suggestion": "Run the tests"}
        answer = ok(client.post(route, json=body))
        frame = stream.next("suggested_request_updated")
    assert answer["entry"]["suggestion"] == "Run the tests"
    assert frame["payload"] == {"sessionId": chat, "requestKey": "k1", "entry": answer["entry"]}
    missing = client.post(route, json={"requestKey": "k1", "status": "complete"})
    assert refused(missing, 400) == {
        "status": "invalid_request",
        "code": "missing_suggestion",
        "message": "a complete suggested request needs its suggestion",
    }


def test_a_repeated_trigger_is_deduplicated(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    chat = create(client, server)
    model.add(stall(2) + text("first"))
    first = ok(client.post(f"/api/sessions/{chat}/suggested-request/jobs"), 202)
    again = ok(client.post(f"/api/sessions/{chat}/suggested-request/jobs"), 202)
    assert again["dedupe"] == "already_queued"
    assert again["jobId"] == first["jobId"]
    assert job_ended(server, client, first["jobId"])["result"]["suggestion"] == "first"

    model.add(text("second"))  # the first one ended: a new trigger makes a new job
    later = ok(client.post(f"/api/sessions/{chat}/suggested-request/jobs"), 202)
    assert later["dedupe"] == "enqueued"
    assert later["jobId"] != first["jobId"]
    assert job_ended(server, client, later["jobId"])["result"]["suggestion"] == "second"


def test_transient_failures_are_retried_a_bounded_number_of_times(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    chat = create(client, server)
    model.extend([failure("the model is overloaded"), text("done on retry")])
    job = enqueue(client, sourceSessionId=chat, **instruction("helper", "say done"))
    job = job_ended(server, client, job["id"])
    assert job["state"] == "completed", job
    assert job["attempts"] == 2
    assert job["result"]["reply"] == "done on retry"

    model.extend([failure("down"), failure("still down")])  # the server allows 2 runs
    job = job_ended(
        server, client, enqueue(client, sourceSessionId=chat, **instruction("helper", "x"))["id"]
    )
    assert job["state"] == "failed"
    assert "still down" in job["error"]
    assert "attempt 2 of 2" in job["error"]


def test_an_invalid_payload_fails_at_once_with_the_reason(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    chat = create(client, server)
    asked = len(model.requests)
    body = {"type": "agent_instruction", "payload": {"agent": "helper"}}
    job = job_ended(server, client, enqueue(client, sourceSessionId=chat, **body)["id"])
    assert job["state"] == "failed"
    assert job["attempts"] == 1
    assert job["error"] == "invalid payload: instructionText must be a non-empty string"
    assert len(model.requests) == asked  # no agent was asked

    unknown = client.post("/api/orchestrator/jobs", json={"type": "nope", "sourceSessionId": chat})
    assert refused(unknown, 400)["code"] == "invalid_payload"


def test_the_per_project_limit_holds(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    project = ok(client.post("/api/projects", json={"name": "limits"}))["project"]["id"]
    chat = create(client, server)
    ok(client.post(f"/api/sessions/{chat}/project", json={"projectId": project}))
    # Two agents (two worker sessions), so only the limit of 1 per project orders them.
    model.extend([stall(1) + text("a"), stall(1) + text("b")])
    first = enqueue(client, projectId=project, **instruction("alpha", "job a"))
    second = enqueue(client, projectId=project, **instruction("beta", "job b"))
    a, b = job_ended(server, client, first["id"]), job_ended(server, client, second["id"])
    assert (a["state"], b["state"]) == ("completed", "completed")
    assert _time(b["startedAt"]) >= _time(a["completedAt"])

    listed = ok(client.get(f"/api/projects/{project}/orchestrator/jobs"))["jobs"]
    assert [j["id"] for j in listed] == [first["id"], second["id"]]
    queued = client.get(f"/api/projects/{project}/orchestrator/jobs", params={"state": "queued"})
    assert ok(queued)["jobs"] == []

    # The project's worker sessions neither block its deletion nor move with its chats.
    refused(client.delete(f"/api/projects/{project}"), 409)
    moved = ok(
        client.post(f"/api/projects/{project}/chats/move-all", json={"destination": "unassigned"})
    )
    assert moved["sessionIds"] == [chat]
    ok(client.delete(f"/api/projects/{project}"))


def test_a_full_queue_answers_429_and_jobs_can_be_canceled(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    chat = create(client, server)
    asked = len(model.requests)
    model.add(stall(30))
    jobs = [enqueue(client, sourceSessionId=chat, **instruction(f"a{i}", "wait")) for i in range(4)]
    full = client.post(
        "/api/orchestrator/jobs", json={"sourceSessionId": chat, **instruction("x", "y")}
    )
    body = refused(full, 429)
    assert body["status"] == "error"
    assert body["code"] == "queue_full"
    assert body["sessionId"] == chat

    model.wait_for_requests(asked + 1, timeout=30)  # the first job's turn is under way
    # /api/health counts them: one running (the owner's limit is 1), three waiting.
    queue = ok(client.get("/api/health"))["queue"]
    assert (queue["running"], queue["queued"]) == (1, 3)
    assert 0 <= queue["oldestQueuedSeconds"] < 60
    assert queue["limits"] == {"concurrency": 4, "perProject": 1, "maxActive": 4}
    for job in jobs:
        canceled = ok(client.post(f"/api/orchestrator/jobs/{job['id']}/cancel"))["job"]
        assert canceled["state"] == "canceled"
    queue = ok(client.get("/api/health"))["queue"]
    assert (queue["running"], queue["queued"], queue["oldestQueuedSeconds"]) == (0, 0, None)
    assert queue["canceled"] >= 4
    again = client.post(f"/api/orchestrator/jobs/{jobs[0]['id']}/cancel")
    assert refused(again, 409)["code"] == "job_conflict"
    assert refused(client.get("/api/orchestrator/jobs/job_missing"), 404)["status"] == "not_found"
    # Room again: a new job is accepted. (Its reply is matched to it: a canceled job's
    # worker may have asked the model before its turn was interrupted.)
    model.add(text("ok"), match="go")
    last = enqueue(client, sourceSessionId=chat, **instruction("z", "go"))
    last = job_ended(server, client, last["id"])
    assert last["state"] == "completed", last["error"]
    assert last["result"]["reply"] == "ok"


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_queued_and_running_jobs_survive_kill_9(
    tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    cluster = request.getfixturevalue("postgres_cluster") if store == "postgresql" else None
    with ScriptedModel() as model:
        server = start_server(tmp_path, model, cluster, more=["--jobs-per-project", "1"])
        try:
            with server.client() as client:
                chat = create(client, server)
                model.add(stall(60))
                running = enqueue(client, sourceSessionId=chat, **instruction("one", "first"))
                queued = enqueue(client, sourceSessionId=chat, **instruction("two", "second"))
                model.wait_for_requests(1, timeout=30)  # the first job's turn is under way
                assert (
                    ok(client.get(f"/api/orchestrator/jobs/{running['id']}"))["job"]["state"]
                    == "running"
                )
                assert (
                    ok(client.get(f"/api/orchestrator/jobs/{queued['id']}"))["job"]["state"]
                    == "queued"
                )
            server.kill()
            model.add(text("first, again"), match="first")
            model.add(text("second"), match="second")
            # The same data dir and database, its jobs as the killed server left them.
            server = ServeProcess.scripted(model, tmp_path, args=server.args).start()
            with server.client() as client:
                retried = job_ended(server, client, running["id"])
                assert retried["state"] == "completed", retried
                assert retried["attempts"] == 2
                assert retried["result"]["reply"] == "first, again"
                later = job_ended(server, client, queued["id"])
                assert later["state"] == "completed"
                assert later["attempts"] == 1
        finally:
            server.stop()
