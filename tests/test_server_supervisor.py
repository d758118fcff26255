"""The supervisor's deterministic pass in a real ``codexkit serve`` (real codex binary,
scripted model): what a session's settings let it decide, it decides, and writes why
into the transcript; the rest waits for a person."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.serve import ServeProcess
from support.serve_rest import create, ok, workspace
from support.serve_runtime import completed as turn_ended
from support.serve_runtime import frame, running
from support.stream import Stream, completed

from codexkit.server.runtime.extensions import Actions, ExtensionEvent
from codexkit.server.runtime.supervisor import supervisor_extension
from codexkit.testing import ScriptedModel, apply_patch, shell, text

pytestmark = [pytest.mark.real, pytest.mark.slow]

Json = dict[str, object]


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModel]:
    with ScriptedModel() as scripted:
        yield scripted


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

    # Below its threshold the supervisor decides nothing: the request waits.
    model.extend([shell("touch made.txt", escalate=True), text("made")])
    with Stream(server, f"?threadId={chat}") as stream:
        stream.next("ready")
        sent = client.post(f"/api/sessions/{chat}/messages", json={"text": "make"})
        turn_id = ok(sent, 202)["turnId"]
        asked = stream.next("approval")["payload"]["approvalId"]
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
        handler = supervisor_extension(rt).events["command.approval_requested"]
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
