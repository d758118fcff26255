"""Many app-servers started at once on one CODEX_HOME that was never used: the runtime's
first-use database set-up must not make any of them die. Real binary."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codexkit import AsyncCodex
from codexkit.testing import ScriptedModel, text

pytestmark = pytest.mark.real

NO_SNAPSHOT = {"features": {"shell_snapshot": False}}


def _fresh_home(scripted_model: ScriptedModel, path: Path) -> Path:
    home = scripted_model.codex_home(path, extra_config=NO_SNAPSHOT)
    assert sorted(p.name for p in home.iterdir()) == ["config.toml"]  # never used
    return home


async def test_eight_clients_start_at_once_on_a_fresh_home(
    scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    home = _fresh_home(scripted_model, tmp_path / "fresh-home")
    scripted_model.extend(text(f"answer {n}").matching(f"prompt {n}") for n in range(8))

    async def one(n: int) -> str:
        async with AsyncCodex(codex_home=home, cwd=tmp_path) as codex:
            thread = await codex.start_thread()
            return await thread.ask(f"prompt {n}", timeout=60)

    answers = await asyncio.gather(*(one(n) for n in range(8)))
    assert answers == [f"answer {n}" for n in range(8)]


@pytest.mark.slow
def test_eight_processes_start_at_once_on_a_fresh_home(
    scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    home = _fresh_home(scripted_model, tmp_path / "fresh-home")
    scripted_model.extend(text(f"answer {n}").matching(f"prompt {n}") for n in range(8))
    program = textwrap.dedent(
        f"""
        import sys
        from codexkit import Codex

        n = sys.argv[1]
        print("ready", flush=True)
        sys.stdin.readline()  # every process is ready: go, all at once
        with Codex(codex_home={str(home)!r}, cwd={str(tmp_path)!r}) as codex:
            print(codex.start_thread().ask("prompt " + n, timeout=60), flush=True)
        """
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", program, str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(8)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline() == "ready\n"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outcomes = [worker.communicate(timeout=120) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert [worker.returncode for worker in workers] == [0] * 8, [err for _, err in outcomes]
    assert [out.strip() for out, _ in outcomes] == [f"answer {n}" for n in range(8)]
