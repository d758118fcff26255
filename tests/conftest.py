"""Shared fixtures: a scripted stand-in app-server for failure scenarios."""

from __future__ import annotations

import asyncio
import os
import shlex
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codexkit.testing import ScriptedModel

FAKE_SERVER = Path(__file__).parent / "support" / "fake_app_server.py"

# Every request the SDK builds, in every test (and in the processes tests start), is
# checked against the pinned schema before it is sent: a wrong method name or params
# shape fails the test that sent it (see tests/test_protocol.py).
os.environ["CODEXKIT_VALIDATE_REQUESTS"] = "1"


@pytest.fixture
def fake_codex(tmp_path: Path) -> Callable[..., str]:
    """Build an executable that stands in for ``codex`` and plays ``scenario``."""

    def build(*scenario: str) -> str:
        script = tmp_path / f"fake-codex-{len(list(tmp_path.iterdir()))}"
        args = " ".join(shlex.quote(arg) for arg in scenario)
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_SERVER}" {args}\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        return os.fspath(script)

    return build


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every async test runs twice: on the standard event loop and on uvloop."""
    import uvloop

    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModel]:
    """One scripted model for a whole test module: the model of the module's real server
    (``scripted_model`` is one per test)."""
    with ScriptedModel() as scripted:
        yield scripted
