"""An offline demo of the real agent: ``python -m codexkit.demo``.

It starts the bundled ``codex`` against :mod:`codexkit.testing`'s scripted model (no
network, no credentials), asks it to write and run a small program in a scratch
workspace, and shows the turn live: the agent's words as they stream, each command with
its output and exit code, and the token usage at the end.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from . import AsyncCodex
from .events import AgentMessageDelta, Event, ItemCompleted, ItemStarted, TurnCompleted
from .testing import Reply, ScriptedModel, shell, text
from .types import AgentMessageItem, CommandExecutionItem, TurnResult

PROMPT = "Write hello.py that greets the world, run it, and tell me what it printed."

NOTES = "Greet the world from Python.\n"


def script() -> list[Reply]:
    """What the scripted model answers, one reply per model request."""
    return [
        text("I'll read the notes in the workspace first.") + shell("ls && cat notes.txt"),
        shell("echo 'print(\"Hello from codexkit\")' > hello.py && cat hello.py"),
        shell("python3 hello.py"),
        text(
            "Done. I created `hello.py` and ran it; it printed **Hello from codexkit**.",
            chunks=8,
        ),
    ]


class _Screen:
    def __init__(self) -> None:
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        self._dim = "\033[2m" if color else ""
        self._bold = "\033[1m" if color else ""
        self._reset = "\033[0m" if color else ""
        self._streaming = False

    def show(self, event: Event) -> None:
        if isinstance(event, AgentMessageDelta):
            self._streaming = True
            print(event.delta, end="", flush=True)
        elif isinstance(event, ItemStarted) and isinstance(event.item, CommandExecutionItem):
            self._end_stream()
            print(f"{self._bold}$ {event.item.command}{self._reset}", flush=True)
        elif isinstance(event, ItemCompleted):
            if isinstance(event.item, CommandExecutionItem):
                output = (event.item.aggregated_output or "").rstrip()
                if output:
                    print(f"{self._dim}{output}{self._reset}")
                print(f"{self._dim}(exit code {event.item.exit_code}){self._reset}")
            elif isinstance(event.item, AgentMessageItem):
                self._end_stream()
        elif isinstance(event, TurnCompleted):
            self._end_stream()

    def summary(self, result: TurnResult, workspace: Path) -> None:
        usage = result.usage
        tokens = f", {usage.thread_total_tokens} tokens" if usage else ""
        print(f"\n{self._bold}turn {result.status}{self._reset} in {result.duration_ms} ms{tokens}")
        created = workspace / "hello.py"
        content = created.read_text().strip() if created.exists() else "missing"
        print(f"hello.py in the workspace: {content}")

    def _end_stream(self) -> None:
        if self._streaming:
            print(flush=True)
            self._streaming = False


async def run_demo() -> TurnResult:
    """Run the demo and return the turn's result (used by the tests too)."""
    screen = _Screen()
    with tempfile.TemporaryDirectory(prefix="codexkit-demo-") as scratch, ScriptedModel() as model:
        model.extend(script())
        workspace = Path(scratch) / "workspace"
        workspace.mkdir()
        (workspace / "notes.txt").write_text(NOTES)
        home = model.codex_home(Path(scratch) / "home", sandbox_mode="workspace-write")
        print(f"{screen._bold}> {PROMPT}{screen._reset}\n")
        async with AsyncCodex(codex_home=home, cwd=workspace) as codex:
            thread = await codex.start_thread(sandbox="workspace-write", approval_policy="never")
            turn = await thread.turn(PROMPT)
            async for event in turn:
                screen.show(event)
            assert turn.result is not None
            screen.summary(turn.result, workspace)
            return turn.result


def main() -> None:
    result = asyncio.run(run_demo())
    raise SystemExit(0 if result.status == "completed" else 1)


if __name__ == "__main__":
    main()
