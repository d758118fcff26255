"""Every example runs, offline, against the scripted model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codexkit.testing import RecordedRequest, Reply, ScriptedModel, text

EXAMPLES = Path(__file__).parent.parent / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("0*.py") if not p.name.endswith("_test.py"))

pytestmark = pytest.mark.real


def _echo(request: RecordedRequest) -> Reply:
    return text(f"echo: {request.last_user_text}")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_runs(script: Path, tmp_path: Path) -> None:
    with ScriptedModel(default=_echo) as model:
        home = model.codex_home(tmp_path / "home")
        env = {**os.environ, "CODEX_HOME": str(home)}
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "echo: " in done.stdout
        assert model.requests, "the example should have reached the model"


def test_offline_test_example_passes(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(EXAMPLES / "06_offline_test.py"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
