"""Helpers for tests of the control plane's runtime: start one on a scripted model, and
wait for frames (events, never sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from codexkit.server.runtime import Frame, Runtime, RuntimeSettings, Subscription
from codexkit.server.store import default_url

Json = dict[str, Any]


@asynccontextmanager
async def running(
    codex_home: Path, workspace: Path, data: Path, *, database_url: str | None = None, **more: Any
) -> AsyncIterator[Runtime]:
    data.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a test's own tmp dir, once
    settings = RuntimeSettings(
        database_url=database_url or default_url(data),
        codex_home=str(codex_home),
        default_cwd=str(workspace),
        **more,
    )
    runtime = await Runtime.start(settings)
    try:
        yield runtime
    finally:
        await runtime.close()


async def frame(
    subscription: Subscription,
    type_: str,
    where: Callable[[Frame], bool] = lambda f: True,
    *,
    timeout: float = 30.0,
    seen: list[Frame] | None = None,
) -> Frame:
    """The next frame of ``type_`` that ``where`` accepts (the others go to ``seen``)."""

    async def find() -> Frame:
        while True:
            got = await subscription.get()
            if got is None:
                raise AssertionError(f"subscription ended ({subscription.dropped})")
            if seen is not None:
                seen.append(got)
            if got.type == type_ and where(got):
                return got

    return await asyncio.wait_for(find(), timeout)


def completed(turn_id: str) -> Callable[[Frame], bool]:
    """Accepts the ``app_server.turn.completed`` frame of ``turn_id``."""
    return lambda f: f.payload["context"]["turnId"] == turn_id
