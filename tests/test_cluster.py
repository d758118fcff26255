"""Three real ``codexkit serve`` processes on one PostgreSQL as one service: requests
reach the process that runs their session, and a process killed with SIGKILL has its
sessions and jobs taken over by the others within the lease time.

The processes share one data dir (one token) and one ``CODEX_HOME`` (a cluster needs
both shared). Every frame reaches the websockets of every process (the events bus,
``tests/test_cluster_events.py`` tests it on its own); waits for what happens after a
kill poll the REST API, always with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from support.postgres import Cluster, postgres_cluster  # noqa: F401 (fixture)
from support.serve import ServeProcess, run_serve
from support.serve_rest import create, ok, replies, send, start_server
from support.stream import Stream, completed

from codexkit.testing import ScriptedModel, shell, stall, text

pytestmark = [pytest.mark.real, pytest.mark.slow]

Json = dict[str, Any]
T = TypeVar("T")

#: Short, so that a takeover is quick, yet long enough that a process starved of CPU on
#: a loaded machine is not taken for dead; a heartbeat every third of it.
LEASE = 4.0


class Service:
    def __init__(self, root: Path, model: ScriptedModel, url: str) -> None:
        self.root = root
        self.model = model
        self.work = root / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        home = model.codex_home(root / "codex-home")
        args = ["--no-profile", "--allowed-root", str(self.work), "--database-url", url,
                "--lease-seconds", str(LEASE)]  # fmt: skip
        self.processes = [
            ServeProcess(
                data_dir=root / "data", codex_home=home, config_home=root / "config", args=args
            )
            for _ in range(3)
        ]
        self._api: ServeProcess | None = None

    def api_process(self) -> ServeProcess:
        """A fourth process, ``--role api`` (no app-server), started on first use."""
        if self._api is None:
            first = self.processes[0]
            (self.root / "api-home").mkdir(exist_ok=True)
            self._api = ServeProcess(
                data_dir=first.data_dir,
                codex_home=self.root / "api-home",  # an api process needs none
                config_home=first.config_home,
                args=[*first.args, "--role", "api"],
            ).start()
        return self._api

    def stop(self) -> None:
        for process in [*self.processes, self._api]:
            if process is not None:
                process.stop()

    def client(self, index: int) -> httpx.Client:
        return self.processes[index].client()

    def owner(self, session_id: str, via: int = 0) -> int | None:
        """Which of the processes runs ``session_id`` (per ``/api/health``)."""
        with self.client(via) as client:
            cluster = ok(client.get("/api/health"))["cluster"]
        urls = [p.url for p in self.processes]
        for process in cluster["processes"]:
            if process["alive"] and session_id in process["sessions"]:
                return urls.index(process["url"])
        return None


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
    model: ScriptedModel,
    postgres_cluster: Cluster,  # noqa: F811
) -> Iterator[Service]:
    postgres_cluster.psql("CREATE DATABASE cluster_service")
    service = Service(
        tmp_path_factory.mktemp("cluster"), model, postgres_cluster.url("cluster_service")
    )
    try:
        # The first alone (app-servers started at once on a fresh CODEX_HOME race to
        # create its databases), then the other two together.
        first, *others = service.processes
        first.start()
        with ThreadPoolExecutor(len(others)) as starting:
            for started in starting.map(ServeProcess.start, others):
                assert started.url
        yield service
    finally:
        service.stop()


def test_the_health_of_any_process_shows_the_cluster(service: Service) -> None:
    with service.client(1) as client:
        cluster = ok(client.get("/api/health"))["cluster"]
    shown = {p["url"]: p for p in cluster["processes"]}
    assert set(shown) == {p.url for p in service.processes}
    assert all(p["alive"] and p["role"] == "all" for p in shown.values())
    assert all(p["heartbeatLagSeconds"] < LEASE for p in shown.values())
    assert [p["self"] for p in shown.values()].count(True) == 1
    # Without the token, counts only.
    anonymous = httpx.get(service.processes[2].api + "/health").json()["cluster"]
    assert all("sessions" not in p and "sessionCount" in p for p in anonymous["processes"])


def test_a_turn_started_through_one_process_is_approved_through_another(
    service: Service, model: ScriptedModel
) -> None:
    first = service.processes[0]
    with service.client(0) as c0, service.client(1) as c1, service.client(2) as c2:
        sid = create(c0, first, approvalPolicy="on-request", filesystemSandbox="read-only")
        assert service.owner(sid, via=2) == 0
        model.extend([shell("touch approved.txt", escalate=True), text("made it")])
        # Watched from the third process: the frames of a session run on the first.
        with Stream(service.processes[2], f"?threadId={sid}") as stream:
            stream.next("ready")
            turn_id = send(c1, sid, "make the file")  # through the second process
            approval = stream.next("approval")["payload"]["approvalId"]
            listed = ok(c2.get(f"/api/sessions/{sid}/approvals"))["data"]
            assert [a["approvalId"] for a in listed] == [approval]
            decided = c2.post(f"/api/approvals/{approval}/decision", json={"decision": "accept"})
            assert ok(decided)["status"] == "ok"
            stream.next("app_server.turn.completed", completed(turn_id))
        assert (service.work / "approved.txt").exists()
        assert replies(ok(c1.get(f"/api/sessions/{sid}")))[-1] == "made it"
        # A second decision, through yet another process, is the contract's 409.
        again = c1.post(f"/api/approvals/{approval}/decision", json={"decision": "accept"})
        assert again.status_code == 409
        assert again.json()["status"] == "reconciled"


def test_a_default_set_through_one_process_holds_on_the_others(service: Service) -> None:
    with service.client(0) as c0, service.client(1) as c1:
        on_first, on_second = create(c0, service.processes[0]), create(c1, service.processes[1])
        assert (service.owner(on_first), service.owner(on_second)) == (0, 1)
        read = f"/api/sessions/{on_second}/settings"
        query = {"scope": "default", "key": "cluster-team"}
        assert ok(c1.get(read, params=query))["found"] is False  # the second has read it
        body = {"scope": "default", "key": "cluster-team", "value": "blue"}
        ok(c0.post(f"/api/sessions/{on_first}/settings", json=body))  # the first writes it
        assert ok(c1.get(read, params=query))["value"] == "blue"
        ok(
            c0.delete(
                f"/api/sessions/{on_first}/settings/cluster-team", params={"scope": "default"}
            )
        )
        assert ok(c1.get(read, params=query))["found"] is False


def test_a_project_s_sessions_run_elsewhere_are_archived_and_deleted_by_their_runners(
    service: Service, model: ScriptedModel
) -> None:
    with service.client(0) as c0, service.client(1) as c1, service.client(2) as c2:
        pid = ok(c0.post("/api/projects", json={"name": "spread"}))["project"]["projectId"]
        model.extend([text("one"), text("two")])
        sessions = []
        for client, process in ((c1, service.processes[1]), (c2, service.processes[2])):
            sid = create(client, process)
            with Stream(process, f"?threadId={sid}") as stream:  # a thread codex stored
                stream.next("ready")
                stream.next("app_server.turn.completed", completed(send(client, sid, "hi")))
            ok(c0.post(f"/api/sessions/{sid}/project", json={"projectId": pid}))
            sessions.append(sid)
        # Through the process that runs neither: each goes to its own runner.
        body = {"destination": "archive"}
        ok(c0.post(f"/api/projects/{pid}/chats/move-all", json=body))
        archived = ok(c2.get("/api/sessions", params={"archived": "true"}))["data"]
        assert set(sessions) <= {s["sessionId"] for s in archived}
        deleted = ok(c0.post(f"/api/projects/{pid}/chats/delete-all"))
        assert set(deleted["deletedSessionIds"]) == set(sessions)
        for client in (c0, c1, c2):
            assert client.get(f"/api/sessions/{sessions[0]}").status_code == 410


def test_a_runner_on_another_codex_home_is_refused(
    service: Service, model: ScriptedModel, tmp_path: Path
) -> None:
    first = service.processes[0]
    elsewhere = model.codex_home(tmp_path / "another-home")
    args = [*first.command()[4:]]  # serve's own options
    args[args.index("--codex-home") + 1] = str(elsewhere)
    refused = run_serve(args, env=first.env())
    assert refused.returncode != 0
    out = refused.stdout + refused.stderr
    assert f"CODEX_HOME {elsewhere} is not the one the other processes" in out, out


def test_an_api_process_sends_session_work_to_the_runners(
    service: Service, model: ScriptedModel
) -> None:
    api = service.api_process()
    with api.client() as client:
        health = ok(client.get("/api/health"))
        me = next(p for p in health["cluster"]["processes"] if p["self"])
        assert (me["role"], me["sessions"]) == ("api", [])
        assert health["codex"]["running"] is False  # no app-server here
        sid = create(client, api, approvalPolicy="on-request", filesystemSandbox="read-only")
        owner = service.owner(sid)
        assert owner is not None  # one of the runners
        model.extend([shell("touch via-api.txt", escalate=True), text("done via api")])
        with Stream(service.processes[owner], f"?threadId={sid}") as stream:
            stream.next("ready")
            turn_id = send(client, sid, "make it")
            approval = stream.next("approval")["payload"]["approvalId"]
            [listed] = ok(client.get(f"/api/sessions/{sid}/approvals"))["data"]
            assert listed["approvalId"] == approval
            body = {"decision": "accept"}
            assert ok(client.post(f"/api/approvals/{approval}/decision", json=body))
            stream.next("app_server.turn.completed", completed(turn_id))
        assert replies(ok(client.get(f"/api/sessions/{sid}")))[-1] == "done via api"
        assert ok(client.get("/api/models", params={"limit": 1}))["data"]  # a passthrough
        listed = ok(client.get("/api/sessions"))["data"]  # answered from the database
        assert sid in [s["sessionId"] for s in listed]
    assert (service.work / "via-api.txt").exists()


def test_a_killed_process_has_its_session_and_job_taken_over(
    service: Service, model: ScriptedModel
) -> None:
    # A subscriber on a process that survives, from before the session to the end.
    with Stream(service.processes[0]) as watcher:
        watcher.next("ready")
        sid = ""

        def ours(frame: Json) -> bool:
            return bool(sid) and frame.get("threadId") == sid

        victim = service.processes[2]
        with service.client(2) as c2:
            sid = create(c2, victim, approvalPolicy="on-request", filesystemSandbox="read-only")
            model.add(text("Here are the files."))
            with Stream(victim, f"?threadId={sid}") as stream:
                stream.next("ready")
                first = send(c2, sid, "list the files")
                stream.next("app_server.turn.completed", completed(first))
                model.add(shell("touch never.txt", escalate=True))
                turn_id = send(c2, sid, "make the file")
                approval = stream.next("approval")["payload"]["approvalId"]
            # A job runs on the victim too: its model call hangs until the kill.
            model.extend([stall(), text("Now run the tests")])
            asked = len(model.requests)
            job_id = ok(c2.post(f"/api/sessions/{sid}/suggested-request/jobs"), 202)["jobId"]
            wait_for(lambda: len(model.requests) > asked or None, 30, "the job's model call")
            running = ok(c2.get(f"/api/orchestrator/jobs/{job_id}"))["job"]
            assert (running["state"], running["attempts"]) == ("running", 1)
        assert service.owner(sid) == 2
        victim.kill()
        killed_at = time.monotonic()

        def survivor() -> int | None:
            found = service.owner(sid)
            return found if found in (0, 1) else None

        owner = wait_for(survivor, 3 * LEASE + 5, "the session taken over")
        taken_over_in = time.monotonic() - killed_at
        assert taken_over_in < 2 * LEASE + 3  # a lease time, a heartbeat, room for a busy machine
        with service.client(1 - owner) as other:
            history = f"/api/sessions/{sid}/approvals"
            assert ok(other.get(history))["data"] == []
            [expired] = ok(other.get(history, params={"history": "true"}))["data"]
            assert (expired["approvalId"], expired["status"]) == (approval, "expired")
            assert "stopped (no heartbeat" in expired["expiryReason"]
            late = other.post(f"/api/approvals/{approval}/decision", json={"decision": "accept"})
            assert late.status_code == 409  # done, and said so
            assert late.json()["status"] == "reconciled"
            turns = ok(other.get(f"/api/sessions/{sid}"))["thread"]["turns"]
            assert {t["id"]: t["status"] for t in turns}[turn_id] == "failed"

            # The job: queued again once by the survivors and run to its end on one of them.
            def finished() -> Json | None:
                job: Json = ok(other.get(f"/api/orchestrator/jobs/{job_id}"))["job"]
                return job if job["state"] in ("completed", "failed", "canceled") else None

            job = wait_for(finished, 60, "the job retried")
            assert job["state"] == "completed", job
            assert job["attempts"] == 2, job  # the killed run, and exactly one more
            assert job["result"]["suggestion"] == "Now run the tests"

            # A new message through the process that does not run it.
            model.add(text("back again"))
            with Stream(service.processes[owner], f"?threadId={sid}") as stream:
                stream.next("ready")
                again = send(other, sid, "still there?")
                stream.next("app_server.turn.completed", completed(again))
            assert replies(ok(other.get(f"/api/sessions/{sid}")))[-1] == "back again"
        assert not (service.work / "never.txt").exists()
        # The watcher saw the whole story, each frame once, in order: the approval, the
        # takeover, and the new turn after it.
        watcher.next("app_server.turn.completed", lambda f: completed(again)(f) and ours(f))
        seen = [f for f in watcher.seen if ours(f)]
        seqs = [f["seq"] for f in seen]
        assert seqs == sorted(set(seqs))
        kinds = [f["type"] for f in seen]
        assert kinds.index("approval") < kinds.index("session_taken_over")
        last_turn_end = max(i for i, k in enumerate(kinds) if k == "app_server.turn.completed")
        assert kinds.index("session_taken_over") < last_turn_end


def test_a_second_server_on_one_sqlite_file_is_refused(
    model: ScriptedModel, tmp_path: Path
) -> None:
    alone = start_server(tmp_path, model)  # SQLite in its data dir
    try:
        again = run_serve(alone.command()[4:], env=alone.env(), timeout=60)
        assert again.returncode == 2
        assert "another codexkit serve runs on" in again.stderr + again.stdout
        with alone.client() as client:  # the first one is untouched
            assert ok(client.get("/api/health"))["status"] == "ok"
    finally:
        alone.stop()
