"""The supervisor's deterministic pass in a real ``codexkit serve`` (real codex binary,
scripted model): what a session's settings let it decide, it decides, and writes why
into the transcript; the rest waits for a person."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.serve import ServeProcess
from support.serve_rest import create, job_ended, ok, workspace
from support.serve_runtime import completed as turn_ended
from support.serve_runtime import frame, running
from support.stream import Stream, completed

from codexkit.server.runtime.extensions import Actions, ExtensionEvent
from codexkit.server.runtime.supervisor import supervisor_extension
from codexkit.server.runtime.supervisor_agent import SupervisorAgent
from codexkit.testing import (
    RecordedRequest,
    Reply,
    ScriptedModel,
    apply_patch,
    shell,
    text,
    tool_call,
)

pytestmark = [pytest.mark.real, pytest.mark.slow]

Json = dict[str, object]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, model: ScriptedModel
) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("serve-supervisor")
    (root / "work").mkdir()
    # codex offers its patch tool only for models it knows.
    home = model.codex_home(root / "codex-home", extra_config={"model": "gpt-5.5"})
    args = ["--no-profile", "--allowed-root", str(root / "work")]
    running = ServeProcess(
        data_dir=root / "data", codex_home=home, config_home=root / "config", args=args
    ).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def client(server: ServeProcess) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def _supervised(client: httpx.Client, server: ServeProcess, supervisor: Json) -> str:
    chat = create(client, server, approvalPolicy="on-request", filesystemSandbox="read-only")
    body = {"scope": "session", "key": "supervisor", "value": supervisor}
    ok(client.post(f"/api/sessions/{chat}/settings", json=body))
    return chat


def _run(client: httpx.Client, server: ServeProcess, chat: str, prompt: str) -> list[Json]:
    with Stream(server, f"?threadId={chat}") as stream:
        stream.next("ready")
        sent = client.post(f"/api/sessions/{chat}/messages", json={"text": prompt})
        turn_id = ok(sent, 202)["turnId"]
        stream.next("app_server.turn.completed", completed(turn_id), timeout=60)
    transcript: list[Json] = ok(client.get(f"/api/sessions/{chat}"))["transcript"]
    return transcript


def _of_type(transcript: list[Json], kind: str) -> list[str]:
    return [str(e["content"]) for e in transcript if e["type"] == kind]


# The scripted model plays two agents: the chat's, and the supervisor agent reviewing
# one of its requests (whose turn is asked "Supervisor review of ...").
def reviewing(request: RecordedRequest) -> bool:
    return "Supervisor review of" in (request.last_user_text or "")


def working(request: RecordedRequest) -> bool:
    return not reviewing(request)


def _review_job(stream: Stream) -> str:
    """The id of the supervisor_review job queued on the chat's stream."""
    queued = stream.next(
        "orchestrator_job_queued", lambda f: f["payload"]["jobType"] == "supervisor_review"
    )
    return str(queued["payload"]["jobId"])


def test_a_low_risk_file_change_is_accepted_with_the_reason_in_the_transcript(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    approve = {"enabled": True, "threshold": "low"}
    chat = _supervised(client, server, {"fileChange": {"autoActions": {"approve": approve}}})
    patch = "*** Begin Patch\n*** Add File: notes.txt\n+hello\n*** End Patch\n"
    model.extend([apply_patch(patch), text("written")])
    transcript = _run(client, server, chat, "write notes")
    assert (workspace(server) / "notes.txt").read_text() == "hello\n"
    [decision] = _of_type(transcript, "supervisor.decision")
    assert decision.startswith("The supervisor accepted the file change: risk low")
    [explained] = _of_type(transcript, "fileChange.explainability")
    assert "notes.txt" in explained
    history = client.get(f"/api/sessions/{chat}/approvals", params={"history": "true"})
    [decided] = ok(history)["data"]
    assert (decided["actor"], decided["decision"]["decision"]) == ("supervisor", "accept")


def test_a_high_risk_command_is_declined_and_a_medium_one_waits_for_a_person(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    reject = {"enabled": True, "threshold": "high"}
    chat = _supervised(client, server, {"command": {"autoActions": {"reject": reject}}})
    (workspace(server) / "build").mkdir()
    model.extend([shell("rm -rf build", escalate=True), text("stopped")])
    transcript = _run(client, server, chat, "clean up")
    assert (workspace(server) / "build").is_dir()
    [decision] = _of_type(transcript, "supervisor.decision")
    assert decision == (
        "The supervisor declined the command `rm -rf build`: "
        "risk high (deletes recursively or by force; moves, deletes or changes permissions)."
    )

    # Below its threshold the rules decide nothing: the supervisor agent reviews it, may
    # do nothing (only declining at high is enabled), and the request waits for a person.
    model.extend([shell("touch made.txt", escalate=True).matching(working)])
    model.extend([text("made").matching(working), text("Not mine to decide.").matching(reviewing)])
    with Stream(server, f"?threadId={chat}") as stream:
        stream.next("ready")
        sent = client.post(f"/api/sessions/{chat}/messages", json={"text": "make"})
        turn_id = ok(sent, 202)["turnId"]
        asked = stream.next("approval")["payload"]["approvalId"]
        review = job_ended(server, client, _review_job(stream))
        assert (review["state"], review["result"]["status"]) == ("completed", "left_for_person")
        decided = client.post(f"/api/approvals/{asked}/decision", json={"decision": "accept"})
        ok(decided)
        stream.next("app_server.turn.completed", completed(turn_id))
    assert (workspace(server) / "made.txt").exists()
    transcript = ok(client.get(f"/api/sessions/{chat}"))["transcript"]
    assert len(_of_type(transcript, "supervisor.decision")) == 1


def test_a_risky_command_steers_the_turn(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    steer = {"enabled": True, "threshold": "med"}
    chat = _supervised(client, server, {"command": {"autoActions": {"steer": steer}}})
    model.extend([shell("pip install leftpad", escalate=True), text("installed")])
    with Stream(server, f"?threadId={chat}") as stream:
        stream.next("ready")
        turn_id = ok(client.post(f"/api/sessions/{chat}/messages", json={"text": "go"}), 202)[
            "turnId"
        ]
        asked = stream.next("approval")["payload"]["approvalId"]
        stream.next(
            "transcript_updated", lambda f: f["payload"]["entry"]["type"] == "supervisor.steer"
        )
        ok(client.post(f"/api/approvals/{asked}/decision", json={"decision": "decline"}))
        stream.next("app_server.turn.completed", completed(turn_id))
    transcript = ok(client.get(f"/api/sessions/{chat}"))["transcript"]
    [steered] = _of_type(transcript, "supervisor.steer")
    assert (
        steered
        == "Careful: the command `pip install leftpad` is risky (installs). Prefer a safer way."
    )
    assert "Prefer a safer way" in str(model.requests[-1].input)


async def test_a_person_who_decided_first_wins(
    scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    scripted_model.extend([shell("rm -rf build", escalate=True), text("done")])
    home = scripted_model.codex_home(tmp_path / "home")
    (tmp_path / "work").mkdir()
    async with running(home, tmp_path / "work", tmp_path / "data") as rt:
        made = await rt.sessions.create(
            approval_policy="on-request", filesystem_sandbox="read-only"
        )
        chat = made["session"]["sessionId"]
        subscription, _ = rt.hub.subscribe(chat)
        turn_id = (await rt.turns.send(chat, "clean up"))["turnId"]
        asked = await frame(subscription, "approval")
        approval = asked.payload["approvalId"]
        await rt.decide("approval", approval, {"decision": "accept"}, actor="person")
        # Only now may the supervisor decline: its decision comes second.
        reject = {"enabled": True, "threshold": "high"}
        value = {"command": {"autoActions": {"reject": reject}}}
        await rt.controls.set_settings(chat, {"key": "supervisor", "value": value})
        handler = supervisor_extension(rt, SupervisorAgent(rt).review).events[
            "command.approval_requested"
        ]
        event = ExtensionEvent(
            "command.approval_requested", chat, asked.payload, asked.type, asked.seq
        )
        await handler(event, Actions(rt, "supervisor"))
        await frame(subscription, "app_server.turn.completed", turn_ended(turn_id))
        transcript = (await rt.sessions.read(chat))["transcript"]
        [decided] = (await rt.pending(chat, "approval", history=True))["data"]
    assert (decided["actor"], decided["decision"]["decision"]) == ("person", "accept")
    assert _of_type(transcript, "supervisor.decision") == [
        "The supervisor would have declined the command `rm -rf build` (risk high: deletes "
        "recursively or by force; moves, deletes or changes permissions), but it was "
        "already decided."
    ]


# -- the supervisor agent: what the rules leave undecided ------------------------------------


def pin(name: str) -> str:
    """A patch adding a dependency file: medium risk for the rules, over an approve
    threshold of low."""
    return f"*** Begin Patch\n*** Add File: {name}\n+idna==3.7\n*** End Patch\n"


APPROVE_LOW: Json = {
    "fileChange": {"autoActions": {"approve": {"enabled": True, "threshold": "low"}}}
}


def explain(explanation: str, insight: str) -> Reply:
    return tool_call("explain", {"explanation": explanation, "insight": insight}).matching(
        reviewing
    )


def decide(decision: str, risk: str, reason: str) -> Reply:
    arguments = {"decision": decision, "risk": risk, "reason": reason}
    return tool_call("decide", arguments).matching(reviewing)


def test_the_supervisor_agent_explains_an_undecided_file_change_and_accepts_it(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    chat = _supervised(client, server, APPROVE_LOW)
    model.extend(
        [apply_patch(pin("requirements.txt")).matching(working), text("pinned").matching(working)]
    )
    model.extend(
        [
            explain("It pins idna to 3.7.", "One exact pin, no new package: low risk."),
            decide("accept", "low", "one exact pin of a known library"),
            text("Accepted.").matching(reviewing),
        ]
    )
    with Stream(server, f"?threadId={chat}") as stream:
        stream.next("ready")
        turn_id = ok(client.post(f"/api/sessions/{chat}/messages", json={"text": "pin"}), 202)[
            "turnId"
        ]
        review = job_ended(server, client, _review_job(stream))
        stream.next("app_server.turn.completed", completed(turn_id), timeout=60)
    assert (workspace(server) / "requirements.txt").read_text() == "idna==3.7\n"
    assert (review["state"], review["result"]["status"]) == ("completed", "decided")
    transcript = ok(client.get(f"/api/sessions/{chat}"))["transcript"]
    assert _of_type(transcript, "supervisor.explanation") == ["It pins idna to 3.7."]
    assert _of_type(transcript, "supervisor.insight") == [
        "One exact pin, no new package: low risk."
    ]
    assert _of_type(transcript, "supervisor.decision") == [
        "The supervisor agent accepted the file change: risk low "
        "(one exact pin of a known library)."
    ]
    history = client.get(f"/api/sessions/{chat}/approvals", params={"history": "true"})
    [decided] = ok(history)["data"]
    assert (decided["actor"], decided["decision"]["decision"]) == ("supervisor", "accept")
    # The worker the agent ran in is system-owned: not among the chat's listed sessions.
    listed = [s["sessionId"] for s in ok(client.get("/api/sessions"))["data"]]
    assert chat in listed
    assert review["result"]["workerSessionId"] not in listed


def test_a_decision_over_the_threshold_is_refused_and_waits_for_a_person(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    chat = _supervised(client, server, APPROVE_LOW)
    model.extend(
        [
            apply_patch(pin("requirements-dev.txt")).matching(working),
            text("pinned").matching(working),
        ]
    )
    model.extend(
        [
            decide("accept", "med", "a new dependency"),
            text("Left for a person.").matching(reviewing),
        ]
    )
    with Stream(server, f"?threadId={chat}") as stream:
        stream.next("ready")
        turn_id = ok(client.post(f"/api/sessions/{chat}/messages", json={"text": "pin"}), 202)[
            "turnId"
        ]
        asked = stream.next("approval")["payload"]["approvalId"]
        review = job_ended(server, client, _review_job(stream))
        refusal = (
            "refused: accepting is allowed up to risk low (the approve threshold); "
            "this request is risk med, so it stays for a person"
        )
        assert review["result"]["status"] == "left_for_person"
        assert review["result"]["refused"] == [refusal]
        # The agent saw the refusal as its tool's failed result.
        [output] = model.requests[-1].function_call_outputs()
        assert refusal in str(output)
        pending = ok(client.get(f"/api/sessions/{chat}/approvals"))["data"]
        assert [p["approvalId"] for p in pending] == [asked]
        ok(client.post(f"/api/approvals/{asked}/decision", json={"decision": "decline"}))
        stream.next("app_server.turn.completed", completed(turn_id), timeout=60)
    assert not (workspace(server) / "requirements-dev.txt").exists()
    transcript = ok(client.get(f"/api/sessions/{chat}"))["transcript"]
    assert _of_type(transcript, "supervisor.decision") == []


def test_a_person_deciding_while_the_supervisor_agent_runs_wins(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    chat = _supervised(client, server, APPROVE_LOW)
    thinking, person_decided = threading.Event(), threading.Event()

    def reviewing_until_the_person_decided(request: RecordedRequest) -> bool:
        if not reviewing(request):
            return False
        thinking.set()  # the supervisor agent's turn asks the model...
        return person_decided.wait(60)  # ...and answers once the person decided

    model.extend(
        [
            apply_patch(pin("requirements-test.txt")).matching(working),
            text("pinned").matching(working),
        ]
    )
    late = tool_call("decide", {"decision": "accept", "risk": "low", "reason": "harmless"})
    model.extend([late.matching(reviewing_until_the_person_decided)])
    model.extend([text("Already decided.").matching(reviewing)])
    with Stream(server, f"?threadId={chat}") as stream:
        stream.next("ready")
        turn_id = ok(client.post(f"/api/sessions/{chat}/messages", json={"text": "pin"}), 202)[
            "turnId"
        ]
        asked = stream.next("approval")["payload"]["approvalId"]
        job_id = _review_job(stream)
    assert thinking.wait(60)
    with Stream(server, f"?threadId={chat}") as stream:
        stream.next("ready")
        ok(client.post(f"/api/approvals/{asked}/decision", json={"decision": "decline"}))
        person_decided.set()
        stream.next("app_server.turn.completed", completed(turn_id), timeout=60)
    review = job_ended(server, client, job_id)
    assert (review["state"], review["result"]["status"]) == ("completed", "reconciled")
    assert not (workspace(server) / "requirements-test.txt").exists()
    [decided] = ok(client.get(f"/api/sessions/{chat}/approvals", params={"history": "true"}))[
        "data"
    ]
    assert decided["decision"]["decision"] == "decline"
    assert decided["actor"] != "supervisor"
    transcript = ok(client.get(f"/api/sessions/{chat}"))["transcript"]
    assert _of_type(transcript, "supervisor.decision") == [
        "The supervisor agent would have accepted the file change (risk low: harmless), "
        "but it was already decided."
    ]


def test_the_supervisor_agent_steers_a_turn_it_judges_risky(
    server: ServeProcess, client: httpx.Client, model: ScriptedModel
) -> None:
    # Steering from high: the rules rate the change medium and leave it to the agent,
    # which judges it high and steers.
    steer_high: Json = {
        "fileChange": {"autoActions": {"steer": {"enabled": True, "threshold": "high"}}}
    }
    chat = _supervised(client, server, steer_high)
    message = "Do not add CI requirements: the pipeline installs its own."
    model.extend(
        [
            apply_patch(pin("requirements-ci.txt")).matching(working),
            text("left it out").matching(working),
        ]
    )
    model.extend(
        [
            tool_call("steer", {"message": message, "risk": "high"}).matching(reviewing),
            text("Steered.").matching(reviewing),
        ]
    )
    with Stream(server, f"?threadId={chat}") as stream:
        stream.next("ready")
        turn_id = ok(client.post(f"/api/sessions/{chat}/messages", json={"text": "ci"}), 202)[
            "turnId"
        ]
        asked = stream.next("approval")["payload"]["approvalId"]
        review = job_ended(server, client, _review_job(stream))
        assert (review["state"], review["result"]["status"]) == ("completed", "left_for_person")
        ok(client.post(f"/api/approvals/{asked}/decision", json={"decision": "decline"}))
        stream.next("app_server.turn.completed", completed(turn_id), timeout=60)
    transcript = ok(client.get(f"/api/sessions/{chat}"))["transcript"]
    assert _of_type(transcript, "supervisor.steer") == [message]
    # The working agent's next model call carried the steer.
    assert any(message in str(r.input) for r in model.requests if working(r))
    assert not (workspace(server) / "requirements-ci.txt").exists()
