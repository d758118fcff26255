"""A process that forks (gunicorn, multiprocessing, Ray workers) with a client running:
the children leave the parent's app-server alone, and using the client in a child fails
at once with a typed error. Real binary; each scenario runs in a subprocess of its own,
as its children run the whole interpreter exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from codexkit import find_codex
from codexkit.testing import ScriptedModel, stall, text

pytestmark = pytest.mark.real

# Forks a child, returns how it ended: its exit code, or "hung" after 10 s.
_WAIT_CHILD = """
import os, sys, time

def fork_and_wait(child):
    pid = os.fork()
    if pid == 0:
        child()
        sys.exit(0)  # the interpreter's exit: atexit hooks, finalizers
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return "hung"

def quickly_refused(use):
    # Exit code 7: the client raised ForkedClientError within 2 s; 8: too slowly; 9: not.
    from codexkit import ForkedClientError
    started = time.monotonic()
    try:
        use()
    except ForkedClientError:
        sys.exit(7 if time.monotonic() - started < 2 else 8)
    sys.exit(9)
"""

_SYNC = """
from codexkit import Codex

codex = Codex(codex_home={home!r}, cwd={cwd!r})
codex.start()
print("exit:", fork_and_wait(lambda: None), flush=True)
print("use:", fork_and_wait(lambda: quickly_refused(codex.start_thread)), flush=True)
print("answer:", codex.start_thread().ask("after the forks"), flush=True)
codex.close()
"""

_ASYNC = """
import asyncio
from codexkit import AsyncCodex

codex = AsyncCodex(codex_home={home!r}, cwd={cwd!r})
loop = asyncio.new_event_loop()
loop.run_until_complete(codex.start())
thread = loop.run_until_complete(codex.start_thread())
turn = loop.run_until_complete(thread.turn("slow one"))  # still running in the forks
print("exit:", fork_and_wait(lambda: None), flush=True)
use = lambda: quickly_refused(lambda: asyncio.run(codex.start_thread()))
print("use:", fork_and_wait(use), flush=True)
stream = lambda: quickly_refused(lambda: asyncio.run(turn.run()))
print("stream:", fork_and_wait(stream), flush=True)
print("answer:", loop.run_until_complete(turn.run()).final_response, flush=True)
loop.run_until_complete(codex.close())
"""

_SOCKET = """
import asyncio
from codexkit import AsyncCodex

codex = AsyncCodex(connect="unix://" + {home!r}, cwd={cwd!r})
loop = asyncio.new_event_loop()
loop.run_until_complete(codex.start())
print("close:", fork_and_wait(lambda: asyncio.run(codex.close())), flush=True)
thread = loop.run_until_complete(codex.start_thread())
print("answer:", loop.run_until_complete(thread.ask("after the fork")), flush=True)
loop.run_until_complete(codex.close())
"""


def _run(program: str, codex_home: Path, cwd: Path) -> list[str]:
    code = _WAIT_CHILD + program.format(home=str(codex_home), cwd=str(cwd))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


def test_forked_children_leave_the_sync_clients_server_alone(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(text("still here"))
    assert _run(_SYNC, codex_home, tmp_path) == [
        "exit: 0",
        "use: 7",
        "answer: still here",
    ]


def test_forked_children_leave_the_async_clients_server_alone(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(stall(1) + text("still here"))
    assert _run(_ASYNC, codex_home, tmp_path) == [
        "exit: 0",
        "use: 7",
        "stream: 7",
        "answer: still here",
    ]


def test_a_forked_child_closing_its_copy_leaves_the_parents_socket_open(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(text("still connected"))
    socket_path = tmp_path / "app-server.sock"
    binary = find_codex()
    server = subprocess.Popen(
        [binary.path, "app-server", "--listen", f"unix://{socket_path}"],
        env=binary.child_env({"CODEX_HOME": str(codex_home)}),
        cwd=tmp_path,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _run(_SOCKET, socket_path, tmp_path) == ["close: 0", "answer: still connected"]
    finally:
        server.terminate()
        server.wait(timeout=10)
