"""The websocket ``/api/stream``: the runtime's event frames, in order.

The socket first gets ``{"type": "ready", "threadId", "seq"}`` (every frame after ``seq``
reaches the socket), then every frame its filter lets through (``?threadId=`` filters from
the start). Commands: ``subscribe {threadId, since?}``, ``unsubscribe``, ``ping``
(answered by ``pong``); anything else gets ``{"type": "error", "message"}`` and the
socket stays open. Commands are handled in the order they arrive, so a ``pong`` tells
the client that what it sent before took effect.

Replay (an extension of the contract): every frame carries ``seq``. A client that
reconnects with ``?since=SEQ`` (or subscribes with ``since``) first gets a ``replay``
frame ``{since, complete, frames}``, then the frames it missed, then live ones; when the
hub no longer holds everything after ``SEQ``, ``complete`` is false and the client
should re-read the sessions it follows.

Leaving frames out (also an extension): ``?omit=TYPE,TYPE`` names frame types the socket
does not want, for its whole life. A client that reads the typed frames only, as the
web page does, sends ``omit=notification,server_request``: each app-server message
otherwise comes twice, as ``app_server.*`` and as its raw fallback.

Each socket's frames wait in the hub's bounded queue; a client that falls that far
behind, or takes longer than ``SEND_TIMEOUT`` to take the frames waiting for it, is
dropped, and the socket closes with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from ...contract import SubscribeCommand, UnsubscribeCommand, parse_stream_command
from ..runtime import Runtime as Engine
from ..runtime import Subscription
from ..runtime.hub import Replay

router = APIRouter(tags=["stream"])

_log = logging.getLogger("codexkit.server")
Json = dict[str, Any]

#: Seconds the frames waiting for a socket may take to leave before the client counts as
#: too slow.
SEND_TIMEOUT = 30.0
#: Close codes: 1008 a request the server refuses, 1013 "try again later" (too slow).
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
MAX_REASON = 120  # a close reason is at most 123 bytes


class _Socket:
    """One client: a sender that drains the current subscription, and the commands."""

    def __init__(self, socket: WebSocket, engine: Engine, omit: frozenset[str]) -> None:
        self.socket = socket
        self.engine = engine
        self.omit = omit
        self.subscription: Subscription | None = None
        self._lock = asyncio.Lock()  # one sender at a time: frames and answers interleave
        self._loop = asyncio.get_running_loop()
        #: When the frames being sent now started to go (None between sends).
        self.sending_since: float | None = None

    async def send(self, message: Json | str) -> None:
        async with self._lock:
            await self._send(message)

    async def _send(self, message: Json | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        await self._watched(self.socket.send_text(text))

    async def _watched(self, sending: Awaitable[None]) -> None:
        """Await ``sending`` with its start noted for ``watch``."""
        self.sending_since = self._loop.time()
        await sending
        self.sending_since = None

    def swap(self, thread_id: str | None, since: int | None) -> Replay | None:
        """A fresh subscription in place of the current one (with its replay queued)."""
        old = self.subscription
        self.subscription, replay = self.engine.hub.subscribe(
            thread_id, since=since, omit=self.omit
        )
        if old is not None:
            old.close()
        return replay

    async def subscribe(self, thread_id: str | None, since: int) -> None:
        """``subscribe`` with ``since``: the replay is announced before any of its frames
        (a frame the old subscription had taken is dropped: the replay has it, if the
        new filter wants it)."""
        async with self._lock:
            replay = self.swap(thread_id, since)
            await self._send(_replay_frame(replay, thread_id, since))

    async def pump(self) -> str:
        """Send frames until the socket's subscription ends; why it ended."""
        while True:
            current = self.subscription
            assert current is not None
            frame = await current.get()
            if frame is None:
                if current is not self.subscription:  # replaced by a subscribe with since
                    continue
                return current.dropped or "the server stopped"
            async with self._lock:
                # Whatever else waits goes along: a fan-out burst is many small frames
                # to every socket. ``watch`` holds the deadline.
                texts = [each.text() for each in (frame, *current.ready())]
                await self._watched(self._send_texts(current, texts))

    async def watch(self) -> str:
        """Return (why) once frames have waited ``SEND_TIMEOUT`` to leave. One timer a
        socket instead of a deadline for each burst of frames: that deadline (a task in
        ``wait_for``, a timer in ``asyncio.timeout``) cost a fifth of the server's CPU
        when 100 sockets watched a turn."""
        while True:
            await asyncio.sleep(SEND_TIMEOUT / 4)
            since = self.sending_since
            if since is not None and self._loop.time() - since >= SEND_TIMEOUT:
                return f"slow client: its frames waited {SEND_TIMEOUT:g} s to be sent"

    async def _send_texts(self, current: Subscription, texts: list[str]) -> None:
        for text in texts:
            if current is not self.subscription:
                return  # replaced by a subscribe with since: its replay has these
            await self.socket.send_text(text)

    async def command(self, text: str) -> None:
        try:
            command = parse_stream_command(text)
        except ValidationError as error:
            problems = error.errors()
            detail = problems[0].get("msg", "invalid") if problems else "invalid"
            await self.send({"type": "error", "message": f"unknown or malformed command: {detail}"})
            return
        if isinstance(command, SubscribeCommand):
            since = json.loads(text).get("since")
            if since is None:
                assert self.subscription is not None
                self.subscription.set_filter(command.thread_id)
            elif _is_seq(since):
                await self.subscribe(command.thread_id, since)
            else:
                await self.send({"type": "error", "message": "since must be an integer >= 0"})
        elif isinstance(command, UnsubscribeCommand):
            assert self.subscription is not None
            self.subscription.set_filter(None)
        else:
            await self.send({"type": "pong"})


def _replay_frame(replay: Replay | None, thread_id: str | None, since: int) -> Json:
    complete, frames = (replay.complete, len(replay.frames)) if replay else (True, 0)
    payload = {"since": since, "complete": complete, "frames": frames}
    return {"type": "replay", "threadId": thread_id, "payload": payload}


def _is_seq(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


#: At most this many frame types in ``?omit=``, each at most ``MAX_TYPE`` characters.
MAX_OMIT = 64
MAX_TYPE = 200


def _omit(raw: str | None) -> frozenset[str]:
    if not raw:
        return frozenset()
    types = raw.split(",")
    if len(types) > MAX_OMIT or not all(0 < len(t) <= MAX_TYPE for t in types):
        raise ValueError(f"omit must be a comma-separated list of at most {MAX_OMIT} frame types")
    return frozenset(types)


def _since(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit():
        raise ValueError("since must be an integer >= 0")
    return int(raw)


@router.websocket("/api/stream")
async def stream(socket: WebSocket) -> None:
    thread_id = socket.query_params.get("threadId") or None
    engine: Engine = socket.app.state.runtime.engine
    await socket.accept()
    try:
        since = _since(socket.query_params.get("since"))
        omit = _omit(socket.query_params.get("omit"))
    except ValueError as error:
        await socket.send_json({"type": "error", "message": str(error)})
        await socket.close(POLICY_VIOLATION, str(error)[:MAX_REASON])
        return
    client = _Socket(socket, engine, omit)
    # Subscribed first: every frame after the `seq` that `ready` names reaches the socket.
    replay = client.swap(thread_id, since)
    await client.send({"type": "ready", "threadId": thread_id, "seq": engine.hub.ready_seq(since)})
    if since is not None:
        await client.send(_replay_frame(replay, thread_id, since))
    pump = asyncio.create_task(client.pump())
    reader = asyncio.create_task(_read(socket, client))
    watch = asyncio.create_task(client.watch())
    try:
        done, _ = await asyncio.wait({pump, reader, watch}, return_when=asyncio.FIRST_COMPLETED)
        reason = _ended(done)
    finally:
        # Stopped first: a sender stuck on a full socket gives way to the close frame,
        # and no frame queues up for the socket meanwhile.
        for task in (pump, reader, watch):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if client.subscription is not None:
            client.subscription.close()
    if reason is not None:
        _log.warning("closing a websocket: %s", reason)
        # A client that reads nothing never takes the close frame either: bounded.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(socket.close(TRY_AGAIN_LATER, reason[:MAX_REASON]), SEND_TIMEOUT)


def _ended(done: set[asyncio.Task[Any]]) -> str | None:
    """Why the server closes the socket; None when the client left."""
    for task in done:
        error = task.exception()
        if isinstance(error, WebSocketDisconnect) or error is not None:
            return None  # the connection is gone: nothing to say, to no one
        result = task.result()
        if isinstance(result, str):
            return result
    return None


async def _read(socket: WebSocket, client: _Socket) -> None:
    """Handle the client's commands until it goes away."""
    while True:
        message = await socket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            raw = message.get("bytes") or b""
            text = raw.decode("utf-8", "replace")
        await client.command(text)
