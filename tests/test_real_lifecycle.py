"""Process lifecycle with the real binary: crashes, cycles, orphans, sockets."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from codexkit import AsyncCodex, TransportClosedError
from codexkit.testing import ScriptedModel, stall, text
from codexkit.transport import StdioTransport

pytestmark = pytest.mark.real


def _children(pid: int) -> list[int]:
    """Live (non-zombie) direct children of ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _server_pid(codex: AsyncCodex) -> int:
    transport = codex.transport
    assert isinstance(transport, StdioTransport)
    assert transport.pid is not None
    return transport.pid


async def test_killed_app_server_fails_the_turn_within_a_second(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(stall(30))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("Hang on")
        scripted_model.wait_for_requests(1, timeout=10)
        os.killpg(_server_pid(codex), signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(TransportClosedError) as caught:
            await turn.run()
        assert time.monotonic() - started < 1.0
        assert caught.value.exit_code == -signal.SIGKILL


async def test_two_hundred_open_close_cycles_leak_nothing(codex_home: Path, tmp_path: Path) -> None:
    async def cycle() -> None:
        async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
            assert codex.metadata.version

    await cycle()  # warm caches so the first cycle's one-time descriptors do not count
    fds_before = len(os.listdir("/proc/self/fd"))
    for _ in range(200):
        await cycle()
    assert _children(os.getpid()) == []
    assert len(os.listdir("/proc/self/fd")) == fds_before


@pytest.mark.parametrize("path", ["inherited", "without-setpriv"])
def test_sigkill_of_the_parent_leaves_no_orphan(
    codex_home: Path, tmp_path: Path, path: str
) -> None:
    # Without setpriv on PATH the death signal comes from a pre-exec hook instead.
    env = dict(os.environ)
    if path == "without-setpriv":
        env["PATH"] = str(tmp_path / "empty-bin")
    program = textwrap.dedent(
        f"""
        import asyncio, sys
        from codexkit import AsyncCodex

        async def main():
            async with AsyncCodex(codex_home={str(codex_home)!r}, cwd={str(tmp_path)!r}) as codex:
                print(codex.transport.pid, flush=True)  # type: ignore[union-attr]
                await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", program], stdout=subprocess.PIPE, text=True, env=env
    )
    assert parent.stdout is not None
    server = int(parent.stdout.readline())
    assert _alive(server)
    parent.kill()
    parent.wait(timeout=10)
    deadline = time.monotonic() + 5
    while _alive(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(server), "the app-server outlived its SIGKILLed parent"


async def test_interpreter_exit_without_close_leaves_no_process(
    codex_home: Path, tmp_path: Path
) -> None:
    program = textwrap.dedent(
        f"""
        import asyncio
        from codexkit import AsyncCodex

        async def main():
            codex = AsyncCodex(codex_home={str(codex_home)!r}, cwd={str(tmp_path)!r})
            await codex.start()
            print(codex.transport.pid, flush=True)  # type: ignore[union-attr]
            # no close(): the interpreter exits with the server still running

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30
    )
    server = int(done.stdout.split()[0])
    deadline = time.monotonic() + 5
    while _alive(server) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not _alive(server)


async def test_connect_to_a_running_app_server_over_a_unix_socket(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    from codexkit import find_codex

    scripted_model.extend([text("over the socket"), text("second")])
    socket_path = tmp_path / "app-server.sock"
    binary = find_codex()
    server = subprocess.Popen(
        [binary.path, "app-server", "--listen", f"unix://{socket_path}"],
        env=binary.child_env({"CODEX_HOME": str(codex_home)}),
        cwd=tmp_path,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        async with AsyncCodex(connect=f"unix://{socket_path}") as codex:
            thread = await codex.start_thread(cwd=tmp_path)
            assert await thread.ask("hello socket") == "over the socket"
        # Disconnecting leaves the server running for the next client.
        assert server.poll() is None
        async with AsyncCodex(connect=f"unix://{socket_path}") as codex:
            thread = await codex.start_thread(cwd=tmp_path)
            assert await thread.ask("again") == "second"
    finally:
        server.terminate()
        server.wait(timeout=10)
