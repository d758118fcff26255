"""codexkit.testing against the real codex binary, and its pytest plugin."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

import pytest

from codexkit import find_codex
from codexkit.testing import NO_REPLY_MESSAGE, ScriptedModel, failure, shell, text, tool_call

pytest_plugins = ("pytester",)


def codex_exec(home: Path, workdir: Path, prompt: str) -> list[dict[str, Any]]:
    """Run one ``codex exec --json`` turn; return its JSONL events."""
    binary = find_codex()
    command = [binary.path, "exec", "--json", "--skip-git-repo-check", "-C", str(workdir), prompt]
    done = subprocess.run(
        command,
        env=binary.child_env({"CODEX_HOME": str(home)}),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def agent_messages(events: list[dict[str, Any]]) -> list[str]:
    items = [e["item"] for e in events if e["type"] == "item.completed"]
    return [i["text"] for i in items if i["type"] == "agent_message"]


@pytest.mark.real
def test_exec_turn_with_a_text_reply(tmp_path: Path) -> None:
    with ScriptedModel() as model:
        model.add(text("Hello from the script"))
        events = codex_exec(model.codex_home(tmp_path / "home"), tmp_path, "Say hello")
    assert agent_messages(events) == ["Hello from the script"]
    assert events[-1]["type"] == "turn.completed"
    assert events[-1]["usage"]["input_tokens"] == 10
    (request,) = model.requests
    assert request.last_user_text == "Say hello"
    assert request.model == "mock-model"
    assert "exec_command" in request.tools
    assert any(t.startswith("<environment_context>") for t in request.user_texts())


@pytest.mark.real
def test_exec_turn_with_a_command(tmp_path: Path) -> None:
    with ScriptedModel() as model:
        model.add(text("Let me run it.") + shell("echo hi"))  # one response, two items
        model.add(text("It printed hi."))
        events = codex_exec(model.codex_home(tmp_path / "home"), tmp_path, "Run echo")
    assert agent_messages(events) == ["Let me run it.", "It printed hi."]
    first, second = model.requests
    assert first.function_call_outputs() == []
    assert second.last_user_text == "Run echo"  # still the turn's prompt
    (call,) = second.function_calls()
    (output,) = second.function_call_outputs()
    assert output["call_id"] == call["call_id"]
    assert "hi" in output["output"]


@pytest.mark.real
@pytest.mark.parametrize(
    ("script", "message"),
    [([failure("the model fell over")], "the model fell over"), ([], NO_REPLY_MESSAGE)],
    ids=["failure", "no-reply-left"],
)
def test_exec_turn_fails_fast(tmp_path: Path, script: list[Any], message: str) -> None:
    with ScriptedModel() as model:
        model.extend(script)
        events = codex_exec(model.codex_home(tmp_path / "home"), tmp_path, "Try")
    failed = [e for e in events if e["type"] == "turn.failed"]
    assert failed
    assert message in failed[0]["error"]["message"]


class AppServer:
    """Just enough of a JSON-RPC client over ``codex app-server`` stdio for one test."""

    def __init__(self, home: Path, cwd: Path) -> None:
        binary = find_codex()
        self.proc = subprocess.Popen(
            [binary.path, "app-server"],
            env=binary.child_env({"CODEX_HOME": str(home)}),
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        assert self.proc.stdout is not None
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()

    def _read(self, stdout: IO[str]) -> None:
        for line in stdout:
            self.messages.put(json.loads(line))

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def next(self, timeout: float = 20.0) -> dict[str, Any]:
        return self.messages.get(timeout=timeout)

    def call(self, request_id: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.send({"id": request_id, "method": method, "params": params})
        while (message := self.next()).get("id") != request_id or "method" in message:
            pass
        assert "result" in message, message
        result: dict[str, Any] = message["result"]
        return result

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.mark.real
def test_tool_call_reaches_the_client_as_a_dynamic_tool_call(tmp_path: Path) -> None:
    add = {
        "type": "function",
        "name": "add",
        "description": "Add two numbers.",
        "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}}},
    }
    with ScriptedModel() as model:
        model.extend([tool_call("add", {"a": 1, "b": 2}, call_id="call-add"), text("3")])
        server = AppServer(model.codex_home(tmp_path / "home"), tmp_path)
        try:
            client = {"name": "t", "title": None, "version": "0"}
            capabilities = {"experimentalApi": True}
            server.call("c1", "initialize", {"clientInfo": client, "capabilities": capabilities})
            server.send({"method": "initialized"})
            thread = server.call("c2", "thread/start", {"dynamicTools": [add]})["thread"]
            prompt = [{"type": "text", "text": "Add 1 and 2"}]
            server.call("c3", "turn/start", {"threadId": thread["id"], "input": prompt})
            while (message := server.next()).get("method") != "item/tool/call":
                pass
            assert message["params"]["tool"] == "add"
            assert message["params"]["arguments"] == {"a": 1, "b": 2}
            assert message["params"]["callId"] == "call-add"
            answer = {"success": True, "contentItems": [{"type": "inputText", "text": "sum=3"}]}
            server.send({"id": message["id"], "result": answer})
            while (message := server.next()).get("method") != "turn/completed":
                pass
            assert message["params"]["turn"]["status"] == "completed"
        finally:
            server.close()
    first, second = model.requests
    assert "add" in first.tools
    assert second.function_call_outputs()[0]["output"] == "sum=3"


def test_pytest_plugin_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import urllib.request
        from codexkit.testing import text

        def test_fixtures(scripted_model, codex_home):
            config = (codex_home / "config.toml").read_text()
            assert scripted_model.url in config
            assert 'approval_policy = "never"' in config
            assert 'sandbox_mode = "read-only"' in config
            scripted_model.add(text("hi"))
            request = urllib.request.Request(scripted_model.url + "/responses", data=b"{}")
            with urllib.request.urlopen(request, timeout=5) as response:
                assert b"response.completed" in response.read()
            assert len(scripted_model.requests) == 1
        """
    )
    # Load the plugin by module whether or not codexkit's entry point is installed.
    plugin = ("-p", "no:codexkit", "-p", "codexkit.testing.pytest_plugin")
    result = pytester.runpytest(*plugin, "-p", "no:asyncio")
    result.assert_outcomes(passed=1)


_ASYNC_TESTS = """
import asyncio

RUNS = []

async def test_awaits_with_the_fixtures(scripted_model, codex_home):
    RUNS.append(asyncio.get_running_loop())
    assert len(RUNS) == 1  # run once, by one runner
    assert scripted_model.url in (codex_home / "config.toml").read_text()

async def test_a_failing_assert_fails(scripted_model):
    await asyncio.sleep(0)
    assert False, "the body ran"
"""


def test_plugin_runs_async_tests_that_use_its_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(_ASYNC_TESTS)
    plugin = ("-p", "no:codexkit", "-p", "codexkit.testing.pytest_plugin")
    result = pytester.runpytest_subprocess(*plugin, "-p", "no:asyncio")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: the body ran*"])


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_plugin_leaves_to_pytest_asyncio_what_it_runs(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(_ASYNC_TESTS)
    plugin = ("-p", "no:codexkit", "-p", "codexkit.testing.pytest_plugin")
    result = pytester.runpytest_subprocess(
        *plugin, "-o", f"asyncio_mode={mode}", "-o", "asyncio_default_fixture_loop_scope=function"
    )
    result.assert_outcomes(passed=1, failed=1)
