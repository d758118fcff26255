"""The app-server as a child process speaking newline-delimited JSON over stdio.

The child runs in its own process group, so closing can reach every process it started,
and on Linux under a small supervisor (``_supervisor.py``) that also reaps what the
runtime started in sessions of its own. It is tied to our lifetime three ways, so it is
never orphaned: closing its stdin makes it exit; on Linux the kernel tells it when we
die (``PR_SET_PDEATHSIG``), even if we are SIGKILLed; and an ``atexit`` hook ends what
is still running when the interpreter exits without closing.

The app-server belongs to the process that started it. A forked child inherits the
transport, its pipes and the parent's event-loop state; it must never signal the
parent's server nor touch those pipes, so every clean-up path checks the pid first.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import json.scanner
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import MessageTooLargeError, TransportClosedError
from ._base import DEFAULT_MAX_MESSAGE_SIZE, LineSink, MessageSink, StderrTail, Transport
from ._supervisor import supervised

__all__ = ["StdioTransport"]

_log = logging.getLogger("codexkit")

# How long a child that closed stdout may take to exit (and the reverse) before we stop
# waiting for the other half and report the transport closed.
_SETTLE_SECONDS = 0.3

_LIVE: weakref.WeakSet[StdioTransport] = weakref.WeakSet()

# The C scanner behind json.loads, used directly to parse many messages in one string.
# (typeshed describes make_scanner as a class taking a scanner; it takes a decoder.)
_scan_once = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


class StdioTransport(Transport):
    """Spawn ``argv`` and exchange messages over its stdin and stdout.

    A stdout line over ``max_message_size`` bytes closes the connection with
    :class:`MessageTooLargeError` (the line is dropped as it arrives, never held whole).
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        close_timeout: float = 3.0,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self._argv = list(argv)
        self._max_message_size = max_message_size
        self._cwd = cwd
        self._env = env
        self._close_timeout = close_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._stdin: asyncio.WriteTransport | None = None
        self._pipes: list[asyncio.BaseTransport] = []
        self._stderr = StderrTail()
        self._sink: MessageSink | None = None
        self._stdout_done = False
        self._exit_code: int | None = None
        self._exited = asyncio.Event()
        self._closed = False
        self._reported = False
        self._settle: asyncio.TimerHandle | None = None
        self._pidfd: int | None = None

    @property
    def pid(self) -> int | None:
        """The process id of the child we spawned (the supervisor, where one runs), also
        the id of the process group holding it and the app-server."""
        return self._proc.pid if self._proc else None

    async def start(self, sink: MessageSink) -> None:
        loop = asyncio.get_running_loop()
        self._sink = sink
        # Popen only forks and execs; asyncio's own subprocess support does the same here.
        argv, hook = tied_to_parent(self._argv)
        self._owner = os.getpid()
        self._proc = subprocess.Popen(  # noqa: ASYNC220
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self._cwd,
            env=self._env,
            start_new_session=True,
            preexec_fn=hook,
        )
        _LIVE.add(self)
        stdin, stdout, stderr = _for_the_loop(loop, self._proc)
        self._stdin, _ = await loop.connect_write_pipe(_WriteSide, stdin)
        out, _ = await loop.connect_read_pipe(
            lambda: _LineReader(
                sink,
                self._on_stdout_eof,
                max_message_size=self._max_message_size,
                on_too_large=self._on_too_large,
            ),
            stdout,
        )
        err, _ = await loop.connect_read_pipe(lambda: _StderrReader(self._stderr), stderr)
        self._pipes = [self._stdin, out, err]
        self._watch_exit(loop)

    def send(self, data: bytes) -> None:
        if self._stdin is None or self._stdin.is_closing() or self._reported:
            raise self._closed_error("the app-server connection is closed")
        self._stdin.writelines((data, b"\n"))

    def stderr_tail(self) -> str:
        return self._stderr.text()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        proc = self._proc
        if proc is None:
            return
        if self._inherited():
            # The server and the pipes' registrations in the event loop are the parent's.
            _LIVE.discard(self)
            return
        if self._stdin is not None:
            self._stdin.close()
        if not await self._wait_exit(self._close_timeout):
            _signal_group(proc.pid, signal.SIGTERM)
            if not await self._wait_exit(1.0):
                _signal_group(proc.pid, signal.SIGKILL)
                await self._wait_exit(1.0)
        # The leader is gone; anything it left in its group goes too. The pid cannot be
        # reused yet because the leader is reaped only below.
        _signal_group(proc.pid, signal.SIGKILL)
        self._reap()
        for pipe in self._pipes:
            pipe.close()
        _LIVE.discard(self)
        self._report_closed()

    # -- exit and EOF bookkeeping -------------------------------------------------------

    def _watch_exit(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self._proc is not None
        try:
            self._pidfd = os.pidfd_open(self._proc.pid)
        except (AttributeError, OSError):
            self._pidfd = None
        if self._pidfd is not None:
            loop.add_reader(self._pidfd, self._on_exit_ready, loop)
        else:
            self._poll_exit(loop)

    def _poll_exit(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self._on_exit()
        elif not self._exited.is_set():
            loop.call_later(0.05, self._poll_exit, loop)

    def _on_exit_ready(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self._pidfd is not None
        loop.remove_reader(self._pidfd)
        os.close(self._pidfd)  # here, not in close(): a client never closed leaks no fd
        self._pidfd = None
        self._on_exit()

    def _on_exit(self) -> None:
        assert self._proc is not None
        # Reading the exit status without reaping keeps the group id ours until close().
        self._exit_code = _peek_exit_code(self._proc)
        self._exited.set()
        self._after_half_closed()

    def _on_too_large(self, limit: int) -> None:
        # The lost line may be an answer or a turn's end that something waits for: end the
        # connection, so everything waiting fails now with the reason. The server exits
        # once its stdin closes; the reader drops what it still writes.
        self._report_closed(MessageTooLargeError(limit, stderr_tail=self._stderr.text()))
        if self._stdin is not None:
            self._stdin.close()

    def _on_stdout_eof(self) -> None:
        self._stdout_done = True
        self._after_half_closed()

    def _after_half_closed(self) -> None:
        if self._stdout_done and self._exited.is_set():
            self._report_closed()
        elif self._settle is None:
            self._settle = asyncio.get_running_loop().call_later(
                _SETTLE_SECONDS, self._report_closed
            )

    def _report_closed(self, error: TransportClosedError | None = None) -> None:
        if self._settle is not None:
            self._settle.cancel()
        if self._reported:
            return
        self._reported = True
        self._stderr.flush()
        reason = "the app-server was closed" if self._closed else "the app-server exited"
        if self._sink is not None:
            self._sink.on_closed(error or self._closed_error(reason))

    def _closed_error(self, message: str) -> TransportClosedError:
        return TransportClosedError(
            message, exit_code=self._exit_code, stderr_tail=self._stderr.text()
        )

    async def _wait_exit(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._exited.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def _reap(self) -> None:
        assert self._proc is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._exit_code = self._proc.wait(timeout=1.0)
        if self._pidfd is not None:
            with contextlib.suppress(OSError, RuntimeError):
                asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    def abandon(self) -> bool:
        """End the child now, from any thread and without the event loop: for a client
        collected or an interpreter exiting without close(). Only signals, no closing of
        descriptors the event loop may still watch; the loop releases them on EOF."""
        proc = self._proc
        if proc is None or self._closed or self._inherited():
            return False
        self._closed = True
        _LIVE.discard(self)
        # SIGTERM first: the supervisor then reaps what the server left before exiting.
        _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 1.0
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        _signal_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1.0)
        return True


class _WriteSide(asyncio.Protocol):
    """Write-pipe protocol; stdin errors surface through the exit and EOF path."""


class _LineReader(asyncio.Protocol):
    """Cuts stdout into newline-delimited JSON messages of up to ``max_message_size``.

    A read usually holds many whole lines. They are decoded once and parsed in place with
    the C JSON scanner, which is several times cheaper than slicing and parsing each line
    on its own; a line the scanner does not take whole goes to ``on_message`` as bytes,
    where it is parsed (or reported as malformed) alone.

    Each message is handed over on its own: if the sink raises on one, that is logged and
    the next one is handed over all the same. A line over the limit is not kept: what
    came of it is freed, the rest is dropped as it arrives, and ``on_too_large`` is told.
    """

    def __init__(
        self,
        sink: LineSink,
        on_eof: Callable[[], None],
        *,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        on_too_large: Callable[[int], None] | None = None,
    ) -> None:
        self._sink = sink
        self._on_eof = on_eof
        self._buf = bytearray()
        self._limit = sys.maxsize if max_message_size is None else max_message_size
        self._on_too_large = on_too_large
        self._skipping = False  # inside a line over the limit: drop up to its newline

    def data_received(self, data: bytes) -> None:
        if self._skipping:
            start = data.find(b"\n")
            if start < 0:
                return
            self._skipping = False
            data = data[start + 1 :]
        buf = self._buf
        scan_from = len(buf)
        buf += data
        end = buf.rfind(b"\n", scan_from)
        if end < 0:  # no line ends in this read: keep gathering, up to the limit
            if len(buf) > self._limit:
                self._buf = bytearray()  # give the memory back now
                self._skipping = True
                self._too_large()
            return
        chunk = bytes(buf[: end + 1])
        del buf[: end + 1]
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            self._lines(chunk)
        else:
            self._scan(text, chunk)

    def _scan(self, text: str, chunk: bytes) -> None:
        on_parsed = self._sink.on_parsed
        scan = _scan_once
        pos, size, limit = 0, len(text), self._limit
        while pos < size:
            if text[pos] == "\n":
                pos += 1
                continue
            try:
                message, after = scan(text, pos)
            except (StopIteration, ValueError, RecursionError):
                after = -1
            if after < size and after >= 0 and text[after] == "\n":
                if after - pos > limit:
                    self._too_large()
                else:
                    try:
                        on_parsed(message)
                    except Exception:
                        _log.exception("handling a message from codex failed")
                pos = after + 1
                continue
            # Not one clean JSON value up to the newline: hand that line over as it is.
            line_end = text.index("\n", pos)
            self._hand_over(text[pos:line_end].encode("utf-8"))
            pos = line_end + 1

    def _lines(self, chunk: bytes) -> None:
        for line in chunk.split(b"\n"):
            if line.strip():
                self._hand_over(line)

    def _hand_over(self, line: bytes) -> None:
        if len(line) > self._limit:
            self._too_large()
            return
        try:
            self._sink.on_message(line)
        except Exception:
            _log.exception("handling a message from codex failed")

    def _too_large(self) -> None:
        _log.error("a message from codex is over %d bytes (max_message_size)", self._limit)
        if self._on_too_large is not None:
            self._on_too_large(self._limit)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._buf.strip():
            self._hand_over(bytes(self._buf))
        self._buf.clear()
        self._on_eof()


class _StderrReader(asyncio.Protocol):
    def __init__(self, tail: StderrTail) -> None:
        self._tail = tail

    def data_received(self, data: bytes) -> None:
        self._tail.feed(data)


def _for_the_loop(loop: asyncio.AbstractEventLoop, proc: subprocess.Popen[bytes]) -> list[Any]:
    """The child's stdin, stdout and stderr as file objects for the event loop's pipe
    transports to own alone; ``proc``'s own are closed.

    uvloop hands a pipe's descriptor to libuv, which closes it with the transport, and
    keeps the file object it was given, which closes the same number again when it is
    collected (uvloop issue 763). A descriptor another thread opened in between (a
    socket, a database file) would be closed under it. So the loop gets a duplicate,
    in a file object that leaves closing to libuv on uvloop and closes it itself on
    asyncio's loop, and ``Popen``'s objects close the originals now."""
    on_uvloop = type(loop).__module__.split(".")[0] == "uvloop"
    pipes = []
    for pipe, mode in ((proc.stdin, "wb"), (proc.stdout, "rb"), (proc.stderr, "rb")):
        assert pipe is not None
        pipes.append(os.fdopen(os.dup(pipe.fileno()), mode, buffering=0, closefd=not on_uvloop))
        pipe.close()
    proc.stdin = proc.stdout = proc.stderr = None
    return pipes


def _peek_exit_code(proc: subprocess.Popen[bytes]) -> int | None:
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except (ChildProcessError, OSError):
        return proc.returncode
    if info is None:
        return None
    return -info.si_status if info.si_code in (os.CLD_KILLED, os.CLD_DUMPED) else info.si_status


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def tied_to_parent(argv: Sequence[str]) -> tuple[list[str], Callable[[], None] | None]:
    """How to start ``argv`` so that Linux ends it, and all it started, when its parent
    dies.

    Under the supervisor (see ``_supervisor.py``) where it can run. Otherwise
    ``setpriv --pdeathsig`` sets the signal and execs the program in place (same pid); it
    needs no Python code between fork and exec, which is unsafe in a process with
    threads and keeps ``subprocess`` off its fast spawn path. Without ``setpriv`` a
    pre-exec hook does the same job.
    """
    if not sys.platform.startswith("linux"):
        return list(argv), None
    under_supervisor = supervised(argv)
    if under_supervisor is not None:
        return under_supervisor, None
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, "--pdeathsig", "KILL", "--", *argv], None
    return list(argv), _death_signal_hook()


def _death_signal_hook() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGKILL the child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)

    return hook


@atexit.register
def _kill_leftovers() -> None:
    for transport in list(_LIVE):
        transport.abandon()
