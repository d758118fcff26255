"""One app-server at a time sets up a ``CODEX_HOME`` that was never used.

On its first start in a home, the runtime creates its sqlite databases; several servers
starting at that moment race to create them and some die ("failed to initialize sqlite
state runtime"). Once they exist, any number of servers start side by side. So each
start takes an exclusive ``flock`` on a file in the home (across processes too) and,
while the home has no state database yet, holds it until its server has answered
``initialize``; once the database exists the lock is let go at once, and later starts
pay only for taking it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from ..errors import CodexTimeoutError

__all__ = ["codex_home_dir", "first_start_lock"]

_log = logging.getLogger("codexkit")

LOCK_NAME = ".codexkit-start.lock"
# The runtime's state database, versioned in its name (state_5.sqlite in 0.163 to 0.171).
_STATE_DB = "state_*.sqlite"
_POLL = 0.01


def codex_home_dir(env: Mapping[str, str]) -> str:
    """The ``CODEX_HOME`` a server started with the environment ``env`` uses."""
    home = env.get("CODEX_HOME")
    if home:
        return home
    return os.path.join(env.get("HOME") or os.path.expanduser("~"), ".codex")


@contextlib.asynccontextmanager
async def first_start_lock(home: str, timeout: float) -> AsyncIterator[None]:
    """Around spawning a server on ``home`` and its ``initialize``: waits while another
    start sets the home up (raising :class:`CodexTimeoutError` after ``timeout`` s), and
    holds the lock itself if the home still needs setting up."""
    fd = _open_lock(home)
    if fd is None:
        yield
        return
    try:
        await _acquire(fd, home, timeout)
        if _set_up(home):
            _release(fd)  # set up already: let the others go on side by side
            fd = None
        yield
    finally:
        if fd is not None:
            _release(fd)


def _release(fd: int) -> None:
    # Unlock explicitly: a child forked meanwhile shares the open file, and closing our
    # descriptor alone would leave the lock held for as long as that child lives.
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _set_up(home: str) -> bool:
    return any(Path(home).glob(_STATE_DB))


def _open_lock(home: str) -> int | None:
    if not os.path.isdir(home):
        return None  # the runtime reports a missing CODEX_HOME better than we can
    try:
        return os.open(os.path.join(home, LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:  # a read-only home, say: start unguarded
        _log.debug("cannot lock %s for the first start: %s", home, exc)
        return None


async def _acquire(fd: int, home: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise CodexTimeoutError(
                    f"another app-server was still setting up CODEX_HOME {home} after {timeout:g} s"
                ) from None
            await asyncio.sleep(_POLL)
