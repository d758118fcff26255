"""Tests of record: the real pinned codex binary against the scripted model."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest

from codexkit import (
    AgentMessageDelta,
    AsyncCodex,
    CodexTimeoutError,
    CommandExecutionItem,
    ItemCompleted,
    ItemStarted,
    TurnCompleted,
    TurnFailedError,
    find_codex,
)
from codexkit.testing import ScriptedModel, failure, shell, stall, text

pytestmark = pytest.mark.real


def _runtime_version() -> str:
    """The version the binary in use reports (the pinned one unless overridden)."""
    out = subprocess.run([find_codex().path, "--version"], capture_output=True, text=True)
    return out.stdout.split()[-1]


async def test_simple_turn(scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path) -> None:
    scripted_model.add(text("Hello there!"))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        assert codex.metadata.version == _runtime_version()
        thread = await codex.start_thread()
        result = await thread.run("Say hello")
    assert result.status == "completed"
    assert result.final_response == "Hello there!"
    assert result.thread_id == thread.id
    assert [item.type for item in result.items] == ["userMessage", "agentMessage"]
    assert result.usage is not None
    assert result.usage.total_tokens == 15
    assert result.duration_ms is not None
    assert scripted_model.requests[0].last_user_text == "Say hello"


async def test_deltas_stream_in_order(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    words = " ".join(f"word{i}" for i in range(40))
    scripted_model.add(text(words, chunks=40))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("Count")
        events = [event async for event in turn]
    deltas = [e.delta for e in events if isinstance(e, AgentMessageDelta)]
    assert deltas, "the agent's text should stream as deltas"
    assert "".join(deltas) == words
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("AgentMessageDelta") < kinds.index("TurnCompleted")
    assert isinstance(events[-1], TurnCompleted)
    assert turn.result is not None
    assert turn.result.final_response == words


async def test_multi_turn_history_reaches_the_model(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([text("Nice to meet you, Ada."), text("Your name is Ada.")])
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        await thread.run("My name is Ada.")
        answer = await thread.ask("What is my name?")
    assert answer == "Your name is Ada."
    second = scripted_model.requests[1]
    assert second.last_user_text == "What is my name?"
    assert "My name is Ada." in second.user_texts()
    assistant = [i for i in second.input if i.get("role") == "assistant"]
    assert any("Nice to meet you, Ada." in str(i.get("content")) for i in assistant)


async def test_resume_from_a_new_client_on_the_same_home(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([text("Remembered: 42."), text("It was 42.")])
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        await thread.run("Remember the number 42.")
        thread_id = thread.id
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        resumed = await codex.resume_thread(thread_id)
        assert resumed.id == thread_id
        answer = await resumed.ask("Which number?")
    assert answer == "It was 42."
    assert "Remember the number 42." in scripted_model.requests[1].user_texts()


async def test_fork_carries_history_and_leaves_the_original_alone(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([text("base"), text("on the fork"), text("on the original")])
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        await thread.run("shared start")
        forked = await thread.fork()
        assert forked.id != thread.id
        assert await forked.ask("fork only") == "on the fork"
        assert await thread.ask("original only") == "on the original"
    fork_request, original_request = scripted_model.requests[1], scripted_model.requests[2]
    assert "shared start" in fork_request.user_texts()
    assert "shared start" in original_request.user_texts()
    assert "fork only" not in original_request.user_texts()


async def test_command_execution_item_carries_its_output(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([shell("echo hi-from-shell"), text("It printed hi-from-shell.")])
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("Run echo")
        completed = [e.item async for e in turn if isinstance(e, ItemCompleted)]
    commands = [item for item in completed if isinstance(item, CommandExecutionItem)]
    assert len(commands) == 1
    assert "echo hi-from-shell" in commands[0].command
    assert commands[0].exit_code == 0
    assert commands[0].aggregated_output is not None
    assert "hi-from-shell" in commands[0].aggregated_output
    assert turn.result is not None
    assert turn.result.commands == commands
    outputs = scripted_model.requests[1].function_call_outputs()
    assert any("hi-from-shell" in str(output.get("output")) for output in outputs)


async def test_twenty_threads_run_turns_at_once(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    for n in range(20):
        scripted_model.add(text(f"answer-{n}"), match=f"question-{n}?")
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        threads = await asyncio.gather(*(codex.start_thread() for _ in range(20)))
        turns = await asyncio.gather(
            *(thread.turn(f"question-{n}?") for n, thread in enumerate(threads))
        )
        results = await asyncio.gather(*(turn.run(timeout=60) for turn in turns))
    assert [r.final_response for r in results] == [f"answer-{n}" for n in range(20)]
    assert [r.thread_id for r in results] == [t.id for t in threads]
    assert len({r.turn_id for r in results}) == 20
    assert not scripted_model.unmatched


async def test_failed_model_stream_raises_turn_failed(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(failure("the model fell over"))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        with pytest.raises(TurnFailedError) as caught:
            await thread.run("Try")
    assert "the model fell over" in str(caught.value)
    assert caught.value.result.status == "failed"
    assert caught.value.result.thread_id == thread.id
    assert caught.value.error.get("message")


async def test_idle_timeout_on_a_stalled_model(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([stall(30), text("after the stall")])
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path, turn_idle_timeout=1.0) as codex:
        thread = await codex.start_thread()
        started = time.monotonic()
        with pytest.raises(CodexTimeoutError):
            await thread.run("Wait")
        assert time.monotonic() - started < 5


async def test_interrupt_ends_the_turn_as_interrupted(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(stall(30))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("Long job")
        scripted_model.wait_for_requests(1, timeout=10)
        await turn.interrupt()
        result = await turn.run(timeout=10)
    assert result.status == "interrupted"


async def test_steer_adds_input_to_a_running_turn(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([shell("sleep 0.5"), text("steered")])
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("Start")
        async for event in turn:
            if isinstance(event, ItemStarted) and isinstance(event.item, CommandExecutionItem):
                await turn.steer("Also say steered")
                break
        result = await turn.run(timeout=30)
    assert result.final_response == "steered"
    assert "Also say steered" in scripted_model.requests[-1].user_texts()


async def test_config_overrides_reach_the_agent(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(text("ok"))
    config = {"model": "mock-model-2", "model_reasoning_effort": "low"}
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path, config=config) as codex:
        thread = await codex.start_thread()
        await thread.run("hi")
    assert scripted_model.requests[0].model == "mock-model-2"
