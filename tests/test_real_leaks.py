"""Nothing outlives its use: a client dropped without close(), a thread's own handlers,
the processes the runtime starts. Real binary, scripted model."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codexkit import AsyncCodex, AsyncThread, Codex, tool
from codexkit.approvals import ApprovalPolicy
from codexkit.testing import ScriptedModel, shell, text
from codexkit.transport import StdioTransport

pytestmark = pytest.mark.real

NO_SNAPSHOT = {"features": {"shell_snapshot": False}}


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, through parent links."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry))
    found: set[int] = set()
    queue = [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.add(child)
            queue.append(child)
    return found


def _eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _server_pid(codex: AsyncCodex) -> int:
    transport = codex.transport
    assert isinstance(transport, StdioTransport)
    assert transport.pid is not None
    return transport.pid


# -- clients dropped without close() ------------------------------------------------------


async def test_an_async_client_dropped_unclosed_stops_its_server_with_a_warning(
    codex_home: Path, tmp_path: Path
) -> None:
    codex = AsyncCodex(codex_home=codex_home, cwd=tmp_path, config=NO_SNAPSHOT)
    await codex.start()
    server = _server_pid(codex)
    with pytest.warns(ResourceWarning, match="without close"):
        del codex  # no cycle holds a client: it goes at once
    assert _eventually(lambda: not _alive(server), timeout=5)


async def test_a_client_closes_each_of_its_pipes_once(codex_home: Path, tmp_path: Path) -> None:
    # uvloop (0.23) hands a pipe's descriptor to libuv, which closes it with the
    # transport, and then closes the file object it was given, which closes the same
    # number again. Another thread that opened a descriptor in between (in a server: a
    # client's socket, the database) lost it. So the loop must get file objects that
    # leave the closing to libuv there, and the child's original pipes are closed at
    # once; on asyncio's loop the transport closes its file object, once.
    codex = AsyncCodex(codex_home=codex_home, cwd=tmp_path, config=NO_SNAPSHOT)
    await codex.start()
    transport = codex.transport
    assert isinstance(transport, StdioTransport)
    assert transport._proc is not None
    assert transport._proc.stdout is None  # the originals: closed, not left to the GC
    pipes = [each.get_extra_info("pipe") for each in transport._pipes]
    on_uvloop = type(asyncio.get_running_loop()).__module__.startswith("uvloop")
    assert [pipe.closefd for pipe in pipes] == [not on_uvloop] * 3
    await codex.close()
    await asyncio.sleep(0.05)  # libuv closes a handle's descriptor on its next round
    fresh = [os.pipe() for _ in range(8)]  # the lowest free numbers: the pipes' among them
    try:
        for pipe in pipes:
            pipe.close()  # what a collected file object does: nothing left to close
        del codex, transport, pipes
        gc.collect()
        for read, write in fresh:
            os.fstat(read)  # OSError (EBADF) if something closed it under us
            os.fstat(write)
    finally:
        for read, write in fresh:
            for fd in (read, write):
                with contextlib.suppress(OSError):
                    os.close(fd)


def test_a_sync_client_dropped_unclosed_stops_its_server_and_loop_thread(
    codex_home: Path, tmp_path: Path
) -> None:
    codex = Codex(codex_home=codex_home, cwd=tmp_path, config=NO_SNAPSHOT)
    codex.start()
    server = _server_pid(codex.async_client)
    [loop_thread] = [t for t in threading.enumerate() if t.name == "codexkit-loop"]
    with pytest.warns(ResourceWarning, match="without close"):
        del codex  # no cycle holds a client: it goes at once
    assert _eventually(lambda: not _alive(server), timeout=5)
    loop_thread.join(timeout=5)
    assert not loop_thread.is_alive()


# -- a thread's own handlers ----------------------------------------------------------------


async def _start_threads(codex: AsyncCodex, count: int, **options: Any) -> list[AsyncThread]:
    threads: list[AsyncThread] = []
    while len(threads) < count:
        batch = min(50, count - len(threads))
        threads += await asyncio.gather(*(codex.start_thread(**options) for _ in range(batch)))
    # The loop's handle that resumed us holds the last gather's results for the rest of
    # this step: end the step, so that dropping the returned handles releases them all.
    await asyncio.sleep(0)
    return threads


@tool
def shout(word: str) -> str:
    """Shout a word back."""
    return word.upper()


async def test_per_thread_handlers_go_with_the_last_handle_of_their_thread(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([shell("touch by-thread-policy.txt", escalate=True), text("ok")])
    accept = ApprovalPolicy.auto_accept()
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path, config=NO_SNAPSHOT) as codex:
        registered = codex._dispatcher.threads
        threads = await _start_threads(codex, 300, approval_policy=accept, tools=[shout])
        assert len(registered) == 300
        kept = threads.pop()
        again = codex.thread(kept.id)  # a second handle on the kept thread
        del threads
        gc.collect()
        assert list(registered) == [kept.id]
        # While a handle lives, its thread's own policy still answers for it.
        result = await kept.run("touch a file", timeout=60)
        assert result.status == "completed"
        assert (tmp_path / "by-thread-policy.txt").exists()
        del kept
        gc.collect()
        assert list(registered) == [again.id]
        del again
        gc.collect()
        assert len(registered) == 0


async def test_per_thread_handlers_go_when_the_thread_is_unsubscribed_archived_or_deleted(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([text("one"), text("two"), text("three")])
    accept = ApprovalPolicy.auto_accept()
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path, config=NO_SNAPSHOT) as codex:
        threads = [await codex.start_thread(approval_policy=accept) for _ in range(3)]
        for thread in threads:
            await thread.run("hello", timeout=60)  # archive and delete need a stored thread
        await threads[0].unsubscribe()
        await threads[1].archive()
        await threads[2].delete()
        assert len(codex._dispatcher.threads) == 0


# -- the processes the runtime starts ---------------------------------------------------------


@pytest.fixture
def slow_home(tmp_path: Path) -> Path:
    """A HOME whose login profile takes 30 s: the thread's shell snapshot runs it in a
    session of its own, with a child (the sleep) that outlives its shell."""
    home = tmp_path / "slow-home"
    home.mkdir()
    (home / ".bash_profile").write_text('echo $$ >> "$HOME/profile-started"\nsleep 30\n')
    return home


def _snapshot_running(slow_home: Path, server: int) -> set[int]:
    """Wait for the shell snapshot's profile to run; return what runs below the server."""
    assert _eventually(lambda: (slow_home / "profile-started").exists(), timeout=30)
    below = _descendants(server)
    assert any("sleep" in Path(f"/proc/{pid}/cmdline").read_text() for pid in below)
    return below


async def test_close_reaps_the_shell_snapshot_and_its_children(
    codex_home: Path, tmp_path: Path, slow_home: Path
) -> None:
    env = {"HOME": str(slow_home), "SHELL": "/bin/bash"}
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path, env=env) as codex:
        await codex.start_thread()
        below = _snapshot_running(slow_home, _server_pid(codex))
    assert _eventually(lambda: not any(_alive(pid) for pid in below), timeout=5)


def test_sigkill_of_the_parent_reaps_the_shell_snapshot_and_its_children(
    codex_home: Path, tmp_path: Path, slow_home: Path
) -> None:
    program = textwrap.dedent(
        f"""
        import asyncio
        from codexkit import AsyncCodex

        async def main():
            env = {{"HOME": {str(slow_home)!r}, "SHELL": "/bin/bash"}}
            codex = AsyncCodex(codex_home={str(codex_home)!r}, cwd={str(tmp_path)!r}, env=env)
            await codex.start()
            await codex.start_thread()
            print(codex.transport.pid, flush=True)  # type: ignore[union-attr]
            await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        server = int(parent.stdout.readline())
        below = _snapshot_running(slow_home, server) | {server}
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
    assert _eventually(lambda: not any(_alive(pid) for pid in below), timeout=5)
