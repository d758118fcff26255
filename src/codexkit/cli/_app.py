"""The ``codexkit`` command: the typer application and its commands."""

from __future__ import annotations

from typing import Annotated

import typer

from .._runtime.binary import PINNED_VERSION
from .._version import __version__
from ._account import login, logout, whoami
from ._batch import batch_app
from ._common import CodexHomeOption, DebugOption, execute, out
from ._demo import demo
from ._doctor import doctor
from ._mcp import McpOption, mcp_app, parse_mcp
from ._models import models
from ._run import (
    ApprovalOption,
    CwdOption,
    EngineOption,
    ImageOption,
    JsonEventsOption,
    ModelOption,
    RunRequest,
    SandboxOption,
    SchemaOption,
    read_prompt,
    read_schema,
    run_turn,
)
from ._serve import serve
from ._threads import threads_app

__all__ = ["app"]

app = typer.Typer(
    name="codexkit",
    help=(
        "Run the Codex coding agent: stream a turn, manage stored threads, sign in, check "
        "the setup. Start with `codexkit demo` (offline, no account needed)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        out.print(f"codexkit {__version__} (codex runtime {PINNED_VERSION})")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = None,
) -> None:
    """codexkit: the Codex agent from the command line."""


def run(
    prompt: Annotated[
        str, typer.Argument(metavar="PROMPT", help="What to ask the agent ('-' reads stdin).")
    ],
    cwd: CwdOption = None,
    model: ModelOption = None,
    sandbox: SandboxOption = None,
    approval: ApprovalOption = None,
    image: ImageOption = None,
    output_schema: SchemaOption = None,
    resume: Annotated[
        str | None,
        typer.Option("--resume", metavar="THREAD_ID", help="Continue a stored thread."),
    ] = None,
    json_events: JsonEventsOption = False,
    engine: EngineOption = "app-server",
    mcp: McpOption = None,
    codex_home: CodexHomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Run one turn and stream it: the agent's words, commands, diffs, approvals, usage.

    Exit codes: 0 completed, 1 failed, 2 bad usage, 130 interrupted (Ctrl-C).
    """
    options = RunRequest(
        prompt=read_prompt(prompt),
        cwd=cwd,
        model=model,
        sandbox=sandbox,
        approval=approval,
        images=list(image or []),
        output_schema=read_schema(output_schema),
        resume=resume,
        json_events=json_events,
        engine=engine,
        mcp_servers=parse_mcp(mcp),
        codex_home=codex_home,
    )
    execute(lambda: run_turn(options), debug=debug)


app.command()(demo)
app.command()(run)
app.add_typer(threads_app)
app.add_typer(mcp_app)
app.add_typer(batch_app)
app.command()(models)
app.command()(login)
app.command()(logout)
app.command()(whoami)
app.command()(doctor)
app.command()(serve)
