"""`make demo`: the real agent, offline, does the whole scripted task."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.real


def test_demo_runs_the_agent_end_to_end() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "codexkit.demo"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # The agent ran three real commands in its sandbox and the program it wrote ran.
    assert out.count("(exit code 0)") == 3
    assert "Greet the world from Python." in out
    assert "\nHello from codexkit\n" in out
    assert 'hello.py in the workspace: print("Hello from codexkit")' in out
    assert "turn completed" in out
