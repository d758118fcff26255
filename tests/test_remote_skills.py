"""``cm.remote_skills`` against a real ``codexkit serve`` (real binary, scripted model):
the seed's echo flow as written, failing and timed-out handlers, a duplicate delivery,
async handlers, two worker processes on one session, a restart of the server between
two tool calls of one session."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.serve import ServeProcess

from codexkit.manager import (
    AppServerSignal,
    AsyncCodexManager,
    CodexManager,
    GoneError,
    SessionSkills,
    SkillDispatch,
)
from codexkit.testing import RecordedRequest, ScriptedModel, text, tool_call

pytestmark = pytest.mark.real

WORKER = Path(__file__).parent / "support" / "skill_worker.py"
EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.fixture(scope="module")
def server(
    model: ScriptedModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("serve-skills")
    with ServeProcess.scripted(model, root) as running:
        yield running


@pytest.fixture(autouse=True)
def profile_home(server: ServeProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the server wrote its `local` profile, as a user's own config dir."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(server.config_home))


def outputs(request: RecordedRequest) -> dict[str, str]:
    """The tool outputs the model was given, by call id (each call once)."""
    found: dict[str, str] = {}
    for item in request.input:
        if item.get("type") == "function_call_output":
            assert item["call_id"] not in found, "a call answered twice"
            output = item["output"]
            found[item["call_id"]] = output if isinstance(output, str) else json.dumps(output)
    return found


def offered(request: RecordedRequest, name: str) -> dict[str, Any]:
    [tool] = [t for t in request.body.get("tools", []) if t.get("name") == name]
    return dict(tool)


def test_the_seeds_echo_flow_as_written(
    model: ScriptedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    said = "hello from remote skill"
    model.extend([tool_call("echo", {"text": said}), text(said)])
    first = len(model.requests)
    from codexkit.manager import CodexManager

    def register(skills):  # type: ignore[no-untyped-def]
        @skills.skill()  # type: ignore[untyped-decorator]
        def echo(text: str) -> str:
            """Echo text back verbatim.

            Args:
                text: Text to echo.
            """
            return text

    with CodexManager.from_profile("local") as cm:
        with cm.remote_skills.lifecycle(register=register, cwd=".", approval_policy="never") as run:
            result = run.skills.send_and_handle(
                "Call echo with text='hello from remote skill', then reply with exactly that "
                "echoed text.",
                require_assistant_reply=True,
            )
            session_id = run.session_id
        [dispatch] = result.dispatches
        assert (dispatch.tool, dispatch.arguments, dispatch.result) == (
            "echo",
            {"text": said},
            said,
        )
        assert dispatch.error is None
        assert dispatch.answered
        assert dispatch.duration >= 0
        assert (result.status, result.assistant_reply) == ("completed", said)
        with pytest.raises(GoneError):  # lifecycle deletes the session on exit
            cm.sessions.get(session_id=session_id)
    asked, answered = model.requests[first:]
    spec = offered(asked, "echo")  # inferred as @tool infers it
    assert spec["description"] == "Echo text back verbatim."
    assert spec["parameters"]["properties"]["text"]["description"] == "Text to echo."
    assert list(outputs(answered).values()) == [said]


def test_a_raising_and_a_timed_out_handler_become_failed_results_the_model_sees(
    model: ScriptedModel, tmp_path: Path
) -> None:
    release = threading.Event()

    def register(skills: SessionSkills) -> None:
        @skills.skill()
        def lookup(ticket: str) -> str:
            """Look a ticket up."""
            raise LookupError(f"the ticket system is down ({ticket})")

        @skills.skill(timeout_seconds=0.5)
        def deploy() -> str:
            """Deploy (slowly)."""
            release.wait(10)
            return "deployed"

    model.extend(
        [
            tool_call("lookup", {"ticket": "T-1"}, call_id="c-lookup"),
            tool_call("deploy", {}, call_id="c-deploy"),
            text("both failed"),
        ]
    )
    first = len(model.requests)
    with (
        CodexManager() as cm,
        cm.remote_skills.lifecycle(register=register, cwd=str(tmp_path)) as run,
    ):
        result = run.skills.send_and_handle("look up and deploy", timeout_seconds=60)
    release.set()
    failed, late = result.dispatches
    assert failed.error == "LookupError: the ticket system is down (T-1)"
    assert failed.result is None
    assert failed.answered
    assert not failed.success
    assert late.error == "skill 'deploy' did not finish within 0.5 s"
    assert 0.5 <= late.duration < 5
    assert result.assistant_reply == "both failed"
    seen = outputs(model.requests[-1])
    assert "LookupError: the ticket system is down (T-1)" in seen["c-lookup"]
    assert "did not finish within 0.5 s" in seen["c-deploy"]
    assert len(model.requests) - first == 3


async def test_a_duplicate_delivery_is_answered_once_and_a_late_answer_is_idempotent(
    model: ScriptedModel, tmp_path: Path
) -> None:
    runs: list[str] = []

    def register(skills: SessionSkills) -> None:
        @skills.skill()
        def count(label: str) -> int:
            """Count a call."""
            runs.append(label)
            return len(runs)

    model.extend([tool_call("count", {"label": "x"}, call_id="c-count"), text("counted")])
    async with AsyncCodexManager() as cm:
        created, skills = await cm.remote_skills.create_session(
            register=register, cwd=str(tmp_path)
        )
        session_id = created["session"]["sessionId"]
        other = await cm.remote_skills.attach(session_id, register=register)  # another worker
        served: list[SkillDispatch | None] = []

        @cm.stream.on_app_server_request("item/tool/call")
        async def deliver(signal: AppServerSignal) -> None:
            # The same call delivered twice here, and once to the other worker.
            served.append(await skills.respond_to_signal(signal))
            served.append(await skills.respond_to_signal(signal))
            served.append(await other.respond_to_signal(signal))

        cm.stream.on_app_server("turn/completed")(lambda signal: cm.stream.stop())
        runner = asyncio.create_task(cm.stream.run_forever(thread_id=session_id))
        await cm.stream.wait_connected()
        await skills.send("count once")
        await asyncio.wait_for(runner, 60)

        mine, duplicate, theirs = served
        assert mine is not None
        assert (mine.answered, mine.result) == (True, 1)
        assert duplicate is None  # taken already in this process: the handler ran once
        assert theirs is not None
        assert not theirs.answered  # the server had its answer already
        assert runs == ["x", "x"]  # each worker's handler ran; one answer reached codex
        assert outputs(model.requests[-1]) == {"c-count": "1"}
        late = await cm.tool_calls.respond(request_id=mine.request_id, text="again")
        assert late["status"] != "ok"  # counted as done, not raised
        history = await cm.sessions.tool_calls(session_id=session_id, history=True)
        assert [c["status"] for c in history["data"]] == ["resolved"]
        await cm.sessions.delete(session_id=session_id)


def test_a_call_made_while_nobody_served_is_taken_from_the_list_by_a_sync_worker(
    model: ScriptedModel, tmp_path: Path
) -> None:
    model.extend([tool_call("stamp", {"text": "queued"}, call_id="c-q"), text("stamped late")])
    with (
        CodexManager() as cm,
        cm.remote_skills.lifecycle(register=_stamp_skill, cwd=str(tmp_path)) as run,
    ):
        turn_id = run.skills.send("nobody serves yet")["turnId"]
        _wait_pending(cm, run.session_id)
        worker = threading.Thread(target=run.skills.serve_forever, daemon=True)
        worker.start()
        run.skills.wait_serving()
        deadline = time.monotonic() + 30
        while cm.wait.turn_status(session_id=run.session_id, turn_id=turn_id) != "completed":
            assert time.monotonic() < deadline, "the queued call was never served"
            time.sleep(0.05)
        run.skills.stop()
        worker.join(30)
        assert not worker.is_alive()
        [dispatch] = run.skills.dispatches
    assert (dispatch.result, dispatch.answered) == ("queued", True)
    assert outputs(model.requests[-1]) == {"c-q": "queued"}


async def test_async_handlers_explicit_fields_and_two_sessions_at_once(
    model: ScriptedModel, tmp_path: Path
) -> None:
    async def register_weather(skills: SessionSkills) -> None:  # an async register
        @skills.skill(
            name="forecast",
            description="The forecast of a city.",
            input_schema={"type": "object", "properties": {"city": {"type": "string"}}},
        )
        async def weather(city: str) -> dict[str, str]:
            await asyncio.sleep(0.05)
            return {"city": city, "sky": "clear"}

    def register_math(skills: SessionSkills) -> None:
        @skills.skill
        async def add(a: int, b: int) -> int:
            """Add two numbers."""
            return a + b

    for prompt, call in [
        ("WEATHER", tool_call("forecast", {"city": "Oslo"}, call_id="c-w")),
        ("MATH", tool_call("add", {"a": "2", "b": 3}, call_id="c-m")),
    ]:
        model.add(call, match=prompt)
        model.add(text(f"{prompt} done"), match=prompt)
    async with (
        AsyncCodexManager() as cm,
        cm.remote_skills.lifecycle(register=register_weather, cwd=str(tmp_path)) as weather,
        cm.remote_skills.lifecycle(register=register_math, cwd=str(tmp_path)) as math,
    ):
        assert (weather.skills.names, math.skills.names) == (["forecast"], ["add"])
        sunny, summed = await asyncio.gather(
            weather.skills.send_and_handle("WEATHER in Oslo?", require_assistant_reply=True),
            math.skills.send_and_handle("MATH: 2+3", require_assistant_reply=True),
        )
    assert sunny.dispatches[0].result == {"city": "Oslo", "sky": "clear"}
    assert summed.dispatches[0].result == 5  # "2" became 2, as @tool validates
    assert (sunny.assistant_reply, summed.assistant_reply) == ("WEATHER done", "MATH done")
    forecast = next(
        offered(r, "forecast") for r in model.requests if r.last_user_text == "WEATHER in Oslo?"
    )
    assert forecast["description"] == "The forecast of a city."


def test_the_team_of_agents_example_hands_work_through_one_board(
    model: ScriptedModel, server: ServeProcess, tmp_path: Path
) -> None:
    def turn(role: str, *steps: Any) -> None:
        for step in steps:
            model.add(step, match=role)

    turn(
        "PLANNER:",
        tool_call("add_task", {"title": "parse the arguments"}),
        tool_call("add_task", {"title": "store the todos"}),
        text("filed two tasks"),
    )
    for number, work in ((1, "def parse(argv): ..."), (2, "def store(todo): ...")):
        turn(
            "CODER:",
            tool_call("next_task", {}),
            tool_call("submit", {"task_id": number, "work": work}),
            text(f"handed in task {number}"),
        )
        turn(
            "REVIEWER:",
            tool_call("pending_review", {}),
            tool_call("review", {"task_id": number, "approved": True, "notes": "fine"}),
            text(f"approved task {number}"),
        )
    first = len(model.requests)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "team_of_agents.py"), "a todo app"],
        cwd=tmp_path,
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "2 tasks, 2 done",
        "- [done] 1. parse the arguments: fine",
        "- [done] 2. store the todos: fine",
    ]
    assert model.pending == []
    # The reviewer read the coder's work from the board through its skill.
    reviews = [r for r in model.requests[first:] if (r.last_user_text or "").startswith("REV")]
    assert any("def store(todo)" in out for r in reviews for out in outputs(r).values())


def _worker(session_id: str, name: str, server: ServeProcess) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), session_id, name],
        stdout=subprocess.PIPE,
        text=True,
        env=server.env(),
    )


@pytest.mark.slow
def test_two_worker_processes_on_one_session_answer_each_call_once(
    model: ScriptedModel, server: ServeProcess, tmp_path: Path
) -> None:
    model.extend(
        [
            tool_call("stamp", {"text": "one"}, call_id="c-1"),
            tool_call("stamp", {"text": "two"}, call_id="c-2"),
            text("stamped"),
        ]
    )
    with CodexManager() as cm:
        created, skills = cm.remote_skills.create_session(register=_stamp_skill, cwd=str(tmp_path))
        session_id = created["session"]["sessionId"]
        workers = [_worker(session_id, name, server) for name in ("w1", "w2")]
        try:
            for worker in workers:
                assert worker.stdout is not None
                assert worker.stdout.readline().strip() == "serving"
            reply = cm.wait.send_message_and_wait_reply(
                session_id=session_id,
                text="stamp twice",
                timeout_seconds=60,
                dynamic_tools=skills.dynamic_tools(),
            )
        finally:
            for worker in workers:
                worker.terminate()
            reports = [json.loads(w.communicate(timeout=30)[0].splitlines()[-1]) for w in workers]
        assert reply.assistant_reply == "stamped"
        history = cm.sessions.tool_calls(session_id=session_id, history=True)["data"]
        cm.sessions.delete(session_id=session_id)
    assert [c["status"] for c in history] == ["resolved", "resolved"]
    seen = outputs(model.requests[-1])
    for call in history:
        winners = [d for report in reports for d in report if d["requestId"] == call["requestId"]]
        answered = [d for d in winners if d["answered"]]
        assert len(answered) == 1, winners  # the server took one answer per call
        assert seen[call["callId"]] == answered[0]["result"]


def _stamp_skill(skills: SessionSkills) -> None:
    @skills.skill()
    def stamp(text: str) -> str:
        """Stamp text."""
        return text


@pytest.mark.slow
def test_a_restart_of_the_server_between_two_tool_calls_of_one_session(
    model: ScriptedModel, server: ServeProcess, tmp_path: Path
) -> None:
    """Last in the module: it replaces the module's server with a new process on the
    same data dir (the same database and codex home)."""

    def register(skills: SessionSkills) -> None:
        @skills.skill()
        def echo(text: str) -> str:
            """Echo text back."""
            return text

    model.extend([tool_call("echo", {"text": "before"}), text("before")])
    with (
        CodexManager() as cm,
        cm.remote_skills.lifecycle(register=register, keep_session=True, cwd=str(tmp_path)) as run,
    ):
        assert run.skills.send_and_handle("first").dispatches[0].result == "before"
        session_id = run.session_id
        model.add(tool_call("echo", {"text": "lost"}))
        run.skills.send("second: nobody serves this one")
        _wait_pending(cm, session_id)
    server.kill()  # with a tool call pending
    again = ServeProcess.scripted(model, server.data_dir.parent).start()
    try:
        model.extend([tool_call("echo", {"text": "after"}), text("after")])
        with CodexManager() as cm:
            skills = cm.remote_skills.attach(session_id, register=register)
            assert skills.drain_pending_calls() == []  # nothing left to answer
            [expired] = cm.sessions.tool_calls(session_id=session_id, history=True)["data"][1:]
            assert expired["status"] == "expired"
            assert "the server restarted" in expired["expiryReason"]
            first = len(model.requests)
            result = skills.send_and_handle("third", require_assistant_reply=True)
            assert [d.result for d in result.dispatches] == ["after"]
            assert result.dispatches[0].answered
            # The resumed thread still offers the skill to the model.
            assert offered(model.requests[first], "echo")["name"] == "echo"
            cm.sessions.delete(session_id=session_id)
    finally:
        again.stop()


def _wait_pending(cm: CodexManager, session_id: str) -> None:
    deadline = time.monotonic() + 30
    while not cm.sessions.tool_calls(session_id=session_id)["data"]:
        assert time.monotonic() < deadline, "the tool call never became pending"
        time.sleep(0.05)
