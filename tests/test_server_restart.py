"""Crashes under a real ``codexkit serve``: the server killed with a pending approval and
started again on the same data dir (SQLite) or database (PostgreSQL); an app-server killed
mid-turn."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from support.postgres import postgres_cluster, postgres_url  # noqa: F401 (fixtures)
from support.serve_rest import create, ok, refused, replies, send, start_server, turn, workspace
from support.stream import Stream

from codexkit.testing import ScriptedModel, shell, text

pytestmark = [pytest.mark.real, pytest.mark.slow]


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_a_pending_approval_survives_a_sigkill_of_the_server_as_expired(
    tmp_path: Path, scripted_model: ScriptedModel, store: str, request: pytest.FixtureRequest
) -> None:
    # SQLite in the data dir, or one PostgreSQL database the second server opens again.
    database, reason = [], "the server restarted"
    if store == "postgresql":
        database = ["--database-url", request.getfixturevalue("postgres_url")]
        # On PostgreSQL a server is a cluster's process: the new one takes the session
        # over from the old, which it finds gone from this machine.
        reason = "stopped; the session was taken over by process"
    scripted_model.add(shell("touch never.txt", escalate=True))
    server = start_server(tmp_path, scripted_model, more=database)
    try:
        with server.client() as client:
            sid = create(client, server, approvalPolicy="on-request", filesystemSandbox="read-only")
            with Stream(server, f"?threadId={sid}") as stream:
                stream.next("ready")
                turn_id = send(client, sid, "make the file")
                approval_id = stream.next("approval")["payload"]["approvalId"]
        server.kill()
    finally:
        server.stop()

    again = start_server(tmp_path, scripted_model, more=database)  # the same data and database
    try:
        with again.client() as client:
            approvals = f"/api/sessions/{sid}/approvals"
            assert ok(client.get(approvals))["data"] == []  # nothing left to answer
            [expired] = ok(client.get(approvals, params={"history": "true"}))["data"]
            assert (expired["approvalId"], expired["status"]) == (approval_id, "expired")
            assert reason in expired["expiryReason"]
            late = client.post(
                f"/api/approvals/{approval_id}/decision", json={"decision": "accept"}
            )
            assert refused(late, 409)["status"] == "reconciled"  # done, and said so
            state = ok(client.get(f"/api/sessions/{sid}"))
            [failed] = state["thread"]["turns"]
            assert (failed["id"], failed["status"]) == (turn_id, "failed")
            assert reason in failed["error"]["message"]
            assert any(reason in e["content"] for e in state["transcript"])
            assert not (workspace(again) / "never.txt").exists()
            # The session goes on in the new server.
            scripted_model.add(text("back again"))
            turn(client, again, sid, "still there?")
            assert replies(ok(client.get(f"/api/sessions/{sid}")))[-1] == "back again"
    finally:
        again.stop()


def test_an_app_server_killed_mid_turn_the_session_recovers_and_clients_see_why(
    tmp_path: Path, scripted_model: ScriptedModel
) -> None:
    scripted_model.add(shell("touch never.txt", escalate=True))
    server = start_server(tmp_path, scripted_model)
    try:
        with server.client() as client:
            sid = create(client, server, approvalPolicy="on-request", filesystemSandbox="read-only")
            with Stream(server, f"?threadId={sid}") as stream:
                stream.next("ready")
                turn_id = send(client, sid, "go")
                approval_id = stream.next("approval")["payload"]["approvalId"]
                pid = ok(client.get("/api/health"))["codex"]["pid"]
                os.killpg(pid, signal.SIGKILL)  # the app-server and what it started

                exited = stream.next("app_server_exited")
                assert "app-server 0 exited" in exited["payload"]["reason"]
                assert exited["payload"]["failedTurnIds"] == [turn_id]
                assert exited["payload"]["expiredRequestIds"] == [approval_id]
                [expired] = [f for f in stream.seen if f["type"] == "approval_resolved"]
                assert expired["payload"]["status"] == "expired"
                stream.next("session_resumed")

            late = client.post(
                f"/api/approvals/{approval_id}/decision", json={"decision": "accept"}
            )
            assert refused(late, 409)["status"] == "reconciled"
            [failed] = ok(client.get(f"/api/sessions/{sid}"))["thread"]["turns"]
            assert failed["status"] == "failed"
            assert "app-server 0 exited" in failed["error"]["message"]
            scripted_model.add(text("recovered"))
            turn(client, server, sid, "again")
            assert replies(ok(client.get(f"/api/sessions/{sid}")))[-1] == "recovered"
            assert ok(client.get("/api/health"))["codex"]["pid"] not in (None, pid)
        assert not (workspace(server) / "never.txt").exists()
    finally:
        server.stop()


def test_with_two_app_servers_each_session_gets_its_reply(
    tmp_path: Path, scripted_model: ScriptedModel
) -> None:
    server = start_server(tmp_path, scripted_model, more=["--app-servers", "2"])
    try:
        with server.client() as client:
            sids = [create(client, server) for _ in range(2)]
            for sid in sids:
                scripted_model.add(text(f"reply to {sid}"), match=f"hello {sid}")
                turn(client, server, sid, f"hello {sid}")
            for sid in sids:
                assert replies(ok(client.get(f"/api/sessions/{sid}"))) == [f"reply to {sid}"]
            # Passthrough routes share the pool: no third app-server runs for them.
            assert ok(client.get("/api/models"))["data"]
        assert "app-server 1:1 started" in server.text()
        assert "app-server 2:1" not in server.text()
    finally:
        server.stop()
