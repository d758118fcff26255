"""Python functions as agent tools, with the real binary and the scripted model."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from codexkit import AsyncCodex, DynamicToolCallItem, tool
from codexkit.testing import ScriptedModel, text, tool_call

pytestmark = pytest.mark.real

calls: list[tuple[int, int]] = []


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first addend.
        b: The second addend.
    """
    calls.append((a, b))
    return a + b


@tool
def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"kaboom: {reason}")


@tool
async def slow_echo(word: str) -> str:
    """Echo a word after a pause."""
    await asyncio.sleep(0.5)
    return word


async def test_a_tool_is_offered_called_with_validated_arguments_and_answered(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    calls.clear()
    scripted_model.extend([tool_call("add", {"a": "40", "b": 2}), text("The sum is 42.")])
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path, tools=[add]) as codex:
        thread = await codex.start_thread()
        result = await thread.run("What is 40 + 2?")
    assert calls == [(40, 2)]  # "40" was validated into an int before the call
    offered = scripted_model.requests[0].body["tools"]
    spec = next(t for t in offered if t.get("name") == "add")
    assert spec["parameters"]["properties"]["a"]["description"] == "The first addend."
    [output] = scripted_model.requests[1].function_call_outputs()
    assert output["output"] == "42"
    [item] = [i for i in result.items if isinstance(i, DynamicToolCallItem)]
    assert item.tool == "add"
    assert item.success is True
    assert result.final_response == "The sum is 42."


async def test_a_raising_tool_and_bad_arguments_reach_the_model_as_failures(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend(
        [
            tool_call("explode", {"reason": "testing"}),
            tool_call("add", {"a": "forty", "b": 2}),
            text("Both failed."),
        ]
    )
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path, tools=[add, explode]) as codex:
        thread = await codex.start_thread()
        result = await thread.run("Try the tools")
    assert result.status == "completed"
    raised = scripted_model.requests[1].function_call_outputs()[-1]["output"]
    invalid = scripted_model.requests[2].function_call_outputs()[-1]["output"]
    assert "RuntimeError: kaboom: testing" in str(raised)
    assert "a" in str(invalid)
    assert "integer" in str(invalid)
    failed = [i for i in result.items if isinstance(i, DynamicToolCallItem)]
    assert [i.success for i in failed] == [False, False]


async def test_thread_tools_layer_over_client_tools(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([text("ok"), text("ok")])
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path, tools=[add]) as codex:
        plain = await codex.start_thread()
        await plain.run("first", timeout=30)
        extended = await codex.start_thread(tools=[slow_echo])
        await extended.run("second", timeout=30)

    def offered(n: int) -> set[str]:
        return {t.get("name", "") for t in scripted_model.requests[n].body["tools"]}

    assert "add" in offered(0)
    assert "slow_echo" not in offered(0)
    assert {"add", "slow_echo"} <= offered(1)


async def test_tool_calls_on_different_threads_run_at_once(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    for n in range(4):
        scripted_model.add(tool_call("slow_echo", {"word": f"w{n}"}), match=f"echo-{n}")
        scripted_model.add(text(f"done-{n}"), match=f"echo-{n}")
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path, tools=[slow_echo]) as codex:
        threads = [await codex.start_thread() for _ in range(4)]
        started = time.monotonic()
        answers = await asyncio.gather(
            *(thread.ask(f"echo-{n}", timeout=60) for n, thread in enumerate(threads))
        )
        elapsed = time.monotonic() - started
    assert answers == [f"done-{n}" for n in range(4)]
    # Four 0.5 s tools one after another would take 2 s or more.
    assert elapsed < 1.9
