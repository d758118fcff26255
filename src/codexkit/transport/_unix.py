"""A connection to a running ``codex app-server --listen unix://PATH``.

That listener speaks WebSocket (RFC 6455) over the Unix socket, one JSON-RPC message per
text message. This is a small client for exactly that: no extensions, no subprotocols.
A message over ``max_message_size`` bytes closes the connection with
:class:`MessageTooLargeError`, as soon as a frame header announces it: it is never read.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from typing import cast

from ..errors import MessageTooLargeError, TransportClosedError
from ._base import DEFAULT_MAX_MESSAGE_SIZE, MessageSink, Transport

__all__ = ["UnixSocketTransport"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _BINARY, _CONT, _CLOSE, _PING, _PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
# The server accepts unfragmented messages up to 16 MiB; larger ones are fragmented.
_MAX_FRAME = 16 * 1024 * 1024
_TOO_BIG = 1009  # close code: a message too big to process


class UnixSocketTransport(Transport):
    """Connect to an app-server listening on the Unix socket ``path``."""

    def __init__(
        self,
        path: str,
        *,
        connect_timeout: float = 10.0,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self._path = path
        self._connect_timeout = connect_timeout
        self._max_message_size = max_message_size
        self._transport: asyncio.Transport | None = None
        self._protocol: _WebSocketProtocol | None = None

    async def start(self, sink: MessageSink) -> None:
        loop = asyncio.get_running_loop()
        self._owner = os.getpid()
        key = base64.b64encode(os.urandom(16))
        limit = self._max_message_size

        def protocol_factory() -> _WebSocketProtocol:
            return _WebSocketProtocol(sink, key, limit)

        try:
            transport, protocol = await asyncio.wait_for(
                loop.create_unix_connection(protocol_factory, self._path),
                self._connect_timeout,
            )
            await asyncio.wait_for(protocol.handshake_done, self._connect_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise TransportClosedError(f"cannot connect to {self._path}: {exc!r}") from exc
        self._transport, self._protocol = transport, protocol

    def send(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise TransportClosedError("the app-server socket is closed")
        for offset in range(0, max(len(data), 1), _MAX_FRAME):
            chunk = data[offset : offset + _MAX_FRAME]
            first, last = offset == 0, offset + _MAX_FRAME >= len(data)
            self._transport.write(_frame(_TEXT if first else _CONT, chunk, fin=last))

    async def close(self) -> None:
        if self._transport is None or self._transport.is_closing() or self._inherited():
            return  # a forked child must not close the parent's connection
        self._transport.write(_frame(_CLOSE, struct.pack("!H", 1000), fin=True))
        self._transport.close()
        assert self._protocol is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._protocol.lost), 2.0)
        except asyncio.TimeoutError:
            self._transport.abort()


class _WebSocketProtocol(asyncio.Protocol):
    def __init__(self, sink: MessageSink, key: bytes, max_message_size: int | None) -> None:
        loop = asyncio.get_running_loop()
        self._sink = sink
        self._key = key
        self._limit = max_message_size
        self._buf = bytearray()
        self._upgraded = False
        self._refused = False  # a message over the limit came: read nothing more
        self._parts: list[bytes] = []
        self._parts_size = 0
        self._transport: asyncio.Transport | None = None
        self.handshake_done: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's does not subclass asyncio.Transport).
        self._transport = cast(asyncio.Transport, transport)
        self._transport.write(
            b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: " + self._key + b"\r\n\r\n"
        )

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._buf += data
        if not self._upgraded and not self._read_handshake():
            return
        self._read_frames()

    def _read_handshake(self) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self._buf[:end]).decode("latin-1")
        del self._buf[: end + 4]
        expected = base64.b64encode(hashlib.sha1(self._key + _GUID).digest()).decode()
        if " 101 " not in head.split("\r\n", 1)[0] or expected not in head:
            error = TransportClosedError(f"websocket upgrade refused: {head.splitlines()[0]!r}")
            if not self.handshake_done.done():
                self.handshake_done.set_exception(error)
            assert self._transport is not None
            self._transport.close()
            return False
        self._upgraded = True
        self.handshake_done.set_result(None)
        return True

    def _read_frames(self) -> None:
        while not self._refused:
            header = _parse_header(self._buf)
            if header is None:
                return
            opcode, fin, mask, start, length = header
            # Judged on the header, before a byte of the payload is kept.
            if self._limit is not None and self._parts_size + length > self._limit:
                self._refuse(self._limit)
                return
            end = start + length
            if len(self._buf) < end:
                return
            payload = bytes(self._buf[start:end])
            del self._buf[:end]
            self._on_frame(opcode, fin, _apply_mask(payload, mask) if mask else payload)

    def _refuse(self, limit: int) -> None:
        assert self._transport is not None
        self._refused = True
        self._buf, self._parts, self._parts_size = bytearray(), [], 0
        self._sink.on_closed(MessageTooLargeError(limit))
        self._transport.write(_frame(_CLOSE, struct.pack("!H", _TOO_BIG), fin=True))
        self._transport.close()

    def _on_frame(self, opcode: int, fin: bool, payload: bytes) -> None:
        assert self._transport is not None
        if opcode in (_TEXT, _BINARY, _CONT):
            self._parts.append(payload)
            self._parts_size += len(payload)
            if fin:
                message, self._parts, self._parts_size = b"".join(self._parts), [], 0
                self._sink.on_message(message)
        elif opcode == _PING:
            self._transport.write(_frame(_PONG, payload, fin=True))
        elif opcode == _CLOSE:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshake_done.done():
            self.handshake_done.set_exception(TransportClosedError("socket closed during upgrade"))
        if not self.lost.done():
            self.lost.set_result(None)
        if self._upgraded:
            self._sink.on_closed(TransportClosedError("the app-server socket closed"))


def _parse_header(buf: bytearray) -> tuple[int, bool, bytes, int, int] | None:
    """``(opcode, fin, mask, payload start, payload length)`` of the frame at the start
    of ``buf``, or ``None`` while its header is incomplete."""
    if len(buf) < 2:
        return None
    fin, opcode = bool(buf[0] & 0x80), buf[0] & 0x0F
    masked, length = bool(buf[1] & 0x80), buf[1] & 0x7F
    pos = 2
    if length == 126:
        if len(buf) < 4:
            return None
        (length,) = struct.unpack_from("!H", buf, 2)
        pos = 4
    elif length == 127:
        if len(buf) < 10:
            return None
        (length,) = struct.unpack_from("!Q", buf, 2)
        pos = 10
    mask = b""
    if masked:
        if len(buf) < pos + 4:
            return None
        mask, pos = bytes(buf[pos : pos + 4]), pos + 4
    return opcode, fin, mask, pos, length


def _frame(opcode: int, payload: bytes, *, fin: bool) -> bytes:
    """A client frame; client frames are always masked."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    return head + mask + _apply_mask(payload, mask)


def _apply_mask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    if not n:
        return b""
    # XOR as one big integer: C speed, even for messages of many megabytes.
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")
