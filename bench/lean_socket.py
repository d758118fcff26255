"""The benchmarks' lean client of ``codexkit serve``: a websocket subscriber that only
reads, and a keep-alive REST connection.

With 100 sockets in one Python process, the ``websockets`` library and a ``json.loads``
per frame cost the client about 30 us a frame, and on this 2-core machine that queue of
work, not the server, sets most of a frame's delay. This reader keeps what a frame costs
on the client's side to the least a real reader does: an ``asyncio.Protocol`` parses the
frames the server sends (RFC 6455: unmasked, text or control), stamps each one with
``time.time()`` as its bytes are read, and keeps the payload. Decoding the JSON waits
until :meth:`LeanSocket.take`, after the turn. Every frame is still read, in order, from
a real socket.

It speaks only what ``codexkit serve``'s ``/api/stream`` needs: the upgrade with a bearer
token, text frames (fragmented ones too), ping (answered), close. :class:`LeanHttp` is
the same for a message through REST: one keep-alive connection, a hand-written request,
the answer's JSON. Together they measure what the server adds to a turn, where httpx
and the ``websockets`` library add a client's own costs (3-4 ms of CPU a turn here).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import struct
import time
from typing import Any
from urllib.parse import urlsplit

from support.serve_client import Received

__all__ = ["LeanHttp", "LeanSocket"]

Json = dict[str, Any]
_TEXT, _CONTINUATION, _CLOSE, _PING = 0x1, 0x0, 0x8, 0x9
_MAX_FRAME = 64 << 20  # the server's frames are small; a bigger one is a fault


def _masked(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients mask what they send)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


class _Reader(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.frames: list[tuple[float, bytes]] = []
        self.arrived = asyncio.Event()
        self.closed = asyncio.Event()
        self._partial: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        at = time.time()
        self.buffer += data
        if not self.upgraded.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            del self.buffer[: end + 4]
            if not head.startswith("HTTP/1.1 101"):
                self.upgraded.set_exception(ConnectionError(head.splitlines()[0]))
                return
            self.upgraded.set_result(None)
        self._frames(at)

    def _frames(self, at: float) -> None:
        buffer = self.buffer
        start = 0
        while len(buffer) - start >= 2:
            first, second = buffer[start], buffer[start + 1]
            size, offset = second & 0x7F, start + 2
            if size == 126:
                if len(buffer) - offset < 2:
                    break
                (size,) = struct.unpack_from("!H", buffer, offset)
                offset += 2
            elif size == 127:
                if len(buffer) - offset < 8:
                    break
                (size,) = struct.unpack_from("!Q", buffer, offset)
                offset += 8
            if size > _MAX_FRAME or second & 0x80:
                raise ConnectionError("a frame no server sends")
            if len(buffer) - offset < size:
                break
            payload = bytes(buffer[offset : offset + size])
            start = offset + size
            self._frame(first & 0x80, first & 0x0F, payload, at)
        del buffer[:start]

    def _frame(self, fin: int, opcode: int, payload: bytes, at: float) -> None:
        if opcode in (_TEXT, _CONTINUATION):
            self._partial.append(payload)
            if fin:
                self.frames.append((at, b"".join(self._partial)))
                self._partial.clear()
                self.arrived.set()
        elif opcode == _PING and self.transport is not None:
            self.transport.write(_masked(0xA, payload))
        elif opcode == _CLOSE:
            self.closed.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()
        self.arrived.set()
        if not self.upgraded.done():
            self.upgraded.set_exception(exc or ConnectionError("closed before the upgrade"))


class LeanSocket:
    """One subscriber of ``/api/stream?threadId=...``: ``open``, ``wait_turn``, ``take``,
    ``close``, as ``support.serve_client.Stream`` has them."""

    def __init__(self, ws_url: str, token: str) -> None:
        self.url = urlsplit(ws_url)
        self.token = token
        self._reader: _Reader | None = None
        self._seen = 0  # frames already looked at by wait_turn

    async def open(self, timeout: float = 30.0) -> LeanSocket:
        loop = asyncio.get_running_loop()
        host, port = self.url.hostname or "127.0.0.1", self.url.port or 80
        _, reader = await asyncio.wait_for(loop.create_connection(_Reader, host, port), timeout)
        self._reader = reader
        key = base64.b64encode(os.urandom(16)).decode()
        path = self.url.path + (f"?{self.url.query}" if self.url.query else "")
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {self.token}\r\n\r\n"
        )
        assert reader.transport is not None
        reader.transport.write(request.encode())
        await asyncio.wait_for(reader.upgraded, timeout)
        ready = await self._next(timeout)
        if json.loads(ready)["type"] != "ready":
            raise ConnectionError(f"expected ready, got {ready[:200]!r}")
        return self

    async def _next(self, timeout: float) -> bytes:
        reader = self._reader
        assert reader is not None
        deadline = time.monotonic() + timeout
        while self._seen >= len(reader.frames):
            if reader.closed.is_set():
                raise ConnectionError("the server closed the socket")
            reader.arrived.clear()
            await asyncio.wait_for(reader.arrived.wait(), max(0.0, deadline - time.monotonic()))
        payload = reader.frames[self._seen][1]
        self._seen += 1
        return payload

    async def wait_turn(self, turn_id: str, timeout: float) -> None:
        """Until the ``app_server.turn.completed`` frame of ``turn_id`` is read (a byte
        search finds the candidates; only they are decoded now)."""
        deadline = time.monotonic() + timeout
        marker, wanted = b'"app_server.turn.completed"', turn_id.encode()
        while True:
            payload = await self._next(max(0.0, deadline - time.monotonic()))
            if marker in payload and wanted in payload:
                frame = json.loads(payload)
                if frame.get("type") == "app_server.turn.completed":
                    turn = frame["payload"]["params"].get("turn") or {}
                    if turn.get("id") == turn_id:
                        return

    def take(self) -> list[Received]:
        """Every frame read so far (decoded now, stamped when read), and forget them."""
        reader = self._reader
        assert reader is not None
        frames, reader.frames = reader.frames, []
        self._seen = 0
        return [Received(json.loads(payload), at) for at, payload in frames]

    async def close(self) -> None:
        reader = self._reader
        if reader is None or reader.transport is None:
            return
        if not reader.transport.is_closing():
            reader.transport.write(_masked(_CLOSE, struct.pack("!H", 1000)))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(reader.closed.wait(), 5.0)
        reader.transport.close()


class LeanHttp:
    """One keep-alive HTTP/1.1 connection that POSTs JSON with a bearer token and reads
    the answer's status and JSON body (``Content-Length`` bodies only, as
    ``codexkit serve`` sends): the lean side of a message through REST, beside httpx."""

    def __init__(self, url: str, token: str) -> None:
        self.url = urlsplit(url)
        self.token = token
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> LeanHttp:
        host, port = self.url.hostname or "127.0.0.1", self.url.port or 80
        self._reader, self._writer = await asyncio.open_connection(host, port)
        self._head = (
            f"Host: {host}:{port}\r\nAuthorization: Bearer {self.token}\r\n"
            "Content-Type: application/json\r\n"
        )
        return self

    async def post(self, path: str, body: Json, timeout: float = 60.0) -> tuple[int, Json]:
        reader, writer = self._reader, self._writer
        assert reader is not None, "open() first"
        assert writer is not None
        data = json.dumps(body).encode()
        head = f"POST {path} HTTP/1.1\r\n{self._head}Content-Length: {len(data)}\r\n\r\n"
        writer.write(head.encode() + data)
        return await asyncio.wait_for(self._answer(reader), timeout)

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, Json]:
        status = int((await reader.readline()).split()[1])
        length = None
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if length is None:
            raise ConnectionError("an answer without Content-Length")
        answer = json.loads(await reader.readexactly(length)) if length else {}
        return status, answer

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
