"""``codexkit mcp``: the agent's MCP servers; and ``--mcp NAME=COMMAND``, which adds one
to a command (``run``, ``mcp status``)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ..errors import InvalidArgumentError
from ..mcp import McpHttpServer, McpServer, McpServerStatus, McpStdioServer, mcp_servers_config
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    CodexHomeOption,
    DebugOption,
    JsonOption,
    execute,
    out,
    require_codex_home,
)

__all__ = ["McpOption", "mcp_app", "parse_mcp"]

McpOption = Annotated[
    list[str] | None,
    typer.Option(
        "--mcp",
        metavar="NAME=COMMAND",
        help=(
            "Give the agent an MCP server: NAME=COMMAND starts COMMAND (split as a shell "
            "would) and talks to it over stdio; NAME=URL reaches a streamable HTTP server. "
            "Repeat for more."
        ),
    ),
]


def parse_mcp(values: list[str] | None) -> dict[str, McpServer]:
    """The ``--mcp`` values as servers by name (a bad one is a usage error)."""
    servers: dict[str, McpServer] = {}
    for value in values or []:
        name, _, spec = value.partition("=")
        name, spec = name.strip(), spec.strip()
        if not name or not spec:
            raise typer.BadParameter(f"{value!r} is not NAME=COMMAND", param_hint="--mcp")
        if name in servers:
            raise typer.BadParameter(f"two servers are named {name!r}", param_hint="--mcp")
        if spec.startswith(("http://", "https://")):
            servers[name] = McpHttpServer(spec)
            continue
        try:
            command, *args = shlex.split(spec)
        except ValueError as exc:
            raise typer.BadParameter(f"{value!r}: {exc}", param_hint="--mcp") from None
        servers[name] = McpStdioServer(command, args)
    try:
        mcp_servers_config(servers)
    except InvalidArgumentError as exc:
        raise typer.BadParameter(str(exc), param_hint="--mcp") from None
    return servers


mcp_app = typer.Typer(
    name="mcp",
    help="The agent's MCP servers: the configured ones and those given with --mcp.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@mcp_app.command()
def status(
    mcp: McpOption = None,
    cwd: Annotated[
        Path | None,
        typer.Option("--cwd", "-C", exists=True, file_okay=False, help="Directory to run in."),
    ] = None,
    as_json: JsonOption = False,
    codex_home: CodexHomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Start the MCP servers and list them with their tools, or why they failed.

    Exit codes: 0 every server is up, 1 one or more failed.
    """
    servers = parse_mcp(mcp)

    async def main() -> int:
        from .._client.client import AsyncCodex

        async with AsyncCodex(
            codex_home=require_codex_home(codex_home), cwd=cwd, mcp_servers=servers
        ) as codex:
            statuses = await codex.mcp.status()
        if as_json:
            out.print_json(data=[s.raw for s in statuses])
        elif not statuses:
            out.print("No MCP server is configured (add one with --mcp NAME=COMMAND).")
        else:
            out.print(_table(statuses))
        return EXIT_FAILED if any(s.error for s in statuses) else EXIT_OK

    execute(main, debug=debug)


def _table(statuses: list[McpServerStatus]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("SERVER", style="cyan", no_wrap=True)
    table.add_column("STATE", no_wrap=True)
    table.add_column("AUTH", style="dim", no_wrap=True)
    table.add_column("TOOLS")
    for server in statuses:
        if server.error:
            state = Text("failed", style="bold red")
            tools = Text(server.error, style="red")
        else:
            state = Text("ready", style="green")
            tools = Text(", ".join(sorted(server.tools)) or "(none)")
        if server.resources:
            tools.append(f"  +{len(server.resources)} resources", style="dim")
        table.add_row(server.name, state, server.auth_status, tools)
    return table
