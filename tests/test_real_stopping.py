"""Stopping a turn stops what it started, and the thread takes a new turn at once.
Real binary, scripted model."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import pytest

from codexkit import AsyncCodex, AsyncThread, CodexTimeoutError
from codexkit.testing import Reply, ScriptedModel, stall, text, tool_call

pytestmark = pytest.mark.real


def _background_sleep(model: ScriptedModel) -> str:
    """Script a turn whose agent starts a long ``sleep`` that goes on in the background
    (the shell tool stops waiting for it after 100 ms) and then works on; returns the
    command line, unique to the test so that its process can be found."""
    command = f"sleep {300 + random.random():.9f}"
    arguments = {"cmd": command, "login": False, "yield_time_ms": 100}
    model.extend([tool_call("exec_command", arguments), stall(60)])
    return command


async def _until_running(model: ScriptedModel, thread: AsyncThread, command: str) -> None:
    # The agent asks the model again once the command runs in the background.
    await asyncio.to_thread(model.wait_for_requests, 2, 30)
    assert [t["command"] for t in await thread.background_terminals()] == [command]
    assert _processes_running(command, within=0) != []


def _processes_running(command: str, *, within: float) -> list[str]:
    """Pids of processes whose command line is ``command``, polled until there are none
    or ``within`` seconds pass (a killed process takes a moment to be reaped)."""
    needle = command.replace(" ", "\0").encode()
    deadline = time.monotonic() + within
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and needle in (entry / "cmdline").read_bytes():
                    found.append(entry.name)
            except OSError:  # gone meanwhile
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


async def _next_turn_runs_at_once(model: ScriptedModel, thread: AsyncThread) -> None:
    """The stopped turn's agent would keep the thread busy for a minute (its model call
    stalls): the next turn must start and complete within seconds."""
    model.add(text("next"))
    started = time.monotonic()
    result = await thread.run("next", timeout=20)
    assert result.final_response == "next"
    assert time.monotonic() - started < 10


async def test_interrupt_ends_the_commands_the_turn_started(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    command = _background_sleep(scripted_model)
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("Start a long job")
        await _until_running(scripted_model, thread, command)
        await turn.interrupt()
        assert (await turn.run(timeout=10)).status == "interrupted"
        assert _processes_running(command, within=5) == []
        await _next_turn_runs_at_once(scripted_model, thread)


async def test_a_run_timeout_ends_the_turn_and_its_commands(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    command = _background_sleep(scripted_model)
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("Start a long job")
        await _until_running(scripted_model, thread, command)
        with pytest.raises(CodexTimeoutError):
            await turn.run(timeout=0.5)
        await _next_turn_runs_at_once(scripted_model, thread)
        assert _processes_running(command, within=5) == []


async def test_an_idle_timeout_ends_the_turn_and_its_commands(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    command = _background_sleep(scripted_model)
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("Start a long job", idle_timeout=1.0)
        await _until_running(scripted_model, thread, command)
        with pytest.raises(CodexTimeoutError, match="no event for 1 s"):
            await turn.run()
        await _next_turn_runs_at_once(scripted_model, thread)
        assert _processes_running(command, within=5) == []


async def test_cancelling_the_task_running_a_turn_stops_the_turn(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    command = _background_sleep(scripted_model)
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        running = asyncio.ensure_future(thread.run("Start a long job"))
        await _until_running(scripted_model, thread, command)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        await _next_turn_runs_at_once(scripted_model, thread)
        assert _processes_running(command, within=5) == []
        turns = (await thread.read())["turns"]
    assert [t["status"] for t in turns] == ["interrupted", "completed"]


async def test_cancelling_while_the_turn_is_being_started_stops_it(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    # The turn may be stopped before it calls the model: keep this reply to itself.
    scripted_model.add(stall(60), match="Start a long job")
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        running = asyncio.ensure_future(thread.run("Start a long job"))

        def cancel_once_sent(direction: str, message: dict[str, Any]) -> None:
            if direction == "outgoing" and message.get("method") == "turn/start":
                running.cancel()  # lands while the task waits for the answer

        codex.use(cancel_once_sent)
        with pytest.raises(asyncio.CancelledError):
            await running
        await _next_turn_runs_at_once(scripted_model, thread)
        turns = (await thread.read())["turns"]
    assert [t["status"] for t in turns] == ["interrupted", "completed"]


async def test_interrupt_works_from_the_moment_turn_returns(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    rounds = 20
    scripted_model.extend([stall(60)] * rounds)
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        for n in range(rounds):
            turn = await thread.turn(f"round {n}")  # the last one is not waited for
            await turn.interrupt()
        assert (await turn.run(timeout=10)).status == "interrupted"
        turns = (await thread.read())["turns"]
    assert [t["status"] for t in turns] == ["interrupted"] * rounds


async def test_steer_works_from_the_moment_turn_returns(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    rounds = 4
    replies: list[Reply] = [text("ok")] * (2 * rounds)  # a steer may take a model call more
    scripted_model.extend(replies)
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        for n in range(rounds):
            turn = await thread.turn(f"round {n}")
            await turn.steer(f"steer {n}")
            assert (await turn.run(timeout=20)).status == "completed"
    seen = {text for request in scripted_model.requests for text in request.user_texts()}
    assert {f"steer {n}" for n in range(rounds)} <= seen
