"""The first-start lock on a fresh CODEX_HOME (the real servers' race is in
test_real_shared_home.py): what it must not do to its neighbours."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from codexkit._runtime.home_lock import first_start_lock


async def test_a_child_forked_during_a_first_start_does_not_keep_the_lock(
    tmp_path: Path,
) -> None:
    async with first_start_lock(str(tmp_path), timeout=5):  # no state database: held
        child = os.fork()
        if child == 0:  # a worker forked meanwhile, living on with the lock file open
            time.sleep(30)
            os._exit(0)
    try:
        started = time.monotonic()
        async with first_start_lock(str(tmp_path), timeout=5):
            pass
        assert time.monotonic() - started < 1
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)  # noqa: ASYNC222 (killed: returns at once)


async def test_a_home_set_up_already_is_not_held(tmp_path: Path) -> None:
    (tmp_path / "state_5.sqlite").touch()
    first, second = (first_start_lock(str(tmp_path), timeout=t) for t in (5, 0.5))
    async with first, second:
        pass  # the second start went on while the first was still starting
