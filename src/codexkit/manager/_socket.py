"""One websocket on ``/api/stream`` that reconnects without losing events.

Every frame the server sends carries ``seq`` (one counter for all frames). A connection
remembers the last ``seq`` it saw and reconnects with ``?since=SEQ``: the server replays
what came after it from its bounded log (2 000 frames per thread), so a reconnect within
that window loses nothing and repeats nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from ._core import AsyncCore, decode_json
from .errors import ServerError, error_for

__all__ = [
    "AppServerSignal",
    "Backoff",
    "StreamConnection",
    "StreamContext",
    "StreamEvent",
]

log = logging.getLogger("codexkit.manager")

#: The raw fallback frames: each repeats an ``app_server.*`` frame's message. The
#: client's own streams leave them out (``omit``); codexkit serve honours that, and a
#: server that does not sends them anyway, which the readers ignore.
RAW_FALLBACKS = ("notification", "server_request")
#: Frames about the socket itself, not events: never handed to handlers.
CONTROL_FRAMES = frozenset({"ready", "pong", "error", "replay"})
MAX_FRAME = 16 * 1024 * 1024


@dataclass(frozen=True)
class StreamEvent:
    """One event: ``type`` (``approval``, ``app_server.turn.completed``, ...), the thread
    it belongs to (``None``: a broadcast), its ``payload`` and its ``seq``."""

    type: str
    thread_id: str | None
    payload: Any
    seq: int | None
    raw: dict[str, Any]

    @classmethod
    def from_frame(cls, frame: dict[str, Any]) -> StreamEvent:
        seq = frame.get("seq")
        return cls(
            type=str(frame.get("type")),
            thread_id=frame.get("threadId"),
            payload=frame.get("payload"),
            seq=seq if isinstance(seq, int) else None,
            raw=frame,
        )


@dataclass(frozen=True)
class StreamContext:
    """The second argument of handlers that take two: which thread the stream follows
    and how many times it has reconnected."""

    thread_id: str | None
    reconnect_count: int


@dataclass(frozen=True)
class AppServerSignal:
    """What ``on_app_server``/``on_app_server_request`` handlers get: the envelope of
    one app-server message. ``request_id`` (requests only) is the id the REST lists
    show: answer the request with it (``cm.approvals.decide(approval_id=...)``, ...)."""

    event_type: str
    method: str | None
    signal_type: str | None
    received_at: str | None
    context: dict[str, Any]
    params: Any
    session: dict[str, Any] | None
    request_id: str | None
    event: StreamEvent

    @classmethod
    def from_event(cls, event: StreamEvent) -> AppServerSignal:
        payload = event.payload if isinstance(event.payload, dict) else {}

        def text(key: str) -> str | None:
            value = payload.get(key)
            return value if isinstance(value, str) else None

        context, session = payload.get("context"), payload.get("session")
        return cls(
            event_type=event.type,
            method=text("method"),
            signal_type=text("signalType"),
            received_at=text("receivedAt"),
            context=context if isinstance(context, dict) else {},
            params=payload.get("params"),
            session=session if isinstance(session, dict) else None,
            request_id=text("requestId"),
            event=event,
        )


@dataclass(frozen=True)
class Backoff:
    """Waits between reconnects: doubling from ``initial`` to ``maximum`` seconds."""

    initial: float = 0.2
    maximum: float = 5.0

    def delay(self, failures: int) -> float:
        return float(min(self.maximum, self.initial * 2 ** max(0, failures - 1)))


class StreamConnection:
    """Frames of one thread (or of all, ``thread_id=None``), across reconnects.

    ``frames()`` yields every event frame once, in order; it reconnects after a dropped
    socket with ``since`` set, so the server replays what was missed. ``connected``
    is set while a socket is open (after its ``ready`` frame).
    """

    def __init__(
        self,
        core: AsyncCore,
        thread_id: str | None = None,
        *,
        since: int | None = None,
        backoff: Backoff | None = None,
        max_failures: int | None = None,
        connected: asyncio.Event | None = None,
        omit: Sequence[str] = (),
    ) -> None:
        self._core = core
        self.thread_id = thread_id
        self.omit = tuple(omit)  # frame types the server leaves out (codexkit serve)
        self.last_seq = since
        self.backoff = backoff or Backoff()
        self.max_failures = max_failures  # consecutive failed connects before giving up
        self.connected = connected or asyncio.Event()
        self.reconnects = 0
        self.incomplete_replays = 0  # reconnects that could not get every missed event
        self._socket: ClientConnection | None = None
        self._early: list[dict[str, Any]] = []  # an event that came before `ready`

    def url(self) -> str:
        query: dict[str, str] = {}
        if self.thread_id:
            query["threadId"] = self.thread_id
        if self.last_seq is not None:
            query["since"] = str(self.last_seq)
        if self.omit:
            query["omit"] = ",".join(self.omit)
        url = self._core.config.stream_url
        return url + ("?" + urlencode(query) if query else "")

    async def open(self) -> ClientConnection:
        """One socket, subscribed. A refused handshake raises the contract's error for
        its status (``AuthError`` for a wrong token: trying again would not help)."""
        try:
            socket = await connect(
                self.url(),
                additional_headers=await self._core.headers(),
                max_size=MAX_FRAME,
                open_timeout=self._core.config.timeout,
            )
        except InvalidStatus as refused:
            status = refused.response.status_code
            body = decode_json(bytes(refused.response.body or b""))
            raise error_for(status, body, "connectEventStream") from refused
        try:
            await self._handshake(socket)
        except BaseException:
            await socket.close()
            raise
        self._socket = socket
        self.connected.set()
        return socket

    async def frames(self) -> AsyncGenerator[StreamEvent, None]:
        failures = 0
        while True:
            try:
                socket = self._socket or await self.open()
            except (OSError, WebSocketException, asyncio.TimeoutError, ServerError) as error:
                failures += 1
                if self.max_failures is not None and failures >= self.max_failures:
                    raise
                log.warning("stream: connect failed (%s); retrying", error)
                await asyncio.sleep(self.backoff.delay(failures))
                continue
            failures = 0
            try:
                async for frame in self._received(socket):
                    event = StreamEvent.from_frame(frame)
                    if event.type == "replay" and self._incomplete(event):
                        yield event  # the one control frame its readers must hear about
                    if event.type in CONTROL_FRAMES:
                        continue
                    if event.seq is not None:
                        if self.last_seq is not None and event.seq <= self.last_seq:
                            continue  # already seen (a replay overlapping the live feed)
                        self.last_seq = event.seq
                    yield event
            except (OSError, WebSocketException) as error:
                log.info("stream: connection lost (%s); reconnecting", error)
            except BaseException:
                # Closed or cancelled by its reader: the socket stays for aclose() to
                # close (dropped here, it would linger with its keep-alive task).
                self.connected.clear()
                raise
            self.connected.clear()
            self._socket = None
            self.reconnects += 1
            await asyncio.sleep(self.backoff.delay(1))

    async def _handshake(self, socket: ClientConnection) -> None:
        """Make sure of the subscription before calling the socket connected.

        The server sends ``ready {seq}`` first and subscribes the socket after it. A
        first connection to a thread therefore subscribes again with ``since`` that
        ``seq`` (the server replays anything that came in between), then pings: commands
        are handled in order, so the ``pong`` says the subscription is in place. Frames
        that arrive meanwhile are kept for ``frames()``.
        """
        timeout = self._core.config.timeout
        ready = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        seq = ready.get("seq") if isinstance(ready, dict) else None
        if self.last_seq is None and self.thread_id and isinstance(seq, int):
            self.last_seq = seq
            subscribe = {"type": "subscribe", "threadId": self.thread_id, "since": seq}
            await socket.send(json.dumps(subscribe))
        await socket.send(json.dumps({"type": "ping"}))
        while True:
            frame = json.loads(await asyncio.wait_for(socket.recv(), timeout))
            if not isinstance(frame, dict) or frame.get("type") == "pong":
                return
            self._early.append(frame)

    async def _received(self, socket: ClientConnection) -> AsyncGenerator[dict[str, Any], None]:
        while self._early:
            yield self._early.pop(0)
        async for text in socket:
            frame = json.loads(text)
            if isinstance(frame, dict):
                yield frame

    def _incomplete(self, event: StreamEvent) -> bool:
        """Whether a ``replay`` frame says the server no longer held everything since our
        last frame: some events are lost for good, and readers of state should re-read
        the session. Such a frame is passed on as an event of type ``replay``."""
        payload = event.payload if isinstance(event.payload, dict) else {}
        if payload.get("complete") is not False:
            return False
        self.incomplete_replays += 1
        log.warning("stream: the replay since %s was incomplete", payload.get("since"))
        return True

    async def drop(self) -> None:
        """Close the current socket (the next ``frames()`` step reconnects)."""
        if self._socket is not None:
            await self._socket.close()

    async def aclose(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            await socket.close()
