"""One ``codex exec`` child: its prompt on stdin, its stdout lines, its stderr tail.

Spawned like the app-server (see ``_transport/_stdio.py``): in a process group of its
own, so ending it reaches every command the agent started, and tied to us with
``PR_SET_PDEATHSIG`` on Linux (``tied_to_parent``), so it dies with us even when we are
killed outright. The event loop's own
subprocess support reaps it, on asyncio and uvloop alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
from collections.abc import Sequence
from typing import Any, cast

from ..transport._base import StderrTail
from ..transport._stdio import _LineReader, _signal_group, tied_to_parent

__all__ = ["ExecProcess"]

Json = dict[str, Any]

# How long codex may take to exit after SIGTERM before it gets SIGKILL (it takes ~30 ms).
_TERM_GRACE = 1.0


class _Pipes(asyncio.SubprocessProtocol):
    """Queues what stdout says (see :meth:`ExecProcess.next_message`), keeps stderr,
    notes the exit. It is the ``MessageSink`` of the app-server's line reader."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[Json | bytes | None] = asyncio.Queue()
        self.stderr = StderrTail()
        self.exited = asyncio.Event()
        self._stdout = _LineReader(self, lambda: self.messages.put_nowait(None))

    def on_parsed(self, message: Any) -> None:
        if isinstance(message, dict):
            self.messages.put_nowait(message)
        else:  # JSON, but not an event
            self.messages.put_nowait(json.dumps(message).encode())

    def on_message(self, data: bytes) -> None:
        try:  # a line the reader's fast path left whole: it may still be an object
            self.on_parsed(json.loads(data))
        except (ValueError, RecursionError):  # not JSON, or nested past what Python parses
            self.messages.put_nowait(data)

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:
            self._stdout.data_received(data)
        else:
            self.stderr.feed(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self._stdout.connection_lost(exc)
        elif fd == 2:
            self.stderr.flush()

    def process_exited(self) -> None:
        self.exited.set()


class ExecProcess:
    """A running ``codex exec``. Start it with :meth:`spawn`; always end it with
    :meth:`terminate` (or :meth:`kill_now` where nothing can be awaited)."""

    def __init__(self, transport: asyncio.SubprocessTransport, pipes: _Pipes) -> None:
        self._transport = transport
        self._pipes = pipes
        self.pid: int = transport.get_pid()

    @classmethod
    async def spawn(cls, argv: Sequence[str], *, env: dict[str, str], stdin: bytes) -> ExecProcess:
        """Start ``argv`` and write ``stdin`` to it, then end its stdin."""
        loop = asyncio.get_running_loop()
        argv, hook = tied_to_parent(argv)
        transport, pipes = await loop.subprocess_exec(
            _Pipes,
            *argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
            preexec_fn=hook,
        )
        # A cast, not isinstance: uvloop's pipe transports do not subclass asyncio's.
        writer = cast(asyncio.WriteTransport, transport.get_pipe_transport(0))
        if not writer.is_closing():  # closed already if the child exited at once
            writer.write(stdin)
            writer.write_eof()  # sent once the prompt is flushed; codex reads to the end
        return cls(transport, pipes)

    @property
    def exit_code(self) -> int | None:
        """The exit status once it exited (negative: killed by that signal)."""
        return self._transport.get_returncode()

    def stderr_tail(self) -> str:
        return self._pipes.stderr.text()

    async def next_message(self, timeout: float | None) -> Json | bytes | None:
        """The next line of stdout: a JSON object, the bytes of a line that is not one,
        or ``None`` once stdout has ended (lines of any length; blank ones skipped).

        Raises :class:`asyncio.TimeoutError` when ``timeout`` seconds pass first."""
        messages = self._pipes.messages
        if not messages.empty():
            return messages.get_nowait()
        return await asyncio.wait_for(messages.get(), timeout)

    async def wait(self, timeout: float | None) -> bool:
        """Wait for the exit; ``False`` if ``timeout`` seconds passed first."""
        if self._pipes.exited.is_set():
            return True
        try:
            await asyncio.wait_for(self._pipes.exited.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def terminate(self) -> None:
        """End the whole process group (SIGTERM, then SIGKILL) and release the pipes.
        Safe to call when it has exited already, and twice."""
        try:
            if not self._pipes.exited.is_set():
                _signal_group(self.pid, signal.SIGTERM)
                if not await self.wait(_TERM_GRACE):
                    _signal_group(self.pid, signal.SIGKILL)
                    await self.wait(_TERM_GRACE)
        except BaseException:  # cancelled again while ending it: no more waiting
            self.kill_now()
            raise
        self.kill_now()

    def kill_now(self) -> None:
        """SIGKILL whatever is left of the group and close the pipes, without waiting.

        After a normal exit the group may still hold commands the agent left running in
        the background; they go too. (The loop has reaped the leader by then, but Linux
        does not hand out a group's number again while any member lives.) The loop reaps
        the leader on its own."""
        _signal_group(self.pid, signal.SIGKILL)
        with contextlib.suppress(RuntimeError):  # the event loop is already closed
            self._transport.close()
