"""The client's message path never wedges, loses a message or grows without bound.

Against the scripted stand-in app-server: these are the frames, floods and endless lines
the real binary cannot send on demand.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from codexkit import (
    AgentMessageDelta,
    AsyncCodex,
    AsyncTurn,
    Codex,
    ConcurrentConsumerError,
    Event,
    EventBufferFullError,
    MalformedEvent,
    MessageTooLargeError,
    MethodNotFoundError,
    ProtocolError,
    TransportClosedError,
)
from codexkit._connection.rpc import Connection
from codexkit.transport import MessageSink, StdioTransport, Transport
from codexkit.transport._stdio import _LineReader

MiB = 1024 * 1024


# -- item 2: one bad frame, one bad middleware ---------------------------------------


@pytest.mark.parametrize("bad", ["filechange", "threadid", "responseid", "deep"])
async def test_a_bad_frame_leaves_the_rest_of_its_read_intact(
    fake_codex: Callable[..., str], caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    caplog.set_level(logging.WARNING, logger="codexkit")
    async with AsyncCodex(codex_bin=fake_codex("onewrite", bad), turn_idle_timeout=5) as codex:
        thread = await codex.start_thread()
        # The turn/start answer follows the bad frame in the same read.
        turn = await asyncio.wait_for(thread.turn("go"), 5)
        events: list[Event] = []
        await asyncio.wait_for(_drain(turn, events), 5)
        assert turn.result is not None
        assert turn.result.status == "completed"
        assert turn.result.final_response == "done"
        malformed = [e for e in events if isinstance(e, MalformedEvent)]
        # The file change of the wrong shape reaches its turn, raw; the others name no turn.
        assert [e.method for e in malformed] == (["item/started"] if bad == "filechange" else [])
        # The connection is still good for the next turn.
        assert (await thread.run("again", timeout=5)).final_response == "done"
    assert any(record.name == "codexkit" for record in caplog.records), "the bad frame is logged"


async def test_a_raising_middleware_is_logged_and_the_message_still_handled(
    fake_codex: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    def broken(direction: str, message: dict[str, Any]) -> None:
        if message.get("method") in ("item/completed", "turn/start"):
            raise RuntimeError("bug in my middleware")

    caplog.set_level(logging.ERROR, logger="codexkit")
    codex = AsyncCodex(codex_bin=fake_codex("onewrite", "none"), turn_idle_timeout=5)
    codex.use(broken)
    async with codex:
        thread = await codex.start_thread()
        result = await thread.run("go", timeout=5)
    # item/completed, whose middleware raised, and turn/completed of the same read arrive.
    assert result.status == "completed"
    assert result.final_response == "done"
    assert "bug in my middleware" in caplog.text


async def _async_middleware(direction: str, message: dict[str, Any]) -> None:
    pass


class _AsyncCallable:
    async def __call__(self, direction: str, message: dict[str, Any]) -> None:
        pass


@pytest.mark.parametrize("hook", [_async_middleware, _AsyncCallable()])
def test_async_middleware_is_refused_at_registration(hook: Any) -> None:
    for client in (AsyncCodex(), Codex()):
        with pytest.raises(TypeError, match="middleware"):
            client.use(hook)
    with pytest.raises(TypeError, match="middleware"):
        Connection(_NullTransport(), on_notification=lambda *_: None).use(hook)


# -- item 5: a stream always ends, and has one consumer at a time ---------------------


@pytest.mark.parametrize("shape", ["string", "nostatus", "null"])
async def test_a_malformed_turn_completed_ends_the_stream_with_a_typed_error(
    fake_codex: Callable[..., str], shape: str
) -> None:
    async with AsyncCodex(codex_bin=fake_codex("badend", shape), turn_idle_timeout=30) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("go")
        with pytest.raises(ProtocolError) as caught:
            await asyncio.wait_for(turn.run(), 5)
        assert caught.value.raw["method"] == "turn/completed"
        # Asking again gives the same answer at once; it never hangs.
        with pytest.raises(ProtocolError):
            await asyncio.wait_for(turn.run(), 5)
        # The turn is over on the server: the thread takes the next one.
        assert isinstance(await thread.turn("again"), AsyncTurn)


async def test_a_second_concurrent_consumer_is_refused_and_the_first_gets_every_event(
    fake_codex: Callable[..., str],
) -> None:
    async with AsyncCodex(codex_bin=fake_codex("hang"), turn_idle_timeout=5) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("go")
        first_event = asyncio.Event()
        seen: list[Event] = []

        async def first() -> None:
            async for event in turn:
                seen.append(event)
                first_event.set()

        consumer = asyncio.ensure_future(first())
        await first_event.wait()  # `first` is now waiting for the next event
        with pytest.raises(ConcurrentConsumerError):
            async for _ in turn:
                pass
        with pytest.raises(ConcurrentConsumerError):
            await turn.run()
        await turn.interrupt()
        await asyncio.wait_for(consumer, 5)
    assert [type(event).__name__ for event in seen] == ["TurnStarted", "TurnCompleted"]
    assert turn.result is not None
    assert turn.result.status == "interrupted"


async def test_iterating_partly_then_run_still_works(fake_codex: Callable[..., str]) -> None:
    async with AsyncCodex(codex_bin=fake_codex("flood", "100")) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("go")
        async for event in turn:
            if isinstance(event, AgentMessageDelta):
                break
        result = await asyncio.wait_for(turn.run(), 5)
    assert result.final_response == "done"


# -- item 7: bounded memory -----------------------------------------------------------


@contextmanager
def _peak_rss_growth() -> Iterator[list[int]]:
    """Measure how far the peak RSS (VmHWM) rises inside the block, in bytes."""
    with open("/proc/self/clear_refs", "w") as refs:  # reset VmHWM to the current RSS
        refs.write("5")
    before = _status_kib("VmRSS")
    growth: list[int] = []
    yield growth
    growth.append((_status_kib("VmHWM") - before) * 1024)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


async def test_an_endless_line_fails_with_a_typed_error_in_bounded_memory(
    fake_codex: Callable[..., str],
) -> None:
    size = 256 * MiB
    codex = AsyncCodex(codex_bin=fake_codex("huge", str(size)), max_message_size=8 * MiB)
    async with codex:
        thread = await codex.start_thread()
        turn = await thread.turn("go")
        with _peak_rss_growth() as growth, pytest.raises(MessageTooLargeError) as caught:
            await turn.run(timeout=30)
        assert caught.value.limit == 8 * MiB
        # Everything else that waits fails the same way, at once.
        with pytest.raises(MessageTooLargeError):
            await codex.start_thread()
    assert growth[0] < 64 * MiB, f"the reader grew by {growth[0] / MiB:.0f} MiB"


async def test_the_default_limit_refuses_a_line_of_80_mib_in_bounded_memory(
    fake_codex: Callable[..., str],
) -> None:
    async with AsyncCodex(codex_bin=fake_codex("huge", str(80 * MiB))) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("go")
        with _peak_rss_growth() as growth, pytest.raises(MessageTooLargeError):
            await turn.run(timeout=30)
    assert growth[0] < 80 * MiB + 16 * MiB


def test_the_line_reader_skips_an_oversize_line_without_buffering_it() -> None:
    sink = _Collect()
    refused: list[int] = []
    reader = _LineReader(sink, lambda: None, max_message_size=100, on_too_large=refused.append)
    reader.data_received(b'{"a": 1}\n' + b"x" * 80)
    reader.data_received(b"y" * 80)  # the line passes 100 bytes here
    assert refused == [100]
    for _ in range(100):
        reader.data_received(b"z" * 1000)  # dropped as it comes
    assert len(reader._buf) == 0
    reader.data_received(b'zz\n{"b": 2}\n{"c": 3')
    reader.data_received(b"}\n" + b'{"d": "' + b"w" * 200 + b'"}\n{"e": 5}\n')
    assert sink.parsed == [{"a": 1}, {"b": 2}, {"c": 3}, {"e": 5}]
    assert refused == [100, 100]


async def test_a_late_consumer_gets_a_typed_error_not_unbounded_memory(
    fake_codex: Callable[..., str],
) -> None:
    async with AsyncCodex(
        codex_bin=fake_codex("flood", "20000"), max_buffered_events=1000
    ) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("go")
        # The server answers in order: once this answer is in, the whole flood is too.
        with pytest.raises(MethodNotFoundError):
            await codex.request("ping")
        received: list[Event] = []
        with pytest.raises(EventBufferFullError) as caught:
            await _drain(turn, received)
        assert 0 < len(received) <= 1000
        assert caught.value.limit == 1000
        # The thread is free again for the next turn.
        assert (await thread.run("again", timeout=5)).final_response == "done"


async def test_a_late_consumer_of_200k_events_stays_within_the_default_bound(
    fake_codex: Callable[..., str],
) -> None:
    async with AsyncCodex(codex_bin=fake_codex("flood", "200000")) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("go")
        with _peak_rss_growth() as growth, pytest.raises(MethodNotFoundError):
            await codex.request("ping", timeout=60)
        with pytest.raises(EventBufferFullError):
            async for _ in turn:
                pass
    assert growth[0] < 64 * MiB, f"buffering grew by {growth[0] / MiB:.0f} MiB"


async def test_consumers_that_keep_up_never_hit_the_bound(fake_codex: Callable[..., str]) -> None:
    async with AsyncCodex(
        codex_bin=fake_codex("flood", "50000"), max_buffered_events=2000
    ) as codex:
        thread = await codex.start_thread()
        result = await thread.run("go", timeout=60)
        assert result.final_response == "done"
        count = 0
        async for event in await thread.turn("again"):
            count += isinstance(event, AgentMessageDelta)
        assert count == 50000


def test_the_sync_batch_path_keeps_up_with_a_flood(fake_codex: Callable[..., str]) -> None:
    # 100k deltas as fast as a pipe carries them: far past any real agent (whose server
    # sends a few thousand a second at most), yet the batches keep the backlog small.
    with Codex(codex_bin=fake_codex("flood", "100000"), max_buffered_events=30_000) as codex:
        thread = codex.start_thread()
        count = sum(isinstance(e, AgentMessageDelta) for e in thread.turn("go"))
        assert count == 100000
        assert thread.run("again", timeout=60).final_response == "done"


async def test_a_unix_socket_frame_over_the_limit_fails_before_it_is_buffered(
    tmp_path: Path,
) -> None:
    path = os.fspath(tmp_path / "ws.sock")
    # A frame announcing 1 GiB, then (after the client has failed) nothing more.
    async with _websocket_server(path, struct.pack("!BBQ", 0x81, 127, 1 << 30)):
        codex = AsyncCodex(connect=f"unix://{path}", max_message_size=MiB)
        with pytest.raises(MessageTooLargeError):
            await asyncio.wait_for(codex.start(), 5)


async def test_a_unix_socket_message_in_fragments_over_the_limit_fails(tmp_path: Path) -> None:
    path = os.fspath(tmp_path / "ws.sock")
    part = b"x" * (512 * 1024)
    first = struct.pack("!BBQ", 0x01, 127, len(part)) + part
    more = struct.pack("!BBQ", 0x00, 127, len(part)) + part
    async with _websocket_server(path, first + more + more):
        codex = AsyncCodex(connect=f"unix://{path}", max_message_size=MiB)
        with pytest.raises(MessageTooLargeError):
            await asyncio.wait_for(codex.start(), 5)


# -- helpers --------------------------------------------------------------------------


async def _drain(turn: AsyncIterator[Event], into: list[Event]) -> None:
    async for event in turn:
        into.append(event)


class _Collect:
    def __init__(self) -> None:
        self.parsed: list[Any] = []

    def on_message(self, data: bytes) -> None:
        self.parsed.append(("raw", data))

    def on_parsed(self, message: Any) -> None:
        self.parsed.append(message)


class _NullTransport(Transport):
    async def start(self, sink: MessageSink) -> None:
        pass

    def send(self, data: bytes) -> None:
        pass

    async def close(self) -> None:
        pass


@asynccontextmanager
async def _websocket_server(path: str, reply: bytes) -> AsyncIterator[None]:
    """A WebSocket server on a Unix socket that sends ``reply`` after the upgrade."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(
            hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
        )
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n" + reply
        )
        await writer.drain()
        await reader.read()  # until the client hangs up
        writer.close()

    server = await asyncio.start_unix_server(serve, path)
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()


# -- a child that is gone before its exit is noticed -----------------------------------


async def test_a_request_to_an_app_server_on_its_way_out_reports_its_exit(
    tmp_path: Path,
) -> None:
    # It stops reading (its stdin pipe breaks) a moment before it exits, as when its
    # supervisor outlives it by a few milliseconds: a request sent in between fails with
    # the exit and its code, not with the broken pipe.
    script = "exec 0<&-; echo 'no config here' >&2; sleep 0.3; exit 3"
    connection = Connection(StdioTransport(["sh", "-c", script]))
    await connection.start()
    try:
        await asyncio.sleep(0.1)  # the pipe is seen broken at once; the exit comes later
        with pytest.raises(TransportClosedError) as caught:
            await asyncio.wait_for(connection.request("initialize", {}), 10)
        assert str(caught.value).startswith("the app-server exited")
        assert caught.value.exit_code == 3
        assert "no config here" in caught.value.stderr_tail
    finally:
        await connection.close()
