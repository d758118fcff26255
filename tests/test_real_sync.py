"""The sync client `Codex` against the real binary: the same scenarios, no await."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from pydantic import BaseModel

from codexkit import (
    AgentMessageDelta,
    ApprovalPolicy,
    Codex,
    CodexTimeoutError,
    TurnCompleted,
    TurnFailedError,
)
from codexkit.testing import ScriptedModel, failure, json_reply, shell, stall, text

pytestmark = pytest.mark.real


class Answer(BaseModel):
    value: int


def test_sync_turns_stream_resume_and_fork(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend(
        [text("alpha beta gamma", chunks=3), text("second"), text("resumed"), text("forked")]
    )
    with Codex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = codex.start_thread()
        events = list(thread.turn("first"))
        assert "".join(e.delta for e in events if isinstance(e, AgentMessageDelta)) == (
            "alpha beta gamma"
        )
        assert isinstance(events[-1], TurnCompleted)
        assert thread.ask("again") == "second"
        thread_id = thread.id
    with Codex(codex_home=codex_home, cwd=tmp_path) as codex:
        resumed = codex.resume_thread(thread_id)
        assert resumed.ask("still there?") == "resumed"
        fork = resumed.fork()
        assert fork.id != thread_id
        assert fork.ask("fork") == "forked"
    assert "first" in scripted_model.requests[2].user_texts()


def test_sync_approvals_and_structured_output(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend(
        [shell("touch approved.txt", escalate=True), text("ok"), json_reply({"value": 42})]
    )
    with Codex(
        codex_home=codex_home, cwd=tmp_path, approval_policy=ApprovalPolicy.auto_accept()
    ) as codex:
        thread = codex.start_thread(sandbox="read-only")
        result = thread.run("touch it")
        assert result.status == "completed"
        assert (tmp_path / "approved.txt").exists()
        assert thread.run("answer", output_type=Answer).output == Answer(value=42)


def test_sync_errors_are_typed(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([failure("model down"), stall(30)])
    with Codex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = codex.start_thread()
        with pytest.raises(TurnFailedError, match="model down"):
            thread.run("fail")
        with pytest.raises(CodexTimeoutError):
            thread.run("hang", timeout=0.5)


async def test_sync_client_works_inside_a_running_event_loop(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    # As in a Jupyter cell: an event loop is running in this thread.
    assert asyncio.get_running_loop().is_running()
    scripted_model.add(text("from inside a loop"))
    with Codex(codex_home=codex_home, cwd=tmp_path) as codex:
        assert codex.start_thread().ask("hi") == "from inside a loop"


def test_sync_client_leaves_no_loop_thread_behind(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    before = {t.name for t in threading.enumerate()}
    scripted_model.add(text("ok"))
    with Codex(codex_home=codex_home, cwd=tmp_path) as codex:
        codex.start_thread().ask("hi")
        assert "codexkit-loop" in {t.name for t in threading.enumerate()}
    assert {t.name for t in threading.enumerate()} - before == set()
