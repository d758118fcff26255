"""Showing a turn with rich: a live line while the agent works, then each thing it did.

On a terminal a transient live area shows what is happening now (the agent's words as
they stream, a running command and the tail of its output, a spinner with the elapsed
time). Whatever completes is printed for good above it: the agent's message as
markdown, each command with its output and exit code, file changes as diffs, the plan.
Without a terminal (a pipe, a file) only the completed parts are printed, as plain text.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.markdown import Markdown
from rich.padding import Padding
from rich.panel import Panel
from rich.rule import Rule
from rich.spinner import Spinner
from rich.syntax import Syntax
from rich.text import Text

from ..events import (
    AgentMessageDelta,
    CommandOutputDelta,
    Event,
    ItemCompleted,
    ItemStarted,
    Notification,
    PlanStep,
    PlanUpdated,
    ReasoningDelta,
    StreamError,
    TokenUsageUpdated,
)
from ..types import (
    AgentMessageItem,
    CommandExecutionItem,
    DynamicToolCallItem,
    FileChange,
    FileChangeItem,
    Item,
    McpToolCallItem,
    PlanItem,
    ReasoningItem,
    TokenUsage,
    TurnResult,
    UserMessageItem,
    WebSearchItem,
    unwrap_shell,
)

__all__ = ["TurnView", "command_text", "diff_text", "home_relative", "token_summary"]

#: Lines of a command's output printed once it ends (the rest is summarized).
OUTPUT_LINES = 20
_PLAN_MARKS = {"completed": ("✓", "green"), "inProgress": ("▸", "cyan"), "pending": ("○", "dim")}
_PROMPT_MARK = "\u276f "  # a heavy right-pointing angle, before the user's prompt
_CHANGE_VERBS = {"add": "added", "delete": "deleted", "update": "edited"}


class TurnView:
    """Renders one turn's events on ``console``.

    ``structured`` is for turns with an output schema: an agent message that is JSON is
    held back, since the parsed answer is printed at the end. ``live`` (default: whether
    the console is a terminal) enables the transient live area.
    """

    def __init__(
        self,
        console: Console,
        *,
        structured: bool = False,
        live: bool | None = None,
        cwd: str | None = None,
    ) -> None:
        self.console = console
        self.structured = structured
        self.cwd = cwd
        self.usage: TokenUsage | None = None
        self._use_live = console.is_terminal if live is None else live
        self._live: Live | None = None
        self._activity = _Activity()
        self._held: list[Event] | None = None
        self._running = False
        self.started = time.monotonic()

    # -- the live area --------------------------------------------------------------------

    def begin(self) -> None:
        """The turn started: show the live area (on a terminal)."""
        self._running = True
        self.started = time.monotonic()
        self._activity = _Activity()
        self._start_live()

    def end(self) -> None:
        """The turn is over: take the live area away."""
        self._running = False
        self._stop_live()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Hide the live area and hold back events while the block talks to the user
        (an approval prompt); then show what was held."""
        self._stop_live()
        self._held = []
        try:
            yield
        finally:
            held, self._held = self._held, None
            if self._running:
                self._start_live()
            for event in held:
                self.show(event)

    @property
    def is_paused(self) -> bool:
        """Whether a question to the user is on screen (see :meth:`paused`)."""
        return self._held is not None

    def _start_live(self) -> None:
        if self._use_live and self._live is None:
            self._live = Live(
                self._activity,
                console=self.console,
                transient=True,
                refresh_per_second=12,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()

    def _stop_live(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.stop()

    # -- events ---------------------------------------------------------------------------

    def show(self, event: Event) -> None:
        """Render one event of the turn."""
        if self._held is not None:
            self._held.append(event)
            return
        activity = self._activity
        if isinstance(event, AgentMessageDelta):
            activity.write(event.item_id, event.delta)
        elif isinstance(event, CommandOutputDelta):
            activity.output(event.item_id, event.delta)
        elif isinstance(event, ReasoningDelta):
            activity.set("Thinking")
        elif isinstance(event, ItemStarted):
            if isinstance(event.item, CommandExecutionItem):
                activity.run(event.item.id, command_text(event.item.command))
            elif isinstance(event.item, FileChangeItem):
                activity.set("Editing files")
        elif isinstance(event, ItemCompleted):
            activity.done(event.item.id)
            self.item(event.item)
        elif isinstance(event, PlanUpdated):
            self.plan(event.plan, event.explanation)
        elif isinstance(event, TokenUsageUpdated):
            self.usage = event.usage
        elif isinstance(event, StreamError) and event.will_retry:
            # A final error fails the turn, and the footer says why.
            self.console.print(Text(f"! {event.message} (retrying)", style="yellow"))
        elif isinstance(event, Notification) and event.method == "warning":
            message = str(event.params.get("message") or "")
            if message:
                self.console.print(Text(f"! {message}", style="dim yellow"))

    # -- completed things (also used to show stored threads) -----------------------------

    def item(self, item: Item) -> None:
        """Print a completed item for good."""
        match item:
            case AgentMessageItem():
                self._agent_message(item)
            case UserMessageItem():
                self._user_message(item)
            case CommandExecutionItem():
                self._command(item)
            case FileChangeItem():
                self._file_change(item)
            case ReasoningItem():
                self._reasoning(item)
            case PlanItem():
                self.console.print(Panel(Markdown(item.text), title="Plan", title_align="left"))
            case McpToolCallItem():
                failed = item.error is not None
                self._tool(f"{item.server}.{item.tool}", item.arguments, failed=failed)
            case DynamicToolCallItem():
                self._tool(item.tool, item.arguments, failed=item.success is False)
            case WebSearchItem():
                line = Text.assemble(("⌕ ", "bold blue"), "web search: ", (item.query, "bold"))
                self.console.print(line)

    def _agent_message(self, item: AgentMessageItem) -> None:
        text = item.text.strip()
        if not text or (self.structured and _is_json(text)):
            return
        style = "dim" if item.phase == "commentary" else ""
        self.console.print(Markdown(text, style=style))
        self.console.print()

    def _user_message(self, item: UserMessageItem) -> None:
        images = sum(1 for part in item.content if part.get("type") in ("image", "localImage"))
        suffix = f"  [+{images} image{'s' if images > 1 else ''}]" if images else ""
        self.console.print(
            Text.assemble((_PROMPT_MARK, "bold cyan"), (item.text, "bold"), (suffix, "dim"))
        )
        self.console.print()

    def _command(self, item: CommandExecutionItem) -> None:
        self.console.print(
            Text.assemble(("$ ", "bold magenta"), (command_text(item.command), "bold"))
        )
        output = (item.aggregated_output or "").rstrip("\n")
        if output:
            self.console.print(_indent(_tail(output)))
        self.console.print(_indent(_command_status(item)))
        self.console.print()

    def _file_change(self, item: FileChangeItem) -> None:
        for part in self.file_changes(item):
            self.console.print(part)
        if item.status not in ("completed", "inProgress", ""):
            self.console.print(_indent(Text(f"✗ change {item.status}", style="red")))
        self.console.print()

    def file_changes(self, item: FileChangeItem) -> list[RenderableType]:
        """Each changed file: a line saying what happened to it, then its diff."""
        parts: list[RenderableType] = []
        for change in item.changes:
            verb = _CHANGE_VERBS.get(change.kind, change.kind)
            move = change.move_path
            target = self._relative(change.path) + (f" → {self._relative(move)}" if move else "")
            parts.append(Text.assemble(("✎ ", "bold blue"), (f"{verb} ", "bold"), target))
            diff = diff_text(change).rstrip("\n")
            if diff.strip():
                parts.append(_indent(Syntax(diff, "diff", background_color="default")))
        return parts

    def _reasoning(self, item: ReasoningItem) -> None:
        summary = " ".join(part.strip() for part in item.summary if part.strip())
        if summary:
            self.console.print(Markdown(summary, style="dim italic"))
            self.console.print()

    def _tool(self, name: str, arguments: Any, *, failed: bool) -> None:
        args = json.dumps(arguments, ensure_ascii=False) if arguments not in (None, {}) else ""
        if len(args) > 80:
            args = args[:77] + "..."
        mark, style = ("✗", "red") if failed else ("✓", "green")
        self.console.print(
            Text.assemble(("⚙ ", "bold blue"), (name, "bold"), f"({args}) ", (mark, style))
        )

    def plan(self, steps: Iterable[PlanStep], explanation: str | None = None) -> None:
        """Print the agent's plan, each step with its status."""
        lines = [Text(explanation, style="italic")] if explanation else []
        for step in steps:
            mark, style = _PLAN_MARKS.get(step.status, ("·", ""))
            lines.append(Text.assemble((f"{mark} ", style), (step.step, style)))
        self.console.print(Panel(Group(*lines), title="Plan", title_align="left", expand=False))

    # -- notes and the end ----------------------------------------------------------------

    def header(self, thread_id: str, details: Iterable[str]) -> None:
        """One dim line naming the thread and its settings."""
        parts = [f"thread {thread_id}", *(d for d in details if d)]
        self.console.print(Text(" · ".join(parts), style="dim"))
        self.console.print()

    def footer(self, result: TurnResult) -> None:
        """The turn's outcome, duration and token usage."""
        seconds = (
            result.duration_ms / 1000
            if result.duration_ms is not None
            else time.monotonic() - self.started
        )
        mark, style = {"completed": ("✓", "green"), "failed": ("✗", "red")}.get(
            result.status, ("■", "yellow")
        )
        line = Text.assemble((f"{mark} {result.status}", f"bold {style}"))
        line.append(f" in {_duration(seconds)}")
        usage = result.usage or self.usage
        if usage is not None:
            line.append(f" · {token_summary(usage)}", style="dim")
        self.console.print(Rule(style="dim"))
        self.console.print(line)
        if result.status == "failed":
            message = (result.error or {}).get("message") or "no reason given"
            self.console.print(Text(str(message), style="red"))

    def _relative(self, path: str) -> str:
        if self.cwd and os.path.isabs(path):
            with contextlib.suppress(ValueError):
                relative = os.path.relpath(path, self.cwd)
                if not relative.startswith(".."):
                    return relative
        return path


class _Activity:
    """The live area's content: what the agent is doing right now."""

    def __init__(self) -> None:
        self.label = "Working"
        self.since = time.monotonic()
        self.spinner = Spinner("dots", style="cyan")
        self.message: str | None = None  # the agent message being written
        self.text = ""
        self.command: tuple[str, str, float] | None = None  # item id, command, start
        self.outputs: dict[str, str] = {}  # output so far, by command item id

    def set(self, label: str) -> None:
        self.label = label

    def write(self, item_id: str, delta: str) -> None:
        if self.message != item_id:
            self.message, self.text = item_id, ""
        self.text += delta

    def run(self, item_id: str, command: str) -> None:
        self.command = (item_id, command, time.monotonic())

    def output(self, item_id: str, delta: str) -> None:
        # Output may arrive before the item's start; keep it by item id.
        self.outputs[item_id] = self.outputs.get(item_id, "") + delta

    def done(self, item_id: str) -> None:
        self.outputs.pop(item_id, None)
        if self.message == item_id:
            self.message, self.text = None, ""
        if self.command is not None and self.command[0] == item_id:
            self.command = None
        self.label = "Working"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        room = max(3, options.size.height - 4)
        if self.message is not None:  # the agent is writing
            yield Text(_last_lines(self.text, room))
            return
        if self.command is not None:
            item_id, command, started = self.command
            title = Text.assemble(
                ("Running", "bold"),
                (f"  {_duration(time.monotonic() - started)}  ", "dim"),
                (f"$ {command}", "bold magenta"),
            )
            self.spinner.text = title
            yield self.spinner
            output = self.outputs.get(item_id, "")
            if output:
                yield _indent(Text(_last_lines(output, room - 1), style="dim"))
            return
        elapsed = _duration(time.monotonic() - self.since)
        self.spinner.text = Text.assemble((self.label, "bold"), (f"  {elapsed}", "dim"))
        yield self.spinner


# -- helpers ----------------------------------------------------------------------------


def command_text(command: str) -> str:
    """The command as the agent wrote it, without the ``bash -c '…'`` codex wraps it in."""
    return unwrap_shell(command)


def diff_text(change: FileChange) -> str:
    """The change as a diff: codex sends added and deleted files as their content."""
    if change.kind == "add":
        return "".join(f"+{line}\n" for line in change.diff.splitlines())
    if change.kind == "delete":
        return "".join(f"-{line}\n" for line in change.diff.splitlines())
    return change.diff


def token_summary(usage: TokenUsage) -> str:
    """``1,234 tokens (1,000 in, 200 cached, 234 out)``, for the thread so far."""
    total = usage.raw.get("total") or {}
    tokens = int(total.get("totalTokens", usage.thread_total_tokens))
    parts = [f"{int(total.get('inputTokens', usage.input_tokens)):,} in"]
    cached = int(total.get("cachedInputTokens", 0))
    if cached:
        parts.append(f"{cached:,} cached")
    parts.append(f"{int(total.get('outputTokens', usage.output_tokens)):,} out")
    return f"{tokens:,} tokens ({', '.join(parts)})"


def home_relative(path: str) -> str:
    """``path`` with the home directory written ``~``."""
    home = os.path.expanduser("~")
    if path == home or path.startswith(home + os.sep):
        return "~" + path[len(home) :]
    return path


def _command_status(item: CommandExecutionItem) -> Text:
    took = f" · {_duration(item.duration_ms / 1000)}" if item.duration_ms is not None else ""
    if item.status == "declined":
        return Text("✗ declined", style="yellow")
    if item.exit_code == 0:
        return Text(f"✓ exit 0{took}", style="green")
    if item.exit_code is None:
        return Text(f"✗ {item.status or 'no exit code'}{took}", style="red")
    return Text(f"✗ exit {item.exit_code}{took}", style="red")


def _tail(output: str) -> Text:
    lines = output.splitlines()
    text = Text(style="dim")
    if len(lines) > OUTPUT_LINES:
        text.append(f"… {len(lines) - OUTPUT_LINES} earlier lines\n", style="italic")
        lines = lines[-OUTPUT_LINES:]
    text.append("\n".join(lines))
    return text


def _last_lines(text: str, count: int) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-count:])


def _indent(renderable: RenderableType) -> Padding:
    return Padding(renderable, (0, 0, 0, 2))


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
