"""Tests of record for the one-shot engine, :mod:`codexkit.exec`: the real pinned binary
run as ``codex exec --json`` against the scripted model, and stand-in binaries for the
ways codex can misbehave."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import os
import shlex
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from codexkit import (
    CodexError,
    CodexTimeoutError,
    CommandExecutionItem,
    Event,
    FileChange,
    FileChangeItem,
    ImageInput,
    ItemCompleted,
    ItemStarted,
    LocalImageInput,
    McpToolCallItem,
    Notification,
    OutputParseError,
    PlanUpdated,
    ReasoningItem,
    StreamError,
    TextInput,
    TurnCompleted,
    TurnFailed,
    TurnFailedError,
    TurnStarted,
    UnknownItem,
    WebSearchItem,
)
from codexkit._structured import strict_schema
from codexkit.exec import ExecCodex, ExecError
from codexkit.testing import ScriptedModel, failure, json_reply, shell, stall, text

pytestmark = pytest.mark.real

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


class Verdict(BaseModel):
    ok: bool
    reason: str


# -- helpers ------------------------------------------------------------------------


def _procs() -> list[tuple[int, str, int, int]]:
    """(pid, state, parent pid, process group) of every process we can see."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except OSError:  # it ended while we looked
            continue
        found.append((int(entry), fields[0], int(fields[1]), int(fields[2])))
    return found


def _children() -> list[int]:
    """Our child processes, zombies included: none may be left after a turn."""
    return [pid for pid, _, ppid, _ in _procs() if ppid == os.getpid()]


def _alive_in_group(pgid: int) -> list[int]:
    return [pid for pid, state, _, group in _procs() if group == pgid and state != "Z"]


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition()`` until it is true (the loop reaps exited children a moment
    after they exit), failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


def _fake_codex(tmp_path: Path, body: str) -> str:
    """An executable standing in for ``codex``: a shell script running ``body``."""
    script = tmp_path / f"fake-codex-{len(list(tmp_path.glob('fake-codex-*')))}"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def _private_tempdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Send the SDK's temporary files to a directory of the test's own."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


# -- turns --------------------------------------------------------------------------


async def test_simple_turn(scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path) -> None:
    scripted_model.add(text("Hello there!"))
    thread = ExecCodex(codex_home=codex_home).start_thread(cwd=tmp_path)
    assert thread.id is None
    result = await thread.run("Say hello")
    assert result.status == "completed"
    assert result.final_response == "Hello there!"
    assert thread.id is not None
    assert result.thread_id == thread.id
    assert result.turn_id.startswith("exec-")
    # The "Model metadata for `mock-model` not found" warning is no item of the turn.
    assert [item.type for item in result.items] == ["agentMessage"]
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (10, 5)
    assert result.usage.total_tokens == 15
    assert result.error is None
    assert result.duration_ms is not None
    assert result.duration_ms > 0
    assert scripted_model.requests[0].last_user_text == "Say hello"
    assert _children() == []


async def test_a_command_streams_its_events_in_order(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(text("Let me run it.") + shell("echo hi"))
    scripted_model.add(text("It printed hi."))
    thread = ExecCodex(codex_home=codex_home).start_thread(cwd=tmp_path)
    events: list[Event] = []
    async with thread.run_streamed("Run echo hi") as stream:
        async for event in stream:
            events.append(event)
            assert event.method == event.raw["type"]
    assert isinstance(events[0], Notification)
    assert events[0].method == "thread.started"
    assert events[0].thread_id == thread.id
    warnings = [e for e in events if isinstance(e, Notification) and e.method == "item.completed"]
    assert warnings, "exec reports the unknown model metadata as an error item"
    assert all(e.raw["item"]["type"] == "error" for e in warnings)
    typed = [e for e in events if not isinstance(e, Notification)]
    assert [type(e) for e in typed] == [
        TurnStarted,
        ItemCompleted,
        ItemStarted,
        ItemCompleted,
        ItemCompleted,
        TurnCompleted,
    ]
    assert all(e.turn_id == stream.turn_id and e.thread_id == thread.id for e in typed)
    started, done = typed[2], typed[3]
    assert isinstance(started, ItemStarted)
    assert isinstance(done, ItemCompleted)
    assert isinstance(started.item, CommandExecutionItem)
    assert started.item.status == "inProgress"
    command = done.item
    assert isinstance(command, CommandExecutionItem)
    assert command.id == started.item.id
    assert "echo hi" in command.command
    assert command.status == "completed"
    assert command.exit_code == 0
    assert command.aggregated_output == "hi\n"
    result = stream.result
    assert result is not None
    assert result.commands == [command]
    assert [m.text for m in result.agent_messages] == ["Let me run it.", "It printed hi."]
    assert result.final_response == "It printed hi."
    assert "hi" in scripted_model.requests[1].function_call_outputs()[0]["output"]


async def test_structured_output_and_its_private_schema_file(
    scripted_model: ScriptedModel,
    codex_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    temp = _private_tempdir(monkeypatch, tmp_path)
    scripted_model.add(json_reply({"ok": True, "reason": "tests pass"}))
    scripted_model.add(text("Sorry, no JSON today."))
    scripted_model.add(json_reply({"n": 7}))
    thread = ExecCodex(codex_home=codex_home).start_thread(cwd=tmp_path)

    result = await thread.run("Judge it", output_type=Verdict)
    assert result.output == Verdict(ok=True, reason="tests pass")
    assert scripted_model.requests[0].output_schema == strict_schema(Verdict)
    assert list(temp.iterdir()) == []

    with pytest.raises(OutputParseError) as caught:
        await thread.run("Judge it again", output_type=Verdict)
    assert caught.value.raw_text == "Sorry, no JSON today."
    assert caught.value.result is not None
    assert caught.value.result.status == "completed"
    assert list(temp.iterdir()) == []

    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
    }
    result = await thread.run("Pick a number", output_schema=schema)
    assert result.output == {"n": 7}
    assert scripted_model.requests[2].output_schema == schema
    assert list(temp.iterdir()) == []


async def test_resume_carries_the_history(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([text("first answer"), text("second answer"), text("third answer")])
    thread = ExecCodex(codex_home=codex_home).start_thread(cwd=tmp_path)
    first = await thread.run("first prompt")
    second = await thread.run("second prompt")
    assert second.thread_id == first.thread_id == thread.id
    assert second.turn_id != first.turn_id
    assert thread.id is not None

    again = ExecCodex(codex_home=codex_home).resume_thread(thread.id, cwd=tmp_path)
    third = await again.run("third prompt")
    assert third.thread_id == thread.id
    assert third.final_response == "third answer"
    assert third.usage is not None
    assert third.usage.thread_total_tokens == 45  # exec reports the thread's totals

    requests = scripted_model.requests
    assert "first prompt" in requests[1].user_texts()
    history = requests[2]
    assert history.last_user_text == "third prompt"
    assert {"first prompt", "second prompt"} <= set(history.user_texts())
    said = json.dumps(history.input)
    assert "first answer" in said
    assert "second answer" in said


async def test_thread_options_reach_the_agent(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    scripted_model.add(text("configured"))
    thread = ExecCodex(codex_home=codex_home).start_thread(
        cwd=tmp_path,
        sandbox="workspace-write",
        reasoning_effort="high",
        network_access=True,
        web_search=False,
        additional_directories=[extra],
    )
    await thread.run("check the settings")
    request = scripted_model.requests[0]
    assert request.body["reasoning"]["effort"] == "high"
    assert "web_search" not in request.tools
    context = json.dumps(request.input)  # codex's permissions text and environment
    assert "`sandbox_mode` is `workspace-write`" in context
    assert "Network access is enabled" in context
    assert f"<root>{extra}</root>" in context
    assert f"<cwd>{tmp_path}</cwd>" in context


async def test_web_search_is_offered_live_when_asked(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(text("searching allowed"))
    thread = ExecCodex(codex_home=codex_home).start_thread(cwd=tmp_path, web_search=True)
    await thread.run("may you search?")
    tools = scripted_model.requests[0].body["tools"]
    assert {"type": "web_search", "external_web_access": True} in tools


async def test_local_and_inline_images_reach_the_model(
    scripted_model: ScriptedModel,
    codex_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    temp = _private_tempdir(monkeypatch, tmp_path)
    picture = tmp_path / "dot.png"
    picture.write_bytes(PNG)
    scripted_model.add(text("I see them."))
    thread = ExecCodex(codex_home=codex_home).start_thread(cwd=tmp_path)
    inline = ImageInput.from_bytes(PNG)
    await thread.run(
        [TextInput("What are these?"), LocalImageInput(picture), inline], images=[picture]
    )
    request = scripted_model.requests[0]
    assert request.last_user_text == "What are these?"
    images = request.images()
    assert len(images) == 3
    assert all(url.startswith("data:image/png;base64,") for url in images)
    assert list(temp.iterdir()) == []  # the inline image's file is gone


# -- failures, limits and ending the process ----------------------------------------


async def test_a_failed_turn_raises_with_the_partial_result(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(failure("model overloaded"))
    thread = ExecCodex(codex_home=codex_home).start_thread(cwd=tmp_path)
    async with thread.run_streamed("fail please") as stream:
        events = [event async for event in stream]
    assert any(isinstance(e, StreamError) for e in events)
    assert isinstance(events[-1], TurnFailed)
    assert "model overloaded" in events[-1].error["message"]
    assert stream.result is not None
    assert stream.result.status == "failed"

    scripted_model.add(failure("again"))
    with pytest.raises(TurnFailedError, match="again") as caught:
        await thread.run("and again")
    assert caught.value.result.status == "failed"
    assert caught.value.result.thread_id == thread.id
    assert "again" in caught.value.error["message"]
    assert _children() == []


async def test_a_timeout_kills_the_process_group_at_once(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(stall(30))
    thread = ExecCodex(codex_home=codex_home).start_thread(cwd=tmp_path)
    began = time.monotonic()
    with pytest.raises(CodexTimeoutError):
        await thread.run("hang", timeout=1.0)
    assert time.monotonic() - began < 4.0
    assert _children() == []


async def test_a_silent_turn_hits_the_idle_timeout(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(stall(30))
    codex = ExecCodex(codex_home=codex_home, turn_idle_timeout=0.5)
    with pytest.raises(CodexTimeoutError, match=r"no event for 0\.5 s"):
        await codex.start_thread(cwd=tmp_path).run("hang")
    assert _children() == []


async def test_cancelling_the_run_ends_the_process(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(stall(30))
    thread = ExecCodex(codex_home=codex_home).start_thread(cwd=tmp_path)
    task = asyncio.ensure_future(thread.run("hang"))
    await asyncio.to_thread(scripted_model.wait_for_requests, 1)
    assert _children(), "codex exec should be running"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _children() == []


async def test_leaving_the_stream_early_ends_the_process_group(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(stall(30))
    thread = ExecCodex(codex_home=codex_home).start_thread(cwd=tmp_path)
    async with thread.run_streamed("hang") as stream:
        pid = stream.pid
        assert pid is not None
        async for event in stream:
            if isinstance(event, TurnStarted):
                break
    assert _alive_in_group(pid) == []
    assert _children() == []
    assert stream.result is None

    # Dropped without `async with` or aclose(): the stream ends the process when collected.
    scripted_model.add(stall(30))
    dropped = thread.run_streamed("hang again")
    async for event in dropped:
        if isinstance(event, TurnStarted):
            break
    pid = dropped.pid
    assert pid is not None
    del dropped
    gc.collect()
    await _until(lambda: not _alive_in_group(pid) and not _children())


async def test_a_crash_is_an_exec_error_with_exit_code_and_stderr(tmp_path: Path) -> None:
    fake = _fake_codex(
        tmp_path,
        """echo '{"type":"thread.started","thread_id":"t-1"}'
echo 'fatal: the config is broken' >&2
exit 3""",
    )
    thread = ExecCodex(codex_bin=fake).start_thread()
    with pytest.raises(ExecError) as caught:
        await thread.run("anything")
    assert caught.value.exit_code == 3
    assert "fatal: the config is broken" in caught.value.stderr_tail
    assert "exit code 3" in str(caught.value)
    assert thread.id == "t-1"
    assert _children() == []


async def test_a_line_that_is_not_json_is_an_exec_error(tmp_path: Path) -> None:
    fake = _fake_codex(
        tmp_path,
        """echo '{"type":"thread.started","thread_id":"t-1"}'
echo 'this is not json'
sleep 30""",
    )
    thread = ExecCodex(codex_bin=fake).start_thread()
    began = time.monotonic()
    with pytest.raises(ExecError) as caught:
        await thread.run("anything")
    assert caught.value.line == "this is not json"
    assert time.monotonic() - began < 4.0
    assert _children() == []


# -- the command line, seen by a stand-in binary ------------------------------------

# Answers with its own arguments, and the mode and text of the --output-schema file.
_ECHO_ARGS = r"""
schema=
for arg do
  if [ "$prev" = --output-schema ]; then schema=$arg; fi
  prev=$arg
done
prompt=$(cat)
PYTHON - "$schema" "$prompt" "$@" <<'EOF'
import json, os, sys
schema, prompt, args = sys.argv[1], sys.argv[2], sys.argv[3:]
answer = {"args": args, "prompt": prompt}
if schema:
    answer["mode"] = oct(os.stat(schema).st_mode & 0o777)
    answer["schema"] = json.load(open(schema))
for event in (
    {"type": "thread.started", "thread_id": "t-1"},
    {"type": "turn.started"},
    {"type": "item.completed",
     "item": {"id": "item_0", "type": "agent_message", "text": json.dumps(answer)}},
    {"type": "turn.completed",
     "usage": {"input_tokens": 1, "cached_input_tokens": 0, "output_tokens": 1}},
):
    print(json.dumps(event))
EOF
"""


async def test_the_command_line_of_new_and_resumed_threads(tmp_path: Path) -> None:
    codex = ExecCodex(
        codex_bin=_fake_codex(tmp_path, _ECHO_ARGS.replace("PYTHON", shlex.quote(sys.executable))),
        config={"model_verbosity": "low"},
        model="default-model",
    )
    thread = codex.start_thread(
        cwd=tmp_path,
        model="gpt-x",
        sandbox="workspace-write",
        reasoning_effort="high",
        additional_directories=[tmp_path / "a", "b"],
        network_access=True,
        web_search="cached",
        ephemeral=True,
        config={"features": {"shell_tool": True}},
    )
    result = await thread.run(["-leading dash", "second part"], output_schema={"type": "object"})
    answer = result.output
    assert answer["prompt"] == "-leading dash\nsecond part"
    assert answer["mode"] == "0o600"
    assert answer["schema"] == {"type": "object"}
    args = answer["args"]
    assert args[: args.index("--json")] == [
        "exec",
        "-C",
        str(tmp_path),
        "-s",
        "workspace-write",
        "--add-dir",
        str(tmp_path / "a"),
        "--add-dir",
        "b",
    ]
    assert args[args.index("--json") :] == [
        "--json",
        "--skip-git-repo-check",
        "--ephemeral",
        "-m",
        "gpt-x",
        "-c",
        "mcp_optional_startup_grace_ms=30000",  # codexkit's default: turns wait for MCP
        "-c",
        'model_verbosity="low"',
        "-c",
        "features.shell_tool=true",
        "-c",
        'model_reasoning_effort="high"',
        "-c",
        "sandbox_workspace_write.network_access=true",
        "-c",
        'web_search="cached"',
        "-c",
        'approval_policy="never"',
        "--output-schema",
        args[args.index("--output-schema") + 1],
        "--",
        "-",
    ]
    assert thread.id == "t-1"
    with pytest.raises(CodexError, match="ephemeral"):
        await thread.run("a second turn")

    resumed = codex.resume_thread("t-1", skip_git_repo_check=False, approval_policy=None)
    answer = json.loads((await resumed.run("go on")).final_response or "")
    assert answer["args"] == [
        "exec",
        "resume",
        "--json",
        "-m",
        "default-model",
        "-c",
        "mcp_optional_startup_grace_ms=30000",
        "-c",
        'model_verbosity="low"',
        "--",
        "t-1",
        "-",
    ]
    assert answer["prompt"] == "go on"


# What exec prints for the item kinds the scripted model cannot make it produce (shapes
# from codex's exec_events.rs).
_ADDED = [{"path": "a.py", "kind": "add"}]


def _line(event: str, item_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": event, "item": {"id": item_id, "type": kind, **fields}}


_EVERY_KIND = [
    {"type": "thread.started", "thread_id": "t-9"},
    {"type": "turn.started"},
    _line("item.started", "item_0", "todo_list", items=[{"text": "look", "completed": False}]),
    _line("item.updated", "item_0", "todo_list", items=[{"text": "look", "completed": True}]),
    _line("item.completed", "item_1", "reasoning", text="hmm"),
    _line("item.started", "item_2", "file_change", changes=_ADDED, status="in_progress"),
    _line("item.updated", "item_2", "file_change", changes=_ADDED, status="in_progress"),
    _line("item.completed", "item_2", "file_change", changes=_ADDED, status="completed"),
    _line(
        "item.completed",
        "item_3",
        "mcp_tool_call",
        server="docs",
        tool="search",
        arguments={"q": "x"},
        result={"content": [], "structured_content": None},
        error=None,
        status="completed",
    ),
    _line("item.completed", "item_4", "web_search", query="codex"),
    _line("item.completed", "item_5", "collab_tool_call"),
    _line("item.completed", "item_6", "error", message="careful"),
    _line("item.completed", "item_7", "agent_message", text="done"),
    {"type": "something.new"},
    {
        "type": "turn.completed",
        "usage": {"input_tokens": 3, "cached_input_tokens": 1, "output_tokens": 2},
    },
]


async def test_every_exec_event_and_item_kind_maps_onto_the_sdk_types(tmp_path: Path) -> None:
    lines = "\n".join(json.dumps(event) for event in _EVERY_KIND)
    fake = _fake_codex(tmp_path, f"cat <<'EOF'\n{lines}\nEOF")
    thread = ExecCodex(codex_bin=fake).start_thread()
    async with thread.run_streamed("show me everything") as stream:
        events = [event async for event in stream]
    assert [(type(e).__name__, e.method) for e in events] == [
        ("Notification", "thread.started"),
        ("TurnStarted", "turn.started"),
        ("PlanUpdated", "item.started"),
        ("PlanUpdated", "item.updated"),
        ("ItemCompleted", "item.completed"),
        ("ItemStarted", "item.started"),
        ("Notification", "item.updated"),
        ("ItemCompleted", "item.completed"),
        ("ItemCompleted", "item.completed"),
        ("ItemCompleted", "item.completed"),
        ("ItemCompleted", "item.completed"),
        ("Notification", "item.completed"),
        ("ItemCompleted", "item.completed"),
        ("Notification", "something.new"),
        ("TurnCompleted", "turn.completed"),
    ]
    assert [e.raw for e in events] == _EVERY_KIND  # one line, one event
    plans = [e for e in events if isinstance(e, PlanUpdated)]
    assert [[(s.step, s.status) for s in p.plan] for p in plans] == [
        [("look", "pending")],
        [("look", "completed")],
    ]
    result = stream.result
    assert result is not None
    assert result.thread_id == "t-9"
    assert [item.type for item in result.items] == [
        "reasoning",
        "fileChange",
        "mcpToolCall",
        "webSearch",
        "collabToolCall",
        "agentMessage",
    ]
    reasoning, change, mcp, search, unknown, _ = result.items
    assert isinstance(reasoning, ReasoningItem)
    assert reasoning.summary == ["hmm"]
    assert isinstance(change, FileChangeItem)
    assert (change.status, change.changes) == ("completed", [FileChange("a.py", "add", "")])
    assert isinstance(mcp, McpToolCallItem)
    assert (mcp.server, mcp.tool, mcp.arguments, mcp.status) == (
        "docs",
        "search",
        {"q": "x"},
        "completed",
    )
    assert isinstance(search, WebSearchItem)
    assert search.query == "codex"
    assert isinstance(unknown, UnknownItem)
    assert unknown.raw == {"id": "item_5", "type": "collab_tool_call"}
    assert result.final_response == "done"
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.cached_input_tokens) == (3, 1)
    assert (result.usage.output_tokens, result.usage.total_tokens) == (2, 5)


async def test_one_run_at_a_time_per_thread(tmp_path: Path) -> None:
    thread = ExecCodex(codex_bin=_fake_codex(tmp_path, "sleep 30")).start_thread()
    async with thread.run_streamed("first"):
        with pytest.raises(CodexError, match="already has turn"):
            await thread.run("second")
    assert _children() == []


async def test_a_remote_image_url_is_refused(tmp_path: Path) -> None:
    thread = ExecCodex(codex_bin=_fake_codex(tmp_path, "exit 0")).start_thread()
    with pytest.raises(ValueError, match="image files only"):
        await thread.run(["Look", ImageInput("https://example.com/cat.png")])
