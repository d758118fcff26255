"""Test code that uses the agent, offline: the real codex against a scripted model.

Run with ``pytest examples/06_offline_test.py``; the fixtures come from codexkit's
pytest plugin.
"""

from pathlib import Path

import pytest

from codexkit import AsyncCodex
from codexkit.testing import ScriptedModel, shell, text

pytestmark = pytest.mark.asyncio  # run by pytest-asyncio in any configuration


async def test_the_agent_runs_a_command_and_reports(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(shell("echo 3 files"))
    scripted_model.add(text("There are 3 files."))

    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        result = await thread.run("How many files are there?")

    assert result.final_response == "There are 3 files."
    assert "3 files" in (result.commands[0].aggregated_output or "")
    assert scripted_model.requests[0].last_user_text == "How many files are there?"
