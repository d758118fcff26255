"""``codexkit run`` in a real terminal (tmux): an approval answered at the keyboard, and
Ctrl-C stopping a turn cleanly. The real binary, the scripted model."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codexkit.testing import ScriptedModel, shell, stall, text

pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux"),
]

CODEXKIT = Path(sys.executable).with_name("codexkit")  # the console script


class Terminal:
    """A tmux server of its own (a private socket) with one 120x40 window."""

    def __init__(self) -> None:
        self.socket = f"codexkit-test-{uuid.uuid4().hex[:12]}"

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, script: Path) -> None:
        self.tmux("new-session", "-d", "-x", "120", "-y", "40", f"bash {shlex.quote(str(script))}")

    def screen(self) -> str:
        """What the window shows, scrollback included, wrapped lines joined."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-1000")

    def wait_for(self, needle: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if needle in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} did not appear; the screen:\n{screen}")
            time.sleep(0.05)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    terminal = Terminal()
    try:
        yield terminal
    finally:
        terminal.kill()


@pytest.fixture
def run_script(tmp_path: Path, codex_home: Path) -> Callable[[str], Path]:
    """A script that runs ``codexkit run PROMPT`` in a workspace and then prints its exit
    code, and stays open so the screen can be read."""
    assert CODEXKIT.exists(), f"install the console script: pip install -e . ({CODEXKIT})"
    workspace = tmp_path / "workspace"
    workspace.mkdir()

    def write(prompt: str) -> Path:
        script = tmp_path / "run.sh"
        command = shlex.join(
            [str(CODEXKIT), "run", "--codex-home", str(codex_home), "--cwd", str(workspace), prompt]
        )
        script.write_text(f"{command}\necho EXIT=$?\nsleep 60\n")
        return script

    return write


def test_an_approval_is_answered_at_the_keyboard(
    terminal: Terminal,
    run_script: Callable[[str], Path],
    scripted_model: ScriptedModel,
    tmp_path: Path,
) -> None:
    scripted_model.extend(
        [
            shell("touch approved.txt", escalate=True, justification="to leave a mark"),
            text("The file is there."),
        ]
    )
    terminal.start(run_script("Leave a mark"))
    asked = terminal.wait_for("Allow?")
    assert "$ touch approved.txt" in asked
    assert "reason: to leave a mark" in asked
    terminal.tmux("send-keys", "y", "Enter")
    screen = terminal.wait_for("EXIT=")
    assert "EXIT=0" in screen
    assert "✓ approved" in screen
    assert (tmp_path / "workspace" / "approved.txt").exists()
    assert "The file is there." in screen
    assert "✓ completed" in screen


def test_ctrl_c_interrupts_the_turn_and_leaves_no_process(
    terminal: Terminal,
    run_script: Callable[[str], Path],
    scripted_model: ScriptedModel,
    codex_home: Path,
) -> None:
    scripted_model.add(stall(30))
    terminal.start(run_script("Take your time"))
    scripted_model.wait_for_requests(1, timeout=15)  # the turn is running, the model stalls
    terminal.wait_for("Working")  # the live display is up: Ctrl-C is ours to handle
    started = time.monotonic()
    terminal.tmux("send-keys", "C-c")
    screen = terminal.wait_for("EXIT=")
    assert time.monotonic() - started < 10
    assert "EXIT=130" in screen
    assert "Interrupting the turn" in screen
    assert "Interrupted. The thread is kept: codexkit threads resume" in screen
    assert _processes_using(codex_home, within=5.0) == []


def _processes_using(path: Path, *, within: float) -> list[str]:
    """Processes whose command line or environment names ``path``, polled until there are
    none or ``within`` seconds pass."""
    needle = str(path).encode()
    deadline = time.monotonic() + within
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
                environ = (entry / "environ").read_bytes()
            except OSError:  # gone, or not ours to read
                continue
            if needle in cmdline or needle in environ:
                command = cmdline.replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name}: {command}")
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
