"""pytest fixtures for running the agent against a scripted model.

Loaded automatically (entry point ``pytest11: codexkit``) wherever codexkit is
installed, so this module imports nothing beyond pytest until a fixture is used.

- ``scripted_model``: a started `ScriptedModel`, stopped after the test.
- ``codex_home``: a directory whose ``config.toml`` points codex at
  ``scripted_model``, with approval policy "never" and a read-only sandbox.
  Pass it as ``CODEX_HOME`` to the agent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from codexkit.testing._server import ScriptedModel


@pytest.fixture
def scripted_model() -> Iterator[ScriptedModel]:
    """A running scripted model; queue replies with ``scripted_model.add(...)``."""
    from codexkit.testing._server import ScriptedModel

    with ScriptedModel() as model:
        yield model


@pytest.fixture
def codex_home(scripted_model: ScriptedModel, tmp_path: Path) -> Path:
    """A ``CODEX_HOME`` directory wired to ``scripted_model``."""
    return scripted_model.codex_home(tmp_path / "codex-home")
