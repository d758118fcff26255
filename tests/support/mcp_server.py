"""A real MCP server for the tests, written with the `mcp` package.

    python mcp_server.py stdio [--slow-start SECONDS]
    python mcp_server.py http PORT [TOKEN]   # streamable HTTP on 127.0.0.1:PORT/mcp

Over HTTP with a TOKEN, requests without ``Authorization: Bearer TOKEN`` get 401.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("testkit")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def boom(reason: str) -> str:
    """Always fails, with `reason`."""
    raise ValueError(f"kaput: {reason}")


@server.tool()
async def count(n: int, ctx: Context) -> str:
    """Count to n, reporting progress on the way."""
    for step in range(1, n + 1):
        await ctx.report_progress(step, n, f"step {step} of {n}")
    return f"counted to {n}"


# Written by hand: codex 0.163 cancels, without asking its client, an elicitation whose
# schema has a top-level "title", as the schemas `ctx.elicit` makes from a model do.
NAME_FORM = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


@server.tool()
async def greet(ctx: Context) -> str:
    """Ask the user for a name and greet them."""
    session = ctx.request_context.session
    answer = await session.elicit_form("What is your name?", NAME_FORM, ctx.request_id)
    if answer.action == "accept" and answer.content:
        return f"hello {answer.content['name']}"
    return f"no name ({answer.action})"


@server.resource("memo://greeting")
def greeting() -> str:
    """A short greeting."""
    return "hello from the test server"


def _bearer_only(app: Any, token: str) -> Any:
    """``app`` answering 401 to requests without the bearer token."""

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if headers.get(b"authorization") != f"Bearer {token}".encode():
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
        await app(scope, receive, send)

    return guarded


def main() -> None:
    if sys.argv[1] == "stdio":
        if "--slow-start" in sys.argv:
            time.sleep(float(sys.argv[sys.argv.index("--slow-start") + 1]))
        server.run()
        return
    import uvicorn

    port = int(sys.argv[2])
    app = server.streamable_http_app(host="127.0.0.1")
    if len(sys.argv) > 3:
        app = _bearer_only(app, sys.argv[3])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
