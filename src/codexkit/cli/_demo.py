"""``codexkit demo``: the real agent, offline, against the built-in scripted model.

The real ``codex`` binary does a short task in a scratch workspace: it looks around,
writes ``hello.py`` and ticks a note off (a file change, shown as a diff), runs the
program, and asks to write outside the workspace (an approval, answered for you unless
``--interactive``). Only the model's words are scripted; the tools, the sandbox and the
approvals are codex's own. Nothing leaves the machine and no account is needed.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.panel import Panel
from rich.text import Text

from .._client.client import AsyncCodex
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    DebugOption,
    execute,
    out,
    terminal_attached,
)

if TYPE_CHECKING:
    from ..testing import RecordedRequest, Reply
    from ..types import TurnResult

__all__ = ["demo", "run_demo"]

#: codex offers its file-editing tool (apply_patch) only to models it knows.
MODEL = "gpt-5.5"
PROMPT = (
    "Write hello.py that greets the world, run it, tick the task off in notes.txt, "
    "and publish the greeting to ../outbox."
)
NOTES = "# TODO\n- [ ] greet the world from Python\n"
PATCH = """*** Begin Patch
*** Add File: hello.py
+def main() -> None:
+    print("Hello from codexkit")
+
+
+if __name__ == "__main__":
+    main()
*** Update File: notes.txt
@@
 # TODO
-- [ ] greet the world from Python
+- [x] greet the world from Python (hello.py)
*** End Patch
"""
PUBLISH = "mkdir -p ../outbox && python3 hello.py > ../outbox/greeting.txt"


def script() -> list[Reply]:
    """What the scripted model answers, one reply per model request."""
    from ..testing import apply_patch, shell, text

    return [
        text("I'll look around the workspace first.") + shell("ls && cat notes.txt"),
        text("Now the program, and the note ticked off.") + apply_patch(PATCH),
        shell("python3 hello.py"),
        text("The outbox is outside the workspace, so I need your approval to write there.")
        + shell(
            PUBLISH,
            escalate=True,
            justification="Write the greeting to ../outbox, outside the workspace",
        ),
    ]


def final_answer(request: RecordedRequest) -> Reply:
    """The last reply, which depends on how the approval was answered."""
    from ..testing import text

    declined = any("rejected" in str(o.get("output")) for o in request.function_call_outputs())
    if declined:
        return text(
            "Done, except publishing: `hello.py` prints **Hello from codexkit** and the note "
            "is ticked off, but you declined writing to `../outbox`.",
            chunks=8,
        )
    return text(
        "Done. `hello.py` prints **Hello from codexkit**, the note is ticked off, and the "
        "greeting is published in `../outbox/greeting.txt`.",
        chunks=8,
    )


def demo(
    interactive: Annotated[
        bool,
        typer.Option("--interactive", help="Answer the approval yourself (needs a terminal)."),
    ] = False,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the scratch workspace afterwards.")
    ] = False,
    debug: DebugOption = False,
) -> None:
    """Watch the real codex agent do a short task, offline: no network, no account."""
    execute(lambda: run_demo(interactive=interactive, keep=keep), debug=debug)


async def run_demo(*, interactive: bool = False, keep: bool = False) -> int:
    """Run the demo; return the exit code."""
    scratch = Path(tempfile.mkdtemp(prefix="codexkit-demo-"))
    try:
        workspace = scratch / "workspace"
        workspace.mkdir()
        (workspace / "notes.txt").write_text(NOTES, encoding="utf-8")
        before = _snapshot(scratch)
        result = await _run(scratch, workspace, interactive=interactive and terminal_attached())
        _report(scratch, before, kept=keep)
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return EXIT_OK if result.status == "completed" else EXIT_FAILED


async def _run(scratch: Path, workspace: Path, *, interactive: bool) -> TurnResult:
    from ..testing import ScriptedModel
    from ._approve import Approvals
    from ._render import TurnView
    from ._run import stream

    view = TurnView(out, cwd=str(workspace))
    if interactive:
        approvals = Approvals.from_choice("on-request", view, interactive=True)
    else:
        why = "by the demo; --interactive to answer yourself"
        approvals = Approvals.from_choice("auto-accept", view, interactive=False, why=why)
    with ScriptedModel(default=final_answer) as model:
        model.extend(script())
        home = model.codex_home(
            scratch / "home", extra_config={"model": MODEL}, sandbox_mode="workspace-write"
        )
        async with AsyncCodex(codex_home=home, cwd=workspace) as codex:
            codex.use(approvals.watch)
            thread = await codex.start_thread(
                sandbox="workspace-write", approval_policy=approvals.policy()
            )
            _intro(codex.metadata.version, workspace)
            view.header(thread.id, [f"model {MODEL} (scripted)", "sandbox workspace-write"])
            turn = await thread.turn(PROMPT)
            await stream(turn, view.show, view, interrupt=turn.interrupt, thread_id=None)
            assert turn.result is not None
    view.footer(turn.result)
    return turn.result


def _intro(version: str | None, workspace: Path) -> None:
    body = Text.assemble(
        "The real codex agent",
        (f" (codex {version})" if version else ""),
        " on a short task. Its model is codexkit's scripted stand-in, so this runs ",
        ("offline, with no account", "bold"),
        "; the tools, the sandbox and the approvals are codex's own.\n",
        ("workspace: ", "dim"),
        str(workspace),
    )
    out.print(Panel(body, title="codexkit demo", title_align="left", border_style="cyan"))


def _snapshot(root: Path) -> dict[str, str]:
    """A digest of every file under ``root``, except codex's own home."""
    files: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] == "home" or not path.is_file():
            continue
        files[relative.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def _report(scratch: Path, before: dict[str, str], *, kept: bool) -> None:
    after = _snapshot(scratch)
    out.print()
    out.print(Text("What changed:", style="bold"))
    for path in sorted(before.keys() | after.keys()):
        if path not in before:
            out.print(Text.assemble(("  + ", "green"), path, ("  (new)", "dim")))
        elif path not in after:
            out.print(Text.assemble(("  - ", "red"), path, ("  (deleted)", "dim")))
        elif before[path] != after[path]:
            out.print(Text.assemble(("  ~ ", "yellow"), path, ("  (edited)", "dim")))
    if kept:
        out.print(Text(f"Everything is kept in {scratch}", style="dim"))
    else:
        out.print(Text(f"{scratch} is removed again (--keep keeps it).", style="dim"))
