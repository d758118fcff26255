"""MCP without a server: declaring servers, and what a turn makes of MCP notifications."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codexkit import AsyncCodex, Codex, InvalidArgumentError, McpHttpServer, McpStdioServer
from codexkit._client.turn import AsyncTurn
from codexkit.events import McpToolCallProgress
from codexkit.mcp import mcp_servers_config
from codexkit.types import McpToolCallItem


def test_servers_become_the_runtimes_settings(tmp_path: Path) -> None:
    table = mcp_servers_config(
        {
            "db": McpStdioServer(
                "python",
                ["db.py"],
                env={"DB": "x"},
                cwd=tmp_path,
                tool_timeout=5,
                enabled_tools=["query"],
                tool_approval="approve",
            ),
            "web": McpHttpServer(
                "https://example.test/mcp",
                bearer_token_env_var="WEB_TOKEN",
                headers={"X-Team": "a"},
                env_headers={"X-Key": "WEB_KEY"},
                enabled=False,
            ),
        }
    )
    assert table == {
        "db": {
            "command": "python",
            "args": ["db.py"],
            "env": {"DB": "x"},
            "cwd": str(tmp_path),
            "enabled": True,
            "tool_timeout_sec": 5,
            "enabled_tools": ["query"],
            "default_tools_approval_mode": "approve",
        },
        "web": {
            "url": "https://example.test/mcp",
            "bearer_token_env_var": "WEB_TOKEN",
            "http_headers": {"X-Team": "a"},
            "env_http_headers": {"X-Key": "WEB_KEY"},
            "enabled": False,
        },
    }


@pytest.mark.parametrize(
    ("servers", "message"),
    [
        ({"bad name": McpStdioServer("x")}, "letters, digits"),
        ({"kit": McpStdioServer("  ")}, "command"),
        ({"kit": McpStdioServer("x", args="a b")}, "args"),
        ({"kit": McpStdioServer("x", startup_timeout=0)}, "startup_timeout"),
        ({"kit": McpStdioServer("x", tool_approval="always")}, "tool_approval"),  # type: ignore[arg-type]
        ({"kit": McpStdioServer("x", cwd="/no/such/dir")}, "cwd"),
        ({"kit": McpHttpServer("ftp://host/mcp")}, "url"),
        ({"kit": McpHttpServer("https://h/mcp", bearer_token_env_var="sk-abc 123")}, "names"),
        ({"kit": {"command": "x"}}, "McpStdioServer or McpHttpServer"),
    ],
)
def test_bad_entries_are_refused_before_anything_starts(
    servers: Any, message: str, tmp_path: Path
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        AsyncCodex(codex_home=tmp_path, mcp_servers=servers)
    with pytest.raises(InvalidArgumentError, match=message):
        Codex(codex_home=tmp_path, mcp_servers=servers)


def _turn() -> AsyncTurn:
    codex = AsyncCodex()
    turn = AsyncTurn(codex._router, "t", idle_timeout=5, max_buffered_events=None)
    turn.id = "u"
    return turn


async def test_progress_is_in_the_stream_and_kept_on_the_item() -> None:
    # codex 0.163 does not pass an MCP server's progress on for calls the model makes
    # (measured); newer runtimes send item/mcpToolCall/progress, played here.
    turn = _turn()
    ids = {"threadId": "t", "turnId": "u"}
    item = {"type": "mcpToolCall", "id": "c1", "server": "kit", "tool": "count"}
    turn._feed("item/started", {**ids, "item": {**item, "status": "inProgress"}}, {})
    for n in (1, 2):
        turn._feed("item/mcpToolCall/progress", {**ids, "itemId": "c1", "message": f"s{n}"}, {})
    done = {**item, "status": "completed", "durationMs": 12, "result": {"content": []}}
    turn._feed("item/completed", {**ids, "item": done}, {})
    turn._feed("turn/completed", {"threadId": "t", "turn": {"id": "u", "status": "completed"}}, {})
    progress = [event async for event in turn if isinstance(event, McpToolCallProgress)]
    result = await turn.run()
    assert [(p.item_id, p.message) for p in progress] == [("c1", "s1"), ("c1", "s2")]
    [call] = result.items
    assert isinstance(call, McpToolCallItem)
    assert call.progress == ("s1", "s2")
    assert call.duration_ms == 12
