"""The sync client `Codex` against the real binary: the same scenarios, no await."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from codexkit import (
    AgentMessageDelta,
    ApprovalPolicy,
    Codex,
    CodexError,
    CodexTimeoutError,
    LoginFailedError,
    TurnCompleted,
    TurnFailedError,
    tool,
)
from codexkit.approvals import CommandApprovalRequest, Decision
from codexkit.testing import ScriptedModel, failure, json_reply, shell, stall, text, tool_call

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


def test_sync_rollback_rename_archive_list_and_read(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend(
        [text("kept"), text("first answer"), text("second answer"), text("third answer")]
    )
    with Codex(codex_home=codex_home, cwd=tmp_path) as codex:
        sent: list[Any] = []
        codex.use(lambda direction, message: sent.append(message.get("method")))
        kept = codex.start_thread()
        kept.run("keep me")
        thread = codex.start_thread()
        thread.run("first prompt")
        thread.run("second prompt")
        assert len(thread.read()["turns"]) == 2
        assert thread.rollback()["id"] == thread.id
        assert len(thread.read()["turns"]) == 1
        assert thread.ask("third prompt") == "third answer"
        with pytest.raises(CodexError):
            thread.rollback(5)

        thread.set_name("Release checklist")
        assert codex.read_thread(thread.id, include_turns=False)["name"] == "Release checklist"
        assert thread.refresh()["name"] == "Release checklist"
        assert thread.info["name"] == "Release checklist"

        listing = codex.list_threads(page_size=1, state_db_only=True)
        sent.clear()
        first = next(iter(listing))  # one page asked for, no more
        assert sent.count("thread/list") == 1
        assert (first.id, first.title) == (thread.id, "Release checklist")
        assert [t.id for t in listing] == [thread.id, kept.id]  # newest first
        pages = list(listing.pages())
        assert [len(page.threads) for page in pages] == [1, 1]
        assert pages[-1].next_cursor is None
        assert [t.id for t in listing.to_list(max_items=1)] == [thread.id]

        thread.archive()
        assert [t.id for t in codex.list_threads()] == [kept.id]
        # state_db_only: once a rolled-back thread was archived, codex 0.163.0's file scan
        # lists it once per rollout file (two here).
        archived = codex.list_threads(archived=True, state_db_only=True).to_list()
        assert [(t.id, t.archived) for t in archived] == [(thread.id, True)]
        assert thread.unarchive()["id"] == thread.id
        listed = codex.list_threads(state_db_only=True)
        assert sorted(t.id for t in listed) == sorted([kept.id, thread.id])
    texts = scripted_model.requests[3].user_texts()
    assert "first prompt" in texts
    assert "second prompt" not in texts
    assert "third prompt" in texts


def test_sync_models_and_exec_command(codex_home: Path, tmp_path: Path) -> None:
    chunks: list[tuple[str, bytes, str]] = []
    with Codex(codex_home=codex_home, cwd=tmp_path) as codex:
        models = codex.models()
        hi = codex.exec_command(["echo", "hi"])
        streamed = codex.exec_command(
            ["sh", "-c", "echo one; echo two >&2"],
            on_output=lambda stream, chunk: chunks.append(
                (stream, chunk, threading.current_thread().name)
            ),
        )
    assert models
    assert sum(m.is_default for m in models) == 1
    assert all(m.id and m.display_name for m in models)
    assert (hi.exit_code, hi.stdout, hi.ok) == (0, "hi\n", True)
    assert (streamed.stdout, streamed.stderr) == ("one\n", "two\n")
    assert b"".join(c for s, c, _ in chunks if s == "stdout") == b"one\n"
    assert b"".join(c for s, c, _ in chunks if s == "stderr") == b"two\n"
    # on_output is called in the calling thread, not on the client's loop thread
    assert {name for _, _, name in chunks} == {threading.current_thread().name}


lookups: list[tuple[str, str]] = []


@tool
def lookup(key: str) -> str:
    """Look a key up in the inventory.

    Args:
        key: The key to look up.
    """
    lookups.append((key, threading.current_thread().name))
    return f"value-of-{key}"


def test_sync_client_runs_a_tool(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    lookups.clear()
    scripted_model.extend([tool_call("lookup", {"key": "k1"}), text("It is value-of-k1.")])
    with Codex(codex_home=codex_home, cwd=tmp_path, tools=[lookup]) as codex:
        result = codex.start_thread().run("What is k1?")
    assert [key for key, _ in lookups] == ["k1"]
    assert lookups[0][1] != "codexkit-loop"  # a plain tool runs off the loop thread
    assert "lookup" in scripted_model.requests[0].tools
    [output] = scripted_model.requests[1].function_call_outputs()
    assert output["output"] == "value-of-k1"
    assert result.final_response == "It is value-of-k1."


def test_sync_approval_callback_records_and_decides(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    seen: list[CommandApprovalRequest] = []

    def decide(request: CommandApprovalRequest) -> Decision:
        seen.append(request)
        return "accept" if "allowed.txt" in request.command else "decline"

    scripted_model.extend(
        [
            shell("touch allowed.txt", escalate=True),
            shell("touch denied.txt", escalate=True),
            text("ok"),
        ]
    )
    policy = ApprovalPolicy.custom(on_command_execution=decide)
    with Codex(codex_home=codex_home, cwd=tmp_path, approval_policy=policy) as codex:
        result = codex.start_thread(sandbox="read-only").run("go", timeout=60)
    assert result.status == "completed"
    assert (tmp_path / "allowed.txt").exists()
    assert not (tmp_path / "denied.txt").exists()
    assert [("allowed.txt" in r.command, "denied.txt" in r.command) for r in seen] == [
        (True, False),
        (False, True),
    ]
    assert all(r.thread_id == result.thread_id and r.turn_id == result.turn_id for r in seen)
    [declined] = scripted_model.requests[2].function_call_outputs()[-1:]
    assert "rejected by user" in str(declined["output"])


def test_sync_account_and_settings(codex_home: Path, tmp_path: Path) -> None:
    with Codex(codex_home=codex_home, cwd=tmp_path) as codex:
        assert codex.account.read() is None
        assert codex.settings.read()["model"] == "mock-model"
        written = codex.settings.write("model", "other")
        assert written.status == "ok"
        assert codex.settings.read()["model"] == "other"
        login = codex.account.login_chatgpt()
        assert login.url.startswith("https://")
        with pytest.raises(CodexTimeoutError):
            login.wait(timeout=0.2)
        assert not login.done
        assert login.cancel() is True
        with pytest.raises(LoginFailedError):
            login.wait(timeout=10)
