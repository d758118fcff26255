"""``codexkit run`` (and ``threads resume``): one turn, streamed.

The turn's events go to a :class:`TurnView` (or, with ``--json``, to stdout as one raw
notification per line). Ctrl-C sends ``turn/interrupt``, waits briefly for the turn to
end, closes the client and leaves with exit code 130.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import os
import sys
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.text import Text

from .._client.client import AsyncCodex
from ..errors import CodexError
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    ApprovalChoice,
    CliError,
    Interrupted,
    err,
    out,
    require_codex_home,
    sigint_handler,
    terminal_attached,
)

if TYPE_CHECKING:
    import asyncio

    from ..events import Event
    from ..mcp import McpServer
    from ..types import Input, TurnResult
    from ._render import TurnView

__all__ = ["RunRequest", "read_prompt", "read_schema", "run_turn", "stream"]

Json = dict[str, Any]
Sink = Callable[["Event"], None]

#: How long Ctrl-C waits for the interrupted turn to end, then for the interrupt request.
_INTERRUPT_GRACE = 5.0

# -- the options `run` and `threads resume` share ----------------------------------------

CwdOption = Annotated[
    Path | None,
    typer.Option(
        "--cwd",
        "-C",
        file_okay=False,
        exists=True,
        resolve_path=True,
        help="Directory the agent works in.",
    ),
]
ModelOption = Annotated[str | None, typer.Option("--model", "-m", help="Model slug to use.")]
Sandbox = Literal["read-only", "workspace-write", "danger-full-access"]
Engine = Literal["app-server", "exec"]

SandboxOption = Annotated[
    Sandbox | None,
    typer.Option(
        "--sandbox",
        "-s",
        help="What the agent's commands may touch (default: codex's config).",
    ),
]
ApprovalOption = Annotated[
    ApprovalChoice | None,
    typer.Option(
        "--approval",
        "-a",
        help=(
            "When codex asks before acting, and who answers. on-request (the default) asks "
            "you at a terminal and declines otherwise; auto-accept / auto-decline answer "
            "every request."
        ),
    ),
]
ImageOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--image",
        "-i",
        exists=True,
        dir_okay=False,
        metavar="FILE",
        help="Attach an image file (repeatable).",
    ),
]
SchemaOption = Annotated[
    Path | None,
    typer.Option(
        "--output-schema",
        exists=True,
        dir_okay=False,
        help="JSON schema file the final answer must follow; its parsed JSON is printed.",
    ),
]
JsonEventsOption = Annotated[
    bool,
    typer.Option("--json", help="Print each event as one JSON line on stdout (for scripts)."),
]
EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="app-server, or exec: one `codex exec` process per turn, without approvals.",
    ),
]


@dataclass(frozen=True)
class RunRequest:
    """Everything a turn needs, checked."""

    prompt: str
    cwd: Path | None = None
    model: str | None = None
    sandbox: Sandbox | None = None
    approval: ApprovalChoice | None = None
    images: list[Path] = field(default_factory=list)
    output_schema: Json | None = None
    resume: str | None = None
    json_events: bool = False
    engine: Engine = "app-server"
    mcp_servers: dict[str, McpServer] = field(default_factory=dict)
    codex_home: Path | None = None

    def __post_init__(self) -> None:
        if not self.prompt.strip():
            raise typer.BadParameter("the prompt is empty", param_hint="PROMPT")
        if self.engine == "exec" and self.approval not in (None, "never"):
            raise typer.BadParameter(
                "--engine exec runs without approvals; use --approval never",
                param_hint="--approval",
            )

    def inputs(self) -> list[str | Input]:
        from ..types import LocalImageInput

        return [self.prompt, *(LocalImageInput(path) for path in self.images)]


def read_prompt(prompt: str) -> str:
    """The prompt argument; ``-`` reads it from stdin."""
    return sys.stdin.read() if prompt == "-" else prompt


def read_schema(path: Path | None) -> Json | None:
    """The JSON schema in ``path`` (a bad file is a usage error)."""
    if path is None:
        return None
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(
            f"{path} is not a JSON file: {exc}", param_hint="--output-schema"
        ) from None
    if not isinstance(schema, dict):
        raise typer.BadParameter(f"{path} must hold a JSON object", param_hint="--output-schema")
    return schema


# -- running -------------------------------------------------------------------------------


async def run_turn(options: RunRequest) -> int:
    """Run the turn; return the exit code (0 completed, 1 failed)."""
    from ._render import TurnView

    codex_home = require_codex_home(options.codex_home)
    interactive = terminal_attached() and not options.json_events
    # With --json, stdout carries events only: notes and approvals go to stderr.
    view = TurnView(
        err if options.json_events else out,
        structured=options.output_schema is not None,
        live=False if options.json_events else None,
        cwd=os.fspath(options.cwd or Path.cwd()),
    )
    sink: Sink = _print_json if options.json_events else view.show
    if options.engine == "exec":
        result = await _run_exec(options, codex_home, view, sink)
    else:
        result = await _run_app_server(options, codex_home, view, sink, interactive)
    return _conclude(options, view, result)


async def _run_app_server(
    options: RunRequest, codex_home: str | None, view: TurnView, sink: Sink, interactive: bool
) -> TurnResult:
    from ._approve import Approvals

    approvals = Approvals.from_choice(
        options.approval or "on-request", view, interactive=interactive
    )
    async with AsyncCodex(
        codex_home=codex_home,
        cwd=options.cwd,
        mcp_servers=options.mcp_servers,
        # A person at the terminal may think about an approval for as long as they like.
        turn_idle_timeout=None if approvals.answer == "ask" else 600.0,
    ) as codex:
        codex.use(approvals.watch)
        settings: Json = {
            "model": options.model,
            "sandbox": options.sandbox,
            "approval_policy": approvals.policy(),
        }
        if options.resume:
            thread = await codex.resume_thread(options.resume, **settings)
        else:
            thread = await codex.start_thread(**settings)
        view.cwd = thread.info.get("cwd") or view.cwd  # a resumed thread keeps its own
        if not options.json_events:
            view.header(thread.id, _details(thread.info, options))
        turn = await thread.turn(options.inputs(), output_schema=options.output_schema)
        await stream(turn, sink, view, interrupt=turn.interrupt, thread_id=thread.id)
        assert turn.result is not None
        return turn.result


async def _run_exec(
    options: RunRequest, codex_home: str | None, view: TurnView, sink: Sink
) -> TurnResult:
    try:
        module = importlib.import_module("codexkit.exec")
    except ImportError:
        raise CliError(
            "--engine exec needs codexkit.exec, which this codexkit does not have",
            hint="Use the default engine, app-server.",
        ) from None
    async with contextlib.AsyncExitStack() as stack:
        codex = module.ExecCodex(
            codex_home=codex_home, model=options.model, mcp_servers=options.mcp_servers
        )
        if hasattr(codex, "__aenter__"):
            codex = await stack.enter_async_context(codex)
        settings: Json = {
            "cwd": options.cwd,
            "sandbox": options.sandbox,
            "approval_policy": "never",
        }
        if options.resume:
            thread = await _maybe_await(codex.resume_thread(options.resume, **settings))
        else:
            thread = await _maybe_await(codex.start_thread(model=options.model, **settings))
        streamed = await _maybe_await(
            thread.run_streamed(
                options.prompt, output_schema=options.output_schema, images=options.images
            )
        )
        await stream(streamed, sink, view, interrupt=None, thread_id=options.resume)
        result: TurnResult | None = streamed.result
        if result is None:
            raise CliError("codex exec ended without finishing the turn")
        return result


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def stream(
    events: AsyncIterable[Event],
    sink: Sink,
    view: TurnView,
    *,
    interrupt: Callable[[], Awaitable[None]] | None,
    thread_id: str | None,
) -> None:
    """Feed every event to ``sink`` until the turn ends.

    Ctrl-C asks the agent to stop (``interrupt``), waits a few seconds for the turn to
    end and raises :class:`Interrupted`; a second Ctrl-C stops waiting.
    """
    import asyncio  # here: `codexkit --help` never needs it

    consumer = asyncio.ensure_future(_consume(events, sink, view))
    pressed = asyncio.Event()
    winding_down: asyncio.Future[None] | None = None

    def on_sigint() -> None:
        if pressed.is_set():  # the second time: stop waiting
            consumer.cancel()
            if winding_down is not None:
                winding_down.cancel()
        pressed.set()

    try:
        with sigint_handler(on_sigint):
            waiter = asyncio.ensure_future(pressed.wait())
            try:
                await asyncio.wait({consumer, waiter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
            if not pressed.is_set():
                consumer.result()  # the turn ended; raise whatever ended it early
                return
            if view.is_paused:  # Ctrl-C at a question: end the question's line first
                view.console.print()
            view.end()
            err.print(Text("Interrupting the turn… (Ctrl-C again to quit now)", style="yellow"))
            winding_down = asyncio.ensure_future(_wind_down(consumer, interrupt))
            with contextlib.suppress(asyncio.CancelledError):
                await winding_down
    finally:
        if not consumer.done():
            consumer.cancel()
            with contextlib.suppress(BaseException):
                await consumer
    kept = f"The thread is kept: codexkit threads resume {thread_id} PROMPT" if thread_id else ""
    raise Interrupted(kept)


async def _wind_down(
    consumer: asyncio.Future[None], interrupt: Callable[[], Awaitable[None]] | None
) -> None:
    """Ask the agent to stop, then give the turn a moment to end. Without a way to ask
    (``codex exec``), stop reading at once: that ends the process."""
    import asyncio

    if interrupt is None or consumer.done():
        return
    quietly = contextlib.suppress(CodexError, asyncio.TimeoutError)
    with quietly:
        await asyncio.wait_for(interrupt(), _INTERRUPT_GRACE)
    with quietly:
        await asyncio.wait_for(asyncio.shield(consumer), _INTERRUPT_GRACE)


async def _consume(events: AsyncIterable[Event], sink: Sink, view: TurnView) -> None:
    view.begin()
    iterator: AsyncIterator[Event] = aiter(events)
    try:
        async for event in iterator:
            sink(event)
    finally:
        view.end()
        closing = getattr(iterator, "aclose", None)
        if closing is not None:
            with contextlib.suppress(Exception):
                await closing()


def _print_json(event: Event) -> None:
    sys.stdout.write(json.dumps(event.raw, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _details(info: Json, options: RunRequest) -> list[str]:
    from ._render import home_relative

    model = info.get("model") or options.model
    cwd = info.get("cwd") or (os.fspath(options.cwd) if options.cwd else None)
    return [
        f"model {model}" if model else "",
        f"sandbox {options.sandbox}" if options.sandbox else "",
        f"in {home_relative(cwd)}" if cwd else "",
    ]


def _conclude(options: RunRequest, view: TurnView, result: TurnResult) -> int:
    """Print the outcome (and the structured answer); return the exit code."""
    code = EXIT_OK if result.status == "completed" else EXIT_FAILED
    if options.json_events:
        return code
    view.footer(result)
    if options.output_schema is not None and result.status == "completed":
        try:
            answer = json.loads(result.final_response or "")
        except ValueError:
            raise CliError(
                "the final answer is not JSON, though an output schema was given"
            ) from None
        out.print_json(data=answer)
    resume = f"codexkit threads resume {result.thread_id} PROMPT"
    out.print(Text.assemble(("continue with: ", "dim"), (resume, "dim cyan")), soft_wrap=True)
    return code
