"""``codexkit threads``: list, show, resume, fork, archive and delete stored threads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from .._client.client import AsyncCodex
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    CliError,
    CodexHomeOption,
    DebugOption,
    JsonOption,
    execute,
    out,
    require_codex_home,
    terminal_attached,
)
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

if TYPE_CHECKING:
    from .._client.resources import ThreadSummary
    from .._client.thread import AsyncThread

__all__ = ["threads_app"]

Json = dict[str, Any]

threads_app = typer.Typer(
    name="threads",
    help="Stored threads: list, show, resume, fork, archive, delete.",
    no_args_is_help=True,
)

ThreadIdArgument = Annotated[
    str, typer.Argument(metavar="THREAD_ID", help="The thread's id.", show_default=False)
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


@threads_app.command("list")
def list_threads(
    archived: Annotated[bool, typer.Option("--archived", help="List archived threads.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 20,
    as_json: JsonOption = False,
    codex_home: CodexHomeOption = None,
    debug: DebugOption = False,
) -> None:
    """List stored threads, most recently updated first."""

    async def main() -> int:
        async with AsyncCodex(codex_home=require_codex_home(codex_home)) as codex:
            listing = codex.list_threads(
                archived=archived, page_size=min(limit, 100), sort_key="updated_at"
            )
            threads = await listing.to_list(max_items=limit)
        if as_json:
            out.print_json(data=[thread.raw for thread in threads])
        elif not threads:
            what = "archived threads" if archived else "threads"
            out.print(Text(f"No {what} in this CODEX_HOME yet.", style="dim"))
        else:
            out.print(_table(threads))
        return EXIT_OK

    execute(main, debug=debug)


@threads_app.command("show")
def show_thread(
    thread_id: ThreadIdArgument,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the stored thread as JSON.")
    ] = False,
    codex_home: CodexHomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Show a thread: its settings, then every turn with what the agent did."""

    async def main() -> int:
        async with AsyncCodex(codex_home=require_codex_home(codex_home)) as codex:
            stored = await codex.read_thread(thread_id, include_turns=True)
        if as_json:
            out.print_json(data=stored)
        else:
            _show(stored)
        return EXIT_OK

    execute(main, debug=debug)


@threads_app.command("resume")
def resume_thread(
    thread_id: ThreadIdArgument,
    prompt: Annotated[
        str, typer.Argument(metavar="PROMPT", help="What to ask next ('-' reads stdin).")
    ],
    cwd: CwdOption = None,
    model: ModelOption = None,
    sandbox: SandboxOption = None,
    approval: ApprovalOption = None,
    image: ImageOption = None,
    output_schema: SchemaOption = None,
    json_events: JsonEventsOption = False,
    engine: EngineOption = "app-server",
    codex_home: CodexHomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Run one more turn on a stored thread, streamed like `codexkit run`."""
    options = RunRequest(
        prompt=read_prompt(prompt),
        cwd=cwd,
        model=model,
        sandbox=sandbox,
        approval=approval,
        images=list(image or []),
        output_schema=read_schema(output_schema),
        resume=thread_id,
        json_events=json_events,
        engine=engine,
        codex_home=codex_home,
    )
    execute(lambda: run_turn(options), debug=debug)


@threads_app.command("fork")
def fork_thread(
    thread_id: ThreadIdArgument,
    codex_home: CodexHomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Copy a thread's history into a new thread; print the new thread's id."""

    async def main() -> int:
        async with AsyncCodex(codex_home=require_codex_home(codex_home)) as codex:
            thread = await _thread(codex, thread_id)
            fork = await thread.fork()
        out.print(fork.id)
        return EXIT_OK

    execute(main, debug=debug)


@threads_app.command("archive")
def archive_thread(
    thread_id: ThreadIdArgument,
    yes: YesOption = False,
    codex_home: CodexHomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Archive a thread: it leaves the listing (see `list --archived`) but is kept."""
    _change(thread_id, codex_home, debug, "archived", lambda t: t.archive(), "Archive", yes)


@threads_app.command("unarchive")
def unarchive_thread(
    thread_id: ThreadIdArgument,
    codex_home: CodexHomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Bring an archived thread back to the listing."""
    _change(thread_id, codex_home, debug, "unarchived", lambda t: t.unarchive())


@threads_app.command("delete")
def delete_thread(
    thread_id: ThreadIdArgument,
    yes: YesOption = False,
    codex_home: CodexHomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Delete a thread and its history for good."""
    _change(thread_id, codex_home, debug, "deleted", lambda t: t.delete(), "Delete", yes)


def _change(
    thread_id: str,
    codex_home: Path | None,
    debug: bool,
    done: str,
    act: Callable[[AsyncThread], Awaitable[object]],
    ask: str | None = None,
    yes: bool = False,
) -> None:
    """Do one thing to a stored thread, after asking ``ask`` (unless ``yes``)."""

    async def main() -> int:
        async with AsyncCodex(codex_home=require_codex_home(codex_home)) as codex:
            thread = await _thread(codex, thread_id)
            if ask is not None and not _confirmed(f"{ask} thread {_describe(thread)}?", yes):
                return EXIT_FAILED
            await act(thread)
        out.print(Text(f"✓ {done} {thread_id}", style="green"))
        return EXIT_OK

    execute(main, debug=debug)


# -- helpers ------------------------------------------------------------------------------


async def _thread(codex: AsyncCodex, thread_id: str) -> AsyncThread:
    """A handle on a stored thread, without resuming it (reading it checks it exists)."""
    thread = codex.thread(thread_id)
    await thread.refresh()
    return thread


def _describe(thread: AsyncThread) -> str:
    title = thread.info.get("name") or thread.info.get("preview") or ""
    return f"{thread.id} ({_shorten(title, 50)})" if title else thread.id


def _confirmed(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not terminal_attached():
        raise CliError("not confirmed", hint="There is no terminal to ask: add --yes.")
    if typer.confirm(question, default=False):
        return True
    out.print(Text("Nothing changed.", style="dim"))
    return False


def _table(threads: list[ThreadSummary]) -> Table:
    from ._render import home_relative

    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("THREAD", style="cyan", no_wrap=True)
    table.add_column("UPDATED", style="dim", no_wrap=True)
    table.add_column("TITLE", overflow="ellipsis", no_wrap=True, max_width=60)
    table.add_column("DIRECTORY", style="dim", overflow="ellipsis", no_wrap=True)
    for thread in threads:
        table.add_row(
            thread.id,
            _ago(thread.updated_at or thread.created_at),
            _shorten(thread.title, 60),
            home_relative(thread.cwd or ""),
        )
    return table


def _show(stored: Json) -> None:
    from ..types import parse_item
    from ._render import TurnView

    title = stored.get("name") or stored.get("preview") or "(untitled)"
    out.print(Text(_shorten(str(title), 100), style="bold"))
    created = _time(stored.get("createdAt"))
    facts = [
        ("thread", stored.get("id")),
        ("model", stored.get("model")),
        ("directory", stored.get("cwd")),
        ("created", created.strftime("%Y-%m-%d %H:%M:%S UTC") if created else None),
        ("forked from", stored.get("forkedFromId")),
    ]
    for label, value in facts:
        if value:
            out.print(Text.assemble((f"{label:>12}  ", "dim"), str(value)))
    view = TurnView(out, live=False, cwd=stored.get("cwd"))
    turns = stored.get("turns") or []
    for number, turn in enumerate(turns, 1):
        status = str(turn.get("status", ""))
        took = f" · {turn['durationMs'] / 1000:.1f} s" if turn.get("durationMs") else ""
        style = {"completed": "green", "failed": "red"}.get(status, "yellow")
        out.rule(Text.assemble(f"turn {number} · ", (status, style), took), align="left")
        for raw in turn.get("items") or []:
            view.item(parse_item(raw))
        error = turn.get("error")
        if isinstance(error, dict) and error.get("message"):
            out.print(Text(f"✗ {error['message']}", style="red"))
    if not turns:
        out.print(Text("No turns yet.", style="dim"))


def _time(value: Any) -> datetime | None:
    if not isinstance(value, (int, float)):
        return None
    return datetime.fromtimestamp(value, tz=timezone.utc)


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    seconds = (datetime.now(timezone.utc) - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds >= 30 * 86400:
        return moment.strftime("%Y-%m-%d")
    unit, size = next(u for u in (("d", 86400), ("h", 3600), ("min", 60)) if seconds >= u[1])
    return f"{int(seconds // size)} {unit} ago"


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
