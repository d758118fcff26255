"""Approvals and requests from the agent, with the real binary and the scripted model."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from codexkit import AsyncCodex
from codexkit.approvals import (
    ApprovalPolicy,
    CommandApprovalRequest,
    FileChangeApprovalRequest,
    UserInputRequest,
    allow_commands,
    allow_file_changes_under,
)
from codexkit.testing import ScriptedModel, apply_patch, shell, text, tool_call

pytestmark = pytest.mark.real


def _add_file(path: str, body: str = "hello") -> str:
    return f"*** Begin Patch\n*** Add File: {path}\n+{body}\n*** End Patch\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


async def _run(
    home: Path, workspace: Path, prompt: str = "go", **client: object
) -> tuple[AsyncCodex, str]:
    async with AsyncCodex(codex_home=home, cwd=workspace, **client) as codex:  # type: ignore[arg-type]
        thread = await codex.start_thread(sandbox="read-only")
        result = await thread.run(prompt, timeout=60)
    return codex, result.status


async def test_declined_command_does_not_run(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path
) -> None:
    scripted_model.extend([shell("touch declined.txt", escalate=True), text("ok")])
    _, status = await _run(codex_home, workspace, approval_policy="on-request")
    assert status == "completed"
    assert not (workspace / "declined.txt").exists()
    [output] = scripted_model.requests[1].function_call_outputs()
    assert "rejected by user" in str(output["output"])  # the agent is told, and goes on


async def test_accepted_command_runs(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path
) -> None:
    scripted_model.extend([shell("touch accepted.txt", escalate=True), text("ok")])
    await _run(codex_home, workspace, approval_policy=ApprovalPolicy.auto_accept())
    assert (workspace / "accepted.txt").exists()


async def test_rule_policy_accepts_one_command_and_declines_another_in_one_turn(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path
) -> None:
    seen: list[CommandApprovalRequest] = []
    allow = allow_commands("touch allowed.txt")

    def decide(request: CommandApprovalRequest) -> object:
        seen.append(request)
        return allow(request)

    scripted_model.extend(
        [
            shell("touch allowed.txt", escalate=True),
            shell("touch denied.txt", escalate=True),
            text("ok"),
        ]
    )
    policy = ApprovalPolicy.custom(on_command_execution=decide)  # type: ignore[arg-type]
    await _run(codex_home, workspace, approval_policy=policy)
    assert (workspace / "allowed.txt").exists()
    assert not (workspace / "denied.txt").exists()
    assert len(seen) == 2
    assert all(request.thread_id and request.turn_id for request in seen)


async def test_file_changes_are_allowed_only_under_the_given_paths(
    scripted_model: ScriptedModel, tmp_path: Path, workspace: Path
) -> None:
    home = scripted_model.codex_home(tmp_path / "home", extra_config={"model": "gpt-5.5"})
    (workspace / "src").mkdir()
    seen: list[FileChangeApprovalRequest] = []
    allow = allow_file_changes_under(workspace / "src")

    def decide(request: FileChangeApprovalRequest) -> object:
        seen.append(request)
        return allow(request)

    scripted_model.extend(
        [
            apply_patch(_add_file("src/inside.txt")),
            apply_patch(_add_file("outside.txt")),
            text("ok"),
        ]
    )
    policy = ApprovalPolicy.custom(on_file_change=decide)  # type: ignore[arg-type]
    await _run(home, workspace, approval_policy=policy)
    assert (workspace / "src" / "inside.txt").read_text() == "hello\n"
    assert not (workspace / "outside.txt").exists()
    assert [request.paths for request in seen] == [
        [str(workspace / "src" / "inside.txt")],
        [str(workspace / "outside.txt")],
    ]


async def test_thread_policy_overrides_the_clients(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path
) -> None:
    scripted_model.extend(
        [
            shell("touch by-thread.txt", escalate=True),
            text("ok"),
            shell("touch by-client.txt", escalate=True),
            text("ok"),
        ]
    )
    async with AsyncCodex(codex_home=codex_home, cwd=workspace) as codex:  # auto_decline
        accepting = await codex.start_thread(approval_policy=ApprovalPolicy.auto_accept())
        await accepting.run("first")
        default = await codex.start_thread(approval_policy="on-request")
        await default.run("second")
    assert (workspace / "by-thread.txt").exists()
    assert not (workspace / "by-client.txt").exists()


async def test_mode_never_means_codex_asks_nothing(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path
) -> None:
    asked: list[object] = []
    scripted_model.extend([shell("echo hi", escalate=True), text("ok")])
    policy = ApprovalPolicy.custom(on_command_execution=asked.append, mode="never")
    await _run(codex_home, workspace, approval_policy=policy)
    assert asked == []


async def test_an_unanswered_request_is_declined_after_the_timeout(
    scripted_model: ScriptedModel,
    codex_home: Path,
    workspace: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="codexkit")

    async def never_answers(request: CommandApprovalRequest) -> str:
        await asyncio.sleep(60)
        return "accept"

    scripted_model.extend([shell("touch slow.txt", escalate=True), text("ok")])
    policy = ApprovalPolicy.custom(on_command_execution=never_answers, timeout=0.5)
    started = time.monotonic()
    _, status = await _run(codex_home, workspace, approval_policy=policy)
    assert status == "completed"
    assert time.monotonic() - started < 10
    assert not (workspace / "slow.txt").exists()
    assert "no answer to item/commandExecution/requestApproval within 0.5 s" in caplog.text


async def test_user_input_answers_reach_the_model(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path
) -> None:
    questions = [
        {
            "id": "color",
            "header": "Color",
            "question": "Favourite colour?",
            "options": [
                {"label": "red", "description": "warm"},
                {"label": "blue", "description": "cool"},
            ],
        }
    ]
    scripted_model.extend([tool_call("request_user_input", {"questions": questions}), text("ok")])
    asked: list[UserInputRequest] = []

    def answer(request: UserInputRequest) -> dict[str, str]:
        asked.append(request)
        return {request.questions[0].id: "blue"}

    policy = ApprovalPolicy.custom(on_user_input=answer)
    async with AsyncCodex(codex_home=codex_home, cwd=workspace, approval_policy=policy) as codex:
        thread = await codex.start_thread()
        await thread.run("Ask me", collaboration_mode="plan")
    assert asked[0].questions[0].options == ["red", "blue"]
    [output] = scripted_model.requests[1].function_call_outputs()
    assert '"color":{"answers":["blue"]}' in str(output["output"]).replace(" ", "")


async def test_a_slow_answer_does_not_count_as_the_agent_going_idle(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path
) -> None:
    async def think_it_over(request: CommandApprovalRequest) -> str:
        await asyncio.sleep(1.5)  # longer than the turn's idle limit below
        return "accept"

    scripted_model.extend([shell("touch pondered.txt", escalate=True), text("ok")])
    policy = ApprovalPolicy.custom(on_command_execution=think_it_over)
    _, status = await _run(codex_home, workspace, approval_policy=policy, turn_idle_timeout=0.5)
    assert status == "completed"
    assert (workspace / "pondered.txt").exists()
