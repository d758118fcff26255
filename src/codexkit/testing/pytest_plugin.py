"""pytest fixtures for running the agent against a scripted model.

Loaded automatically (entry point ``pytest11: codexkit``) wherever codexkit is
installed, so this module imports nothing beyond pytest until a fixture is used.

- ``scripted_model``: a started `ScriptedModel`, stopped after the test.
- ``codex_home``: a directory whose ``config.toml`` points codex at
  ``scripted_model``, with approval policy "never" and a read-only sandbox.
  Pass it as ``CODEX_HOME`` to the agent.

An ``async def`` test that uses one of these fixtures runs on a fresh asyncio event
loop when no async plugin (pytest-asyncio, anyio, ...) has taken it, so the SDK's
async API works in a project that installed nothing but pytest and codexkit.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from codexkit.testing._server import ScriptedModel

_OWN_FIXTURES = frozenset({"scripted_model", "codex_home"})


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


# Called after the async plugins and before pytest's own implementation (which fails
# every coroutine test): pytest-asyncio has replaced the test function with a plain
# one by then, and anyio (tryfirst) has answered the call itself, so a test they run
# is never run a second time here.
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` test that uses codexkit's fixtures and that no async plugin
    took, with :func:`asyncio.run`."""
    function = pyfuncitem.obj
    if not inspect.iscoroutinefunction(function):
        return None
    if _OWN_FIXTURES.isdisjoint(pyfuncitem.fixturenames):
        return None
    import asyncio

    # The arguments pytest itself would pass: the fixtures the signature names.
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(function(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True
