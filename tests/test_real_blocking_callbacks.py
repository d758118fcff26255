"""Plain callbacks that block: they must neither keep the program from exiting nor starve
the callbacks after them. Real binary, scripted model."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from codexkit import AsyncCodex
from codexkit.approvals import ApprovalPolicy, CommandApprovalRequest
from codexkit.testing import ScriptedModel, shell, text

pytestmark = pytest.mark.real

# A program whose approval callback never returns; the policy declines at 0.5 s.
_NEVER_ANSWERS = textwrap.dedent(
    """
    import asyncio, sys, threading
    from codexkit import AsyncCodex, Codex
    from codexkit.approvals import ApprovalPolicy

    def never_answers(request):
        threading.Event().wait()

    policy = ApprovalPolicy.custom(on_command_execution=never_answers, timeout=0.5)
    home, cwd, client = sys.argv[1:4]

    async def main():
        async with AsyncCodex(codex_home=home, cwd=cwd, approval_policy=policy) as codex:
            thread = await codex.start_thread()
            return (await thread.run("go", timeout=30)).status

    if client == "async":
        status = asyncio.run(main())
    else:
        with Codex(codex_home=home, cwd=cwd, approval_policy=policy) as codex:
            status = codex.start_thread().run("go", timeout=30).status
    print(status, "and returned", flush=True)
    """
)


@pytest.mark.parametrize("client", ["async", "sync"])
def test_a_callback_that_never_returns_does_not_keep_the_program_alive(
    client: str, scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([shell("touch never.txt", escalate=True), text("ok")])
    script = tmp_path / "never_answers.py"
    script.write_text(_NEVER_ANSWERS)
    done = subprocess.run(
        [sys.executable, str(script), str(codex_home), str(tmp_path), client],
        capture_output=True,
        text=True,
        timeout=60,  # before the fix: asyncio.run / the interpreter wait for the callback
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "completed and returned"
    assert not (tmp_path / "never.txt").exists()


async def test_blocked_callbacks_do_not_starve_later_ones(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    blocking = 7  # more than the event loop's default executor has threads on this machine
    for n in range(blocking):
        scripted_model.add(shell(f"touch blocked-{n}.txt", escalate=True), match=f"blocked {n}")
    scripted_model.extend([shell("touch later.txt", escalate=True), text("ok")])
    loop = asyncio.get_running_loop()
    all_blocked = asyncio.Event()
    entered: list[str] = []
    release = threading.Event()

    def decide(request: CommandApprovalRequest) -> str:
        if "blocked-" not in request.command:
            return "accept"
        entered.append(request.command)
        if len(entered) == blocking:
            loop.call_soon_threadsafe(all_blocked.set)
        release.wait(60)
        return "decline"

    policy = ApprovalPolicy.custom(on_command_execution=decide, timeout=60)
    try:
        async with AsyncCodex(codex_home=codex_home, cwd=tmp_path, approval_policy=policy) as codex:
            for n in range(blocking):
                thread = await codex.start_thread()
                await thread.turn(f"blocked {n}")
            await asyncio.wait_for(all_blocked.wait(), 30)
            later = await codex.start_thread()
            result = await later.run("later", timeout=30)
    finally:
        release.set()
    assert result.status == "completed"
    assert (tmp_path / "later.txt").exists()  # its callback ran, and accepted
