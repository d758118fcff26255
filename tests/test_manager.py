"""``codexkit.manager`` against a real ``codexkit serve`` (real binary, scripted model):
construction from the profile the server writes, the passthrough domains, errors with
the contract's status and body, the typed facade in each validation mode, hooks, header
providers and a custom request executor."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.serve import ServeProcess

from codexkit.contract import (
    CreateSessionRequest,
    CreateSessionResponse,
    GetHealthResponse,
    SendSessionMessageRequest,
    WriteConfigValueRequest,
)
from codexkit.manager import (
    AppServerSignal,
    AsyncCodexManager,
    AuthError,
    CodexManager,
    ConflictError,
    GoneError,
    LockedError,
    ManagerConfig,
    ManagerRequest,
    ManagerResponse,
    NotFoundError,
    RequestContext,
    StreamContext,
    StreamEvent,
    ValidationError,
)
from codexkit.testing import ScriptedModel, failure, shell, stall, text, tool_call

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def server(
    model: ScriptedModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("serve-manager")
    with ServeProcess.scripted(model, root) as running:
        yield running


@pytest.fixture(autouse=True)
def profile_home(server: ServeProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the server wrote its `local` profile, as a user's own config dir."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(server.config_home))


def test_bare_constructor_and_from_profile_reach_the_server_with_its_token(
    server: ServeProcess,
) -> None:
    # No setup: `codexkit serve` wrote the profile on start, with its port and token.
    with CodexManager() as cm:
        assert cm.connection_config.base_url == server.url
        health = cm.system.health()
        assert health["status"] == "ok"
        assert health["auth"]["likelyUnauthenticated"] in (True, False)
        assert cm.system.info()["name"] == "codexkit serve"  # needs the token
    with CodexManager.from_profile("local") as cm:
        assert cm.models.list(limit=2)["data"]


async def test_async_client_from_profile_and_from_env(
    server: ServeProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with AsyncCodexManager.from_profile("local") as cm:
        assert (await cm.system.info())["name"] == "codexkit serve"
        assert {m["mode"] for m in (await cm.system.collaboration_modes())["data"]} >= {"plan"}
    monkeypatch.setenv("CODEX_MANAGER_API_BASE", server.url)
    monkeypatch.setenv("CODEXKIT_MANAGER_BEARER_TOKEN", server.token)
    async with AsyncCodexManager.from_env() as cm:
        assert (await cm.account.get())["requiresOpenaiAuth"] is False


def test_errors_carry_the_contracts_status_code_and_body(server: ServeProcess) -> None:
    with CodexManager(server.url, bearer_token="wrong") as cm:
        with pytest.raises(AuthError) as denied:
            cm.system.info()
        assert denied.value.status == 401
        assert cm.system.health()["status"] == "ok"  # open without a token
    with CodexManager() as cm:
        with pytest.raises(ValidationError) as invalid:
            cm.account.login_start({"type": "password"})
        assert (invalid.value.status, invalid.value.code) == (400, "invalid_request")
        assert invalid.value.body["issues"]
        with pytest.raises(NotFoundError) as missing:
            cm.account.login_cancel(login_id="no-such-login")
        assert "invalid login id" in missing.value.body["message"]
        cm.config.set(key_path="model_reasoning_effort", value="low")
        with pytest.raises(ConflictError) as stale:
            cm.config.set(key_path="model_reasoning_effort", value="high", expected_version=1)
        assert (stale.value.status, stale.value.code) == (409, "invalid_state")


def test_config_domain_reads_and_writes(server: ServeProcess) -> None:
    with CodexManager() as cm:
        assert cm.config.get(include_layers=True)["layers"]
        cm.config.set(key_path=["model_reasoning_effort"], value="medium")
        assert cm.config.get()["config"]["model_reasoning_effort"] == "medium"
        cm.config.batch_set(
            edits=[
                {"keyPath": ["model_reasoning_effort"], "mergeStrategy": "replace", "value": "high"}
            ]
        )
        assert cm.config.get()["config"]["model_reasoning_effort"] == "high"
        assert "requirements" in cm.config.requirements()


def test_typed_facade_in_each_validation_mode(server: ServeProcess) -> None:
    with CodexManager() as cm:  # typed-only: typed calls checked both ways, dicts as they come
        health = cm.typed.system.health()
        assert isinstance(health, GetHealthResponse)
        assert health.status == "ok"
        written = cm.typed.config.set(
            WriteConfigValueRequest(
                key_path=["model"], merge_strategy="replace", value="mock-model"
            )
        )
        assert written["status"] == "ok"  # the contract has no model for this answer
        sent = cm.requests_sent
        with pytest.raises(ValidationError) as refused:
            cm.typed.config.set(key_path=[], merge_strategy="replace", value=1)
        assert refused.value.status == 0  # refused here: nothing went out
        assert cm.requests_sent == sent
        assert isinstance(cm.system.health(), dict)
    with CodexManager(validation_mode="off") as cm:
        assert isinstance(cm.typed.system.health(), dict)
        # Nothing checked on this side: the server's 400 is what says no.
        with pytest.raises(ValidationError) as server_said:
            cm.typed.config.set(key_path=[], merge_strategy="replace", value=1)
        assert server_said.value.status == 400
    with CodexManager(validation_mode="strict") as cm:
        assert isinstance(cm.system.health(), dict)  # checked, still a dict


class BreakingExecutor:
    """A custom request executor: httpx underneath, and health answers corrupted on the
    way back once ``broken`` is set (the real server never answers off-contract)."""

    def __init__(self) -> None:
        self.client = httpx.AsyncClient()
        self.seen: list[str] = []
        self.broken = False

    async def __call__(self, request: ManagerRequest) -> ManagerResponse:
        self.seen.append(request.operation)
        answer = await self.client.request(
            request.method, request.url, headers=request.headers, params=request.query
        )
        body = answer.json()
        if request.operation == "getHealth" and self.broken:
            body.pop("status")
        return ManagerResponse(answer.status_code, body)


async def test_custom_executor_and_strict_validation(server: ServeProcess) -> None:
    executor = BreakingExecutor()
    async with AsyncCodexManager(validation_mode="strict", request_executor=executor) as cm:
        assert (await cm.system.health())["status"] == "ok"
        assert (await cm.system.info())["name"] == "codexkit serve"
        executor.broken = True
        with pytest.raises(ValidationError, match="does not match the contract"):
            await cm.system.health()
    async with AsyncCodexManager(request_executor=executor) as cm:  # typed-only: dicts pass
        assert "status" not in await cm.system.health()
    await executor.client.aclose()
    assert executor.seen == ["getHealth", "getApiInfo", "getHealth", "getHealth"]


def test_hooks_see_every_attempt_and_may_edit_the_request(server: ServeProcess) -> None:
    seen: list[tuple[str, int]] = []
    errors: list[BaseException] = []

    class Audit:  # middleware: an object with hook methods
        def after(self, context: RequestContext, response: ManagerResponse) -> None:
            seen.append((context.request.operation, response.status))

        def on_error(self, context: RequestContext, error: BaseException) -> None:
            errors.append(error)

    with CodexManager(config=ManagerConfig(base_url=server.url)) as cm:
        cm.use_middleware(Audit())

        @cm.before
        def sign(context: RequestContext) -> None:
            context.request.headers["Authorization"] = f"Bearer {server.token}"

        assert cm.system.info()["name"] == "codexkit serve"
        cm.hooks.before_hooks.remove(sign)
        with pytest.raises(AuthError):
            cm.system.info()
    assert seen == [("getApiInfo", 200)]
    assert [type(error) for error in errors] == [AuthError]


def test_header_provider_carries_the_token(server: ServeProcess) -> None:
    calls: list[int] = []

    def provide() -> dict[str, str]:
        calls.append(1)
        return {"Authorization": f"Bearer {server.token}"}

    # No token in the config: only the provider's header can open the door.
    with CodexManager(config=ManagerConfig(base_url=server.url), header_provider=provide) as cm:
        assert cm.connection_config.bearer_token is None
        assert cm.system.info()["name"] == "codexkit serve"
    assert calls == [1]


# -- sessions, waiting and events (the session, request and websocket routes) ---------------


def _session(cm: CodexManager, cwd: Path, **options: Any) -> str:
    session_id: str = cm.sessions.create(cwd=str(cwd), **options)["session"]["sessionId"]
    return session_id


def test_quickstart_session_and_reply_in_one_request(model: ScriptedModel, tmp_path: Path) -> None:
    model.add(stall(0.3) + text("Hello from the agent", chunks=3))
    with CodexManager.from_profile("local") as cm:
        session_id = _session(cm, tmp_path)
        before = cm.requests_sent
        reply = cm.wait.send_message_and_wait_reply(
            session_id=session_id, text="hi", timeout_seconds=60
        )
        assert (reply.status, reply.assistant_reply) == ("completed", "Hello from the agent")
        # Driven by the websocket: the send only, not a read every interval.
        assert cm.requests_sent - before == 1
        assert cm.wait.turn_status(session_id=session_id, turn_id=reply.turn_id) == "completed"
        transcript = cm.sessions.get(session_id=session_id)["transcript"]
        assert transcript[-1]["content"] == reply.assistant_reply  # what the REST read says


async def test_async_quickstart(model: ScriptedModel, tmp_path: Path) -> None:
    model.add(text("async hello"))
    sent: list[Any] = []
    async with AsyncCodexManager.from_profile("local") as cm:
        cm.before(lambda context: sent.append((context.request.operation, context.request.json)))
        session = await cm.sessions.create(cwd=str(tmp_path))
        reply = await cm.wait.send_message_and_wait_reply(
            session_id=session["session"]["sessionId"],
            text="List the top 3 architecture components in this repository.",
            timeout_seconds=90,
            interval_seconds=1.0,
            effort="low",  # message options, as sessions.send_message spells them
            approval_policy="never",
        )
        assert reply.turn_id
        assert reply.assistant_reply == "async hello"
    [message] = [body for operation, body in sent if operation == "sendSessionMessage"]
    assert (message["approvalPolicy"], message["effort"]) == ("never", "low")  # wire names
    assert model.requests[-1].body["reasoning"]["effort"] == "low"


def test_wait_polls_when_no_websocket_can_be_had(model: ScriptedModel, tmp_path: Path) -> None:
    model.add(text("polled"))
    # A websocket URL that leads nowhere: the wait falls back to reading the session.
    nowhere = ManagerConfig.from_profile("local").with_overrides(
        websocket_url="ws://127.0.0.1:9/api/stream"
    )
    with CodexManager(config=nowhere) as cm:
        session_id = _session(cm, tmp_path)
        reply = cm.wait.send_message_and_wait_reply(
            session_id=session_id, text="hi", timeout_seconds=60, interval_seconds=0.2
        )
        assert reply.assistant_reply == "polled"


def test_session_handle_settings_namespace_and_lifecycle(tmp_path: Path) -> None:
    with CodexManager() as cm:
        chat = cm.session(_session(cm, tmp_path))
        chat.settings.set(settings={"owner": "ops", "supervisor": {"other": 1}})
        supervisor = chat.settings.namespace("supervisor.fileChange")
        supervisor.set({"autoApprove": False, "maxFiles": 5})
        supervisor.merge({"maxFiles": 10})
        assert supervisor.get() == {"autoApprove": False, "maxFiles": 10}
        assert chat.settings.get(key="supervisor")["value"] == {
            "other": 1,  # the sibling of the path is kept
            "fileChange": {"autoApprove": False, "maxFiles": 10},
        }
        controls = chat.controls.get()["controls"]
        applied = chat.controls.apply(controls={**controls, "approvalPolicy": "never"})
        assert applied["controls"]["approvalPolicy"] == "never"
        again = chat.controls.apply(controls={**controls, "approvalPolicy": "never"})
        assert again["status"] == "unchanged"
        chat.settings.unset("owner")
        assert chat.settings.get(key="owner")["found"] is False
        assert chat.rename("Ops chat")["session"]["title"] == "Ops chat"
        chat.archive()
        archived = cm.sessions.list(archived=True)["data"]
        assert chat.session_id in [s["sessionId"] for s in archived]
        chat.unarchive()
        assert chat.approvals.list()["data"] == []
        chat.delete()
        with pytest.raises(GoneError) as gone:
            chat.get()
        assert gone.value.body["sessionId"] == chat.session_id
        with pytest.raises(NotFoundError):
            cm.sessions.get(session_id="no-such-session")


def test_projects(tmp_path: Path) -> None:
    with CodexManager() as cm:
        project = cm.projects.create(name="Billing")["project"]
        project_id = project["projectId"]
        session_id = _session(cm, tmp_path)
        cm.sessions.set_project(session_id=session_id, project_id=project_id)
        assert "Billing" in [p["name"] for p in cm.projects.list()["data"]]
        cm.projects.rename(project_id=project_id, name="Invoices")
        assert cm.sessions.get(session_id=session_id)["session"]["projectId"] == project_id
        cm.projects.delete_all_chats(project_id=project_id)
        with pytest.raises(GoneError):
            cm.sessions.get(session_id=session_id)
        cm.projects.delete(project_id=project_id)
        assert "Invoices" not in [p["name"] for p in cm.projects.list()["data"]]


def test_typed_sessions(model: ScriptedModel, tmp_path: Path) -> None:
    model.add(text("typed"))
    with CodexManager() as cm:
        created = cm.typed.sessions.create(CreateSessionRequest(cwd=str(tmp_path)))
        assert isinstance(created, CreateSessionResponse)
        accepted = cm.typed.sessions.send_message(
            session_id=created.session.session_id,
            payload=SendSessionMessageRequest(text="Summarize recent API updates."),
        )
        assert accepted.turn_id


def test_an_approval_seen_through_the_stream_is_decided(
    model: ScriptedModel, tmp_path: Path
) -> None:
    model.extend([shell("touch approved.txt", escalate=True), text("Created it.")])
    decided: list[dict[str, Any]] = []
    failures: list[BaseException] = []
    with CodexManager() as cm:
        session_id = _session(
            cm, tmp_path, approval_policy="on-request", filesystem_sandbox="read-only"
        )

        @cm.stream.on_event("approval")
        def broken(event: StreamEvent) -> None:
            raise RuntimeError("a failing handler never stops the others")

        @cm.stream.on_event("approval")
        def decide(event: StreamEvent) -> None:
            approval_id = event.payload["approvalId"]
            decided.append(cm.approvals.decide(approval_id=approval_id, decision="accept"))
            # Deciding twice (a second worker, say) is not an error.
            cm.approvals.decide(approval_id=approval_id, decision="accept")

        cm.stream.on_handler_error(lambda event, error: failures.append(error))

        @cm.stream.on_app_server("turn/completed")
        def finished(signal: AppServerSignal, context: StreamContext) -> None:
            assert context.thread_id == session_id
            cm.stream.stop()

        worker = threading.Thread(target=cm.stream.run_forever, kwargs={"thread_id": session_id})
        worker.start()
        cm.stream.wait_connected(timeout=30)
        cm.session(session_id).messages.send("Create approved.txt")
        worker.join(timeout=60)
        assert not worker.is_alive()
        approvals = cm.session(session_id).approvals
        assert approvals.list()["data"] == []
        [resolved] = approvals.list(history=True)["data"]
        assert resolved["approvalId"] == decided[0]["approvalId"]
    assert decided[0]["status"] == "ok"
    assert [type(e) for e in failures] == [RuntimeError]
    assert (tmp_path / "approved.txt").exists()


async def test_a_tool_input_request_is_answered(model: ScriptedModel, tmp_path: Path) -> None:
    questions = [
        {
            "id": "color",
            "header": "Color",
            "question": "Favourite colour?",
            "options": [{"label": "red", "description": "warm"}],
        }
    ]
    model.extend([tool_call("request_user_input", {"questions": questions}), text("ok")])
    async with AsyncCodexManager() as cm:
        session_id = (await cm.sessions.create(cwd=str(tmp_path)))["session"]["sessionId"]

        @cm.stream.on_event("tool_user_input_requested")
        async def answer(event: StreamEvent) -> None:
            [pending] = (await cm.session(session_id).tool_input.list())["data"]
            assert pending["requestId"] == event.payload["requestId"]
            await cm.tool_input.decide(
                request_id=pending["requestId"],
                decision="accept",
                answers={"color": {"answers": ["red"]}},
            )

        resolved: list[StreamEvent] = []
        cm.stream.on_event("tool_user_input_resolved")(resolved.append)
        cm.stream.on_app_server("turn/completed")(lambda signal: cm.stream.stop())
        runner = asyncio.create_task(cm.stream.run_forever(thread_id=session_id))
        await cm.stream.wait_connected(timeout=30)
        await cm.session(session_id).messages.send("ask me")
        await asyncio.wait_for(runner, 60)
    assert len(resolved) == 1
    output = model.requests[-1].function_call_outputs()[0]["output"]
    assert '"color":{"answers":["red"]}' in str(output).replace(" ", "")


async def test_a_reconnect_in_the_middle_of_a_turn_loses_no_event(
    model: ScriptedModel, tmp_path: Path
) -> None:
    model.extend([shell("touch gap.txt", escalate=True), text("done")])
    async with AsyncCodexManager() as cm:
        created = await cm.sessions.create(
            cwd=str(tmp_path), approval_policy="on-request", filesystem_sandbox="read-only"
        )
        session_id = created["session"]["sessionId"]
        # An uninterrupted listener on the same thread: what the other must also see.
        reference = cm.stream.subscribe(session_id)
        seen_by_reference: list[tuple[str, int | None]] = []
        reference_done = asyncio.Event()

        async def listen() -> None:
            async for event in reference.frames():
                seen_by_reference.append((event.type, event.seq))
                if event.type == "app_server.turn.completed":
                    reference_done.set()

        listener = asyncio.create_task(listen())
        await reference.connected.wait()
        seen: list[tuple[str, int | None]] = []

        @cm.stream.on_event_prefix("")
        async def record(event: StreamEvent) -> None:
            seen.append((event.type, event.seq))
            if event.type == "approval":
                # Drop the socket, then let the whole rest of the turn happen before this
                # handler returns: everything after this point comes by replay.
                assert cm.stream.connection is not None
                await cm.stream.connection.drop()
                await cm.approvals.decide(
                    approval_id=event.payload["approvalId"], decision="accept"
                )
                await asyncio.wait_for(reference_done.wait(), 60)
            if event.type == "app_server.turn.completed":
                cm.stream.stop()

        runner = asyncio.create_task(cm.stream.run_forever(thread_id=session_id))
        await cm.stream.wait_connected(timeout=30)
        await cm.session(session_id).messages.send("make the file")
        await asyncio.wait_for(runner, 60)
        listener.cancel()
        await reference.aclose()
        assert cm.stream.connection is not None
        assert cm.stream.connection.reconnects == 1  # the drop, and only the drop
        assert cm.stream.connection.incomplete_replays == 0
    # From when both listened (a late warning of the thread's start may reach only the
    # one subscribed first) to the turn's end (they stopped at different moments after).
    start = max(_first_seq(seen), _first_seq(seen_by_reference))
    assert _through_turn_end(seen, start) == _through_turn_end(seen_by_reference, start)
    assert "approval_resolved" in [t for t, _ in seen]


def _first_seq(events: list[tuple[str, int | None]]) -> int:
    return min(seq for _, seq in events if seq is not None)


def _through_turn_end(
    events: list[tuple[str, int | None]], start: int
) -> list[tuple[str, int | None]]:
    end = [t for t, _ in events].index("app_server.turn.completed")
    return [(t, seq) for t, seq in events[: end + 1] if seq is None or seq >= start]


def test_the_header_providers_token_reaches_the_websocket(
    server: ServeProcess, model: ScriptedModel, tmp_path: Path
) -> None:
    model.add(text("over the socket"))

    def provide() -> dict[str, str]:
        return {"Authorization": f"Bearer {server.token}"}

    with CodexManager(config=ManagerConfig(base_url=server.url), header_provider=provide) as cm:
        session_id = _session(cm, tmp_path)
        before = cm.requests_sent
        reply = cm.wait.send_message_and_wait_reply(session_id=session_id, text="hi")
        assert reply.assistant_reply == "over the socket"
        assert cm.requests_sent - before == 1  # no polling: the socket was let in


async def test_a_stream_with_a_wrong_token_fails_at_once(server: ServeProcess) -> None:
    async with AsyncCodexManager(server.url, bearer_token="wrong") as cm:
        with pytest.raises(AuthError) as refused:
            await asyncio.wait_for(cm.stream.run_forever(), 30)
        assert refused.value.status == 401


async def test_an_app_server_request_is_answered_by_its_request_id(
    model: ScriptedModel, tmp_path: Path
) -> None:
    model.extend([shell("touch signalled.txt", escalate=True), text("done")])
    started: list[str] = []
    async with AsyncCodexManager() as cm:
        created = await cm.sessions.create(
            cwd=str(tmp_path), approval_policy="on-request", filesystem_sandbox="read-only"
        )
        session_id = created["session"]["sessionId"]

        @cm.stream.on_turn_started()  # codex-manager's spelling, with ()
        def turn_started(event: StreamEvent) -> None:
            started.append(event.type)

        @cm.stream.on_app_server_request("item/commandExecution/requestApproval")
        async def approve(signal: AppServerSignal) -> None:
            assert signal.request_id is not None
            assert signal.context["threadId"] == session_id
            await cm.approvals.decide(approval_id=signal.request_id, decision="accept")

        cm.stream.on_app_server("turn/completed")(lambda signal: cm.stream.stop())
        runner = asyncio.create_task(cm.stream.run_forever(thread_id=session_id))
        await cm.stream.wait_connected()
        await cm.session(session_id).messages.send("make the file")
        await asyncio.wait_for(runner, 60)
    assert started == ["app_server.turn.started"]
    assert (tmp_path / "signalled.txt").exists()


def test_a_failed_turn_and_a_wait_that_times_out(model: ScriptedModel, tmp_path: Path) -> None:
    model.extend([failure("the model broke"), stall(30)])
    with CodexManager() as cm:
        chat = cm.session(_session(cm, tmp_path))
        failed = cm.wait.send_message_and_wait_reply(session_id=chat.session_id, text="hi")
        assert (failed.status, failed.assistant_reply) == ("failed", None)
        with pytest.raises(TimeoutError):
            cm.wait.send_message_and_wait_reply(
                session_id=chat.session_id, text="again", timeout_seconds=1
            )
        assert chat.interrupt()["status"] == "ok"
        turns = chat.get()["thread"]["turns"]
        assert [t["status"] for t in turns] == ["failed", "interrupted"]


async def test_waits_on_several_sessions_at_once(model: ScriptedModel, tmp_path: Path) -> None:
    for n in range(3):
        model.add(text(f"answer {n}"), match=f"question {n}?")
    async with AsyncCodexManager() as cm:
        sessions = [await cm.sessions.create(cwd=str(tmp_path)) for _ in range(3)]
        before = cm.requests_sent
        replies = await asyncio.gather(
            *(
                cm.wait.send_message_and_wait_reply(
                    session_id=s["session"]["sessionId"], text=f"question {n}?"
                )
                for n, s in enumerate(sessions)
            )
        )
        assert [r.assistant_reply for r in replies] == ["answer 0", "answer 1", "answer 2"]
        assert cm.requests_sent - before == 3


async def test_a_reconnect_past_the_servers_log_says_events_were_lost(
    model: ScriptedModel, tmp_path: Path
) -> None:
    # 2 500 deltas: more frames than the server keeps per thread (2 000).
    model.add(text("word " * 600, chunks=2500))
    async with AsyncCodexManager() as cm:
        session_id = (await cm.sessions.create(cwd=str(tmp_path)))["session"]["sessionId"]
        connection = cm.stream.subscribe(session_id)
        await connection.open()
        await connection.aclose()  # away while the whole turn happens
        reply = await cm.wait.send_message_and_wait_reply(session_id=session_id, text="long")
        assert reply.status == "completed"
        frames = connection.frames()
        # Reconnects with ?since=. Frames the first socket took in before it closed (a
        # late warning of the thread's start) come first; then the replay's verdict.
        before: list[StreamEvent] = []
        while (event := await asyncio.wait_for(anext(frames), 30)).type != "replay":
            before.append(event)
            assert len(before) < 5, [e.type for e in before]
        await frames.aclose()
        await connection.aclose()
    assert event.payload["complete"] is False
    assert connection.incomplete_replays == 1
    assert all(not e.type.startswith("app_server.item") for e in before)  # none of the turn


@pytest.mark.slow  # two more server starts
def test_default_scope_writes_while_the_defaults_are_locked_are_locked_errors(
    model: ScriptedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, config_home = tmp_path / "data", tmp_path / "config"
    codex_home = model.codex_home(tmp_path / "codex-home")

    def serve() -> ServeProcess:
        return ServeProcess(data_dir=data_dir, codex_home=codex_home, config_home=config_home)

    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    with serve(), CodexManager() as cm:
        chat = cm.session(_session(cm, tmp_path))
        chat.settings.set(key="team", value="a", scope="default")
    # An operator locks the defaults in the database (no route does), then restarts.
    with contextlib.closing(sqlite3.connect(data_dir / "codexkit.db")) as db, db:
        db.execute("UPDATE defaults SET locked = 1 WHERE id = 1")
    with serve(), CodexManager() as cm:  # the profile has the new port
        chat = cm.session(chat.session_id)
        with pytest.raises(LockedError) as locked:
            chat.settings.set(key="team", value="b", scope="default")
        assert (locked.value.status, locked.value.code) == (423, "defaults_locked")
        assert chat.settings.get(key="team", scope="default")["value"] == "a"
        chat.settings.set(key="team", value="b")  # the session's own scope stays open


def test_the_approval_timeout_extension_decides_what_nobody_answers(
    model: ScriptedModel, tmp_path: Path
) -> None:
    model.extend([shell("touch late.txt", escalate=True), text("nobody answered")])
    with CodexManager(validation_mode="strict") as cm:
        session_id = _session(
            cm, tmp_path, approval_policy="on-request", filesystem_sandbox="read-only"
        )
        session = cm.session(session_id)
        with pytest.raises(ValidationError) as refused:
            session.approval_timeout(-1)
        assert refused.value.status == 400
        set_ = session.approval_timeout(1, decision="decline")
        assert (set_["sessionId"], set_["seconds"], set_["decision"]) == (session_id, 1, "decline")
        reply = cm.wait.send_message_and_wait_reply(
            session_id=session_id, text="make the file", timeout_seconds=60
        )
        assert reply.status == "completed"
        [expired] = session.approvals.list(history=True)["data"]
    assert expired["status"] == "expired"
    assert "approval timeout of 1 s" in expired["expiryReason"]
    assert not (tmp_path / "late.txt").exists()
