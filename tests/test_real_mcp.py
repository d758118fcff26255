"""MCP servers with the real binary, the scripted model and real MCP servers (the `mcp`
package, over stdio and over streamable HTTP on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codexkit import AsyncCodex, Codex, McpHttpServer, McpStdioServer
from codexkit.approvals import ApprovalPolicy, ElicitationRequest, McpToolCallApprovalRequest
from codexkit.errors import InvalidRequestError, RpcError
from codexkit.events import Event, McpServerStartupUpdated
from codexkit.testing import ScriptedModel, mcp_tool_call, text
from codexkit.types import McpToolCallItem

pytestmark = pytest.mark.real

SERVER = Path(__file__).parent / "support" / "mcp_server.py"


def stdio(*extra: str, **options: Any) -> McpStdioServer:
    """The test server over stdio; its tools run without asking unless told otherwise."""
    options.setdefault("tool_approval", "approve")
    return McpStdioServer(sys.executable, [str(SERVER), "stdio", *extra], **options)


def outputs(model: ScriptedModel, request: int = 1) -> str:
    """What the agent sent the model back after its tool calls, as text."""
    return str(model.requests[request].function_call_outputs())


@pytest.fixture
def http_server() -> Iterator[str]:
    """The test server over streamable HTTP, guarded by a bearer token; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, str(SERVER), "http", str(port), "s3cret-token"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the HTTP MCP server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_stdio_tool_result_reaches_the_model_and_the_items(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([mcp_tool_call("kit", "add", {"a": 2, "b": 3}), text("It is 5.")])
    async with AsyncCodex(
        codex_home=codex_home, cwd=tmp_path, mcp_servers={"kit": stdio()}
    ) as codex:
        thread = await codex.start_thread()
        # At once: the first turn waits for the server, or the model would not see it.
        result = await thread.run("add 2 and 3", timeout=60)
    assert result.final_response == "It is 5."
    [call] = [item for item in result.items if isinstance(item, McpToolCallItem)]
    assert (call.server, call.tool, call.arguments) == ("kit", "add", {"a": 2, "b": 3})
    assert call.status == "completed"
    assert call.error is None
    assert call.result["content"] == [{"type": "text", "text": "5"}]
    assert call.duration_ms is not None
    assert "5" in outputs(scripted_model)
    offered = [tool.get("name") for tool in scripted_model.requests[0].body["tools"]]
    assert "mcp__kit" in offered


async def test_a_slow_server_is_waited_for_before_the_first_turn(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([mcp_tool_call("kit", "add", {"a": 1, "b": 1}), text("2")])
    slow = stdio("--slow-start", "2")
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread(mcp_servers={"kit": slow})
        result = await thread.run("add", timeout=60)
    [call] = [item for item in result.items if isinstance(item, McpToolCallItem)]
    assert call.status == "completed"
    assert "2" in outputs(scripted_model)


@pytest.mark.parametrize("where", ["client", "thread"])
async def test_a_server_someone_else_started_waits_for_the_mcp_servers_too(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path, where: str
) -> None:
    from codexkit import find_codex

    scripted_model.extend([mcp_tool_call("kit", "add", {"a": 3, "b": 3}), text("6")])
    servers = {"kit": stdio("--slow-start", "2")}
    socket_path = tmp_path / "app-server.sock"
    binary = find_codex()
    process = subprocess.Popen(
        [binary.path, "app-server", "--listen", f"unix://{socket_path}"],
        env=binary.child_env({"CODEX_HOME": str(codex_home)}),
        cwd=tmp_path,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        client_servers = servers if where == "client" else None
        async with AsyncCodex(connect=f"unix://{socket_path}", mcp_servers=client_servers) as codex:
            thread = await codex.start_thread(
                cwd=tmp_path, mcp_servers=servers if where == "thread" else None
            )
            result = await thread.run("add", timeout=60)
    finally:
        process.terminate()
        process.wait(timeout=10)
    [call] = [item for item in result.items if isinstance(item, McpToolCallItem)]
    assert call.status == "completed"


async def test_http_server_with_a_bearer_token_from_the_environment(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path, http_server: str
) -> None:
    scripted_model.extend([mcp_tool_call("web", "add", {"a": 20, "b": 22}), text("42")])
    server = McpHttpServer(http_server, bearer_token_env_var="KIT_TOKEN", tool_approval="approve")
    async with AsyncCodex(
        codex_home=codex_home,
        cwd=tmp_path,
        env={"KIT_TOKEN": "s3cret-token"},
        mcp_servers={"web": server},
    ) as codex:
        [status] = await codex.mcp.status()
        thread = await codex.start_thread()
        result = await thread.run("add", timeout=60)
    assert status.name == "web"
    assert status.error is None
    assert status.auth_status == "bearerToken"
    assert set(status.tools) >= {"add", "boom", "greet"}
    [call] = [item for item in result.items if isinstance(item, McpToolCallItem)]
    assert call.status == "completed"
    assert "42" in outputs(scripted_model)


async def test_http_server_without_its_token_is_reported_and_the_turn_runs(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path, http_server: str
) -> None:
    scripted_model.add(text("done anyway"))
    server = McpHttpServer(http_server, bearer_token_env_var="KIT_TOKEN")
    async with AsyncCodex(
        codex_home=codex_home,
        cwd=tmp_path,
        env={"KIT_TOKEN": "wrong"},
        mcp_servers={"web": server},
    ) as codex:
        thread = await codex.start_thread()
        result = await thread.run("hi", timeout=60)
        [status] = await codex.mcp.status(thread=thread)
    assert result.status == "completed"
    assert status.error
    assert status.tools == {}


async def test_a_tool_that_raises_is_an_item_and_the_turn_goes_on(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend(
        [mcp_tool_call("kit", "boom", {"reason": "disk on fire"}), text("it failed")]
    )
    async with AsyncCodex(
        codex_home=codex_home, cwd=tmp_path, mcp_servers={"kit": stdio()}
    ) as codex:
        thread = await codex.start_thread()
        result = await thread.run("boom", timeout=60)
    assert result.status == "completed"
    assert result.final_response == "it failed"
    [call] = [item for item in result.items if isinstance(item, McpToolCallItem)]
    assert call.result is not None or call.error is not None
    assert "Error executing tool boom" in str(call.result or call.error)
    assert "Error executing tool boom" in outputs(scripted_model)  # the model is told


async def test_a_server_that_fails_to_start(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(text("no tools, still here"))
    broken = McpStdioServer(str(tmp_path / "no-such-program"))
    events: list[Event] = []
    async with AsyncCodex(
        codex_home=codex_home, cwd=tmp_path, mcp_servers={"broken": broken, "kit": stdio()}
    ) as codex:
        codex.add_listener(events.append)  # what arrives outside the turn
        thread = await codex.start_thread()
        turn = await thread.turn("hi")
        events += [event async for event in turn]
        statuses = {s.name: s for s in await codex.mcp.status(thread=thread)}
    assert turn.result is not None
    assert turn.result.status == "completed"
    assert statuses["broken"].status == "failed"
    assert "No such file" in str(statuses["broken"].error)
    assert statuses["kit"].status == "connected"
    assert statuses["kit"].error is None
    startup = [e for e in events if isinstance(e, McpServerStartupUpdated)]
    failed = [e for e in startup if e.server == "broken" and e.status == "failed"]
    assert failed
    assert "No such file" in str(failed[0].error)
    assert any(e.server == "kit" and e.status == "ready" for e in startup)


# -- approvals before a tool runs --------------------------------------------------------


@pytest.mark.parametrize(
    ("decision", "expected_status", "asked"),
    [("accept", "completed", 2), ("decline", "failed", 2), ("acceptForSession", "completed", 1)],
)
async def test_mcp_tool_call_approval_goes_through_the_policy(
    scripted_model: ScriptedModel,
    codex_home: Path,
    tmp_path: Path,
    decision: str,
    expected_status: str,
    asked: int,
) -> None:
    scripted_model.extend(
        [
            mcp_tool_call("kit", "add", {"a": 1, "b": 2}),
            mcp_tool_call("kit", "add", {"a": 3, "b": 4}),
            text("done"),
        ]
    )
    seen: list[McpToolCallApprovalRequest] = []

    def decide(request: McpToolCallApprovalRequest) -> str:
        seen.append(request)
        return decision

    policy = ApprovalPolicy.custom(on_mcp_tool_call=decide)
    server = stdio(tool_approval=None)  # the runtime asks for tools not marked read-only
    async with AsyncCodex(
        codex_home=codex_home, cwd=tmp_path, approval_policy=policy, mcp_servers={"kit": server}
    ) as codex:
        thread = await codex.start_thread()
        result = await thread.run("add twice", timeout=60)
    calls = [item for item in result.items if isinstance(item, McpToolCallItem)]
    assert [c.status for c in calls] == [expected_status] * 2
    assert len(seen) == asked
    first = seen[0]
    assert (first.server, first.tool, first.arguments) == ("kit", "add", {"a": 1, "b": 2})
    assert first.item_id == calls[0].id
    assert first.turn_id == result.turn_id
    assert "session" in first.remember


async def test_the_default_policy_declines_mcp_tool_calls(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([mcp_tool_call("kit", "add", {"a": 1, "b": 2}), text("declined")])
    async with AsyncCodex(
        codex_home=codex_home,
        cwd=tmp_path,
        approval_policy="on-request",
        mcp_servers={"kit": stdio(tool_approval="prompt")},
    ) as codex:
        thread = await codex.start_thread()
        result = await thread.run("add", timeout=60)
    [call] = [item for item in result.items if isinstance(item, McpToolCallItem)]
    assert call.status == "failed"
    assert "rejected" in str(call.error)


# -- elicitation ---------------------------------------------------------------------------


ANSWERS: list[tuple[Any, str]] = [
    ({"name": "Ada"}, "hello Ada"),
    ("decline", "no name (decline)"),
    ("cancel", "no name (cancel)"),
    (None, "no name (decline)"),
]


@pytest.mark.parametrize(("answer", "tool_says"), ANSWERS)
async def test_elicitation_reaches_the_handler_async(
    scripted_model: ScriptedModel,
    codex_home: Path,
    tmp_path: Path,
    answer: Any,
    tool_says: str,
) -> None:
    scripted_model.extend([mcp_tool_call("kit", "greet"), text("greeted")])
    asked: list[ElicitationRequest] = []

    async def on_elicitation(request: ElicitationRequest) -> Any:
        asked.append(request)
        return answer

    policy = ApprovalPolicy.custom(on_elicitation=on_elicitation)
    async with AsyncCodex(
        codex_home=codex_home, cwd=tmp_path, approval_policy=policy, mcp_servers={"kit": stdio()}
    ) as codex:
        thread = await codex.start_thread()
        result = await thread.run("greet me", timeout=60)
    [request] = asked
    assert (request.server_name, request.mode) == ("kit", "form")
    assert request.message == "What is your name?"
    assert request.thread_id == thread.id
    assert request.turn_id == result.turn_id
    assert "name" in request.requested_schema["properties"]
    assert tool_says in outputs(scripted_model)


@pytest.mark.parametrize(("answer", "tool_says"), ANSWERS)
def test_elicitation_reaches_the_handler_sync(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path, answer: Any, tool_says: str
) -> None:
    scripted_model.extend([mcp_tool_call("kit", "greet"), text("greeted")])
    asked: list[ElicitationRequest] = []

    def on_elicitation(request: ElicitationRequest) -> Any:  # a plain function, on its thread
        asked.append(request)
        return answer

    policy = ApprovalPolicy.custom(on_elicitation=on_elicitation)
    with Codex(
        codex_home=codex_home, cwd=tmp_path, approval_policy=policy, mcp_servers={"kit": stdio()}
    ) as codex:
        result = codex.start_thread().run("greet me", timeout=60)
    assert result.status == "completed"
    assert [r.message for r in asked] == ["What is your name?"]
    assert tool_says in outputs(scripted_model)


def test_elicitation_is_declined_by_default_sync(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([mcp_tool_call("kit", "greet"), text("greeted")])
    with Codex(codex_home=codex_home, cwd=tmp_path, mcp_servers={"kit": stdio()}) as codex:
        codex.start_thread().run("greet me", timeout=60)
    assert "no name (decline)" in outputs(scripted_model)


# -- codex.mcp: status, tools and resources without the model --------------------------------


async def test_call_tool_and_read_resource(codex_home: Path, tmp_path: Path) -> None:
    async with AsyncCodex(
        codex_home=codex_home, cwd=tmp_path, mcp_servers={"kit": stdio()}
    ) as codex:
        added, contents = await asyncio.gather(
            codex.mcp.call_tool("kit", "add", {"a": 40, "b": 2}),
            codex.mcp.read_resource("kit", "memo://greeting"),
        )
        failed = await codex.mcp.call_tool("kit", "boom", {"reason": "test"})
        [status] = await codex.mcp.status()
        with pytest.raises(RpcError, match="nope"):
            await codex.mcp.call_tool("nope", "add", {})
    assert added.text == "42"
    assert added.structured_content == {"result": 42}
    assert not added.is_error
    assert failed.is_error
    assert "boom" in failed.text
    [content] = contents
    assert (content.uri, content.text) == ("memo://greeting", "hello from the test server")
    assert status.tools["add"].input_schema["required"] == ["a", "b"]
    assert [r["uri"] for r in status.resources] == ["memo://greeting"]


def test_call_tool_and_read_resource_sync(codex_home: Path, tmp_path: Path) -> None:
    with Codex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = codex.start_thread(mcp_servers={"kit": stdio()})
        assert codex.mcp.call_tool("kit", "add", {"a": 1, "b": 1}, thread=thread).text == "2"
        [content] = codex.mcp.read_resource("kit", "memo://greeting", thread=thread)
        [status] = codex.mcp.status(thread=thread)
        assert codex.mcp.status() == []  # the thread's own server is not the client's
    assert content.text == "hello from the test server"
    assert status.name == "kit"
    assert status.status == "connected"


async def test_reload_reads_servers_added_to_the_config(codex_home: Path, tmp_path: Path) -> None:
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        assert await codex.mcp.status() == []
        server = stdio().to_config("kit")
        await codex.settings.write("mcp_servers.kit", server)
        await codex.mcp.reload()
        [status] = await codex.mcp.status()
        thread = await codex.start_thread()
        added = await codex.mcp.call_tool("kit", "add", {"a": 2, "b": 2}, thread=thread)
    assert status.name == "kit"
    assert "add" in status.tools
    assert added.text == "4"


async def test_oauth_login_passes_the_runtimes_answer_through(
    codex_home: Path, tmp_path: Path
) -> None:
    async with AsyncCodex(
        codex_home=codex_home, cwd=tmp_path, mcp_servers={"kit": stdio()}
    ) as codex:
        with pytest.raises(InvalidRequestError, match="only supported for streamable HTTP"):
            await codex.mcp.oauth_login("kit")
        with pytest.raises(InvalidRequestError, match="No MCP server named 'nope'"):
            await codex.mcp.oauth_login("nope")


# -- the one-shot engine ---------------------------------------------------------------------


async def test_exec_engine_gives_threads_the_servers(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    from codexkit.exec import ExecCodex

    scripted_model.extend([mcp_tool_call("kit", "add", {"a": 4, "b": 5}), text("9")])
    codex = ExecCodex(codex_home=codex_home, mcp_servers={"kit": stdio()})
    result = await codex.start_thread(cwd=tmp_path).run("add", timeout=60)
    [call] = [item for item in result.items if isinstance(item, McpToolCallItem)]
    assert (call.server, call.tool, call.status) == ("kit", "add", "completed")
    assert "9" in outputs(scripted_model)
