"""A small async client of a running ``codexkit serve``: REST calls and event sockets.

Used by the load test (``tests/test_server_load.py``) and the serve benchmark
(``bench/serve.py``): create sessions, send messages, read transcripts over REST, and
follow a thread's frames over ``/api/stream?threadId=``, each frame stamped with the
wall-clock time it was read (to compare with the envelope's ``receivedAt``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

Json = dict[str, Any]

#: Frames a socket keeps unread before its reader stops (and the socket fails loudly).
FRAME_BACKLOG = 100_000


class ServeClient:
    """REST over one pooled ``httpx.AsyncClient``; sockets through :meth:`stream`."""

    def __init__(self, url: str, token: str, *, timeout: float = 60.0) -> None:
        self.url = url
        self.token = token
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        self.http = httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            limits=limits,
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def create_session(self, cwd: str | None = None, **controls: str) -> str:
        """A new session's id; ``controls``: the contract's fields (``approvalPolicy``,
        ``filesystemSandbox``, ...) for this session."""
        body: Json = {**controls} if cwd is None else {"cwd": cwd, **controls}
        answer = await self.http.post("/api/sessions", json=body)
        answer.raise_for_status()
        session_id: str = answer.json()["session"]["sessionId"]
        return session_id

    async def send(self, session_id: str, text: str) -> str:
        """Start a turn (202); its turn id."""
        answer = await self.http.post(f"/api/sessions/{session_id}/messages", json={"text": text})
        if answer.status_code != 202:
            raise AssertionError(f"send answered {answer.status_code}: {answer.text}")
        turn_id: str = answer.json()["turnId"]
        return turn_id

    async def transcript(self, session_id: str) -> list[Json]:
        answer = await self.http.get(f"/api/sessions/{session_id}")
        answer.raise_for_status()
        entries: list[Json] = answer.json()["transcript"]
        return entries

    def stream(
        self,
        thread_id: str,
        *,
        since: int | None = None,
        deflate: bool = True,
        omit: str | None = None,
    ) -> Stream:
        """A socket on ``thread_id``'s frames (``since``: replay what came after it).
        ``deflate``: offer permessage-deflate, as browsers and most clients do; ``omit``:
        frame types to leave out, comma-separated, as the web page does."""
        ws_url = self.stream_url(thread_id, since=since, omit=omit)
        return Stream(ws_url, self.token, thread_id, deflate=deflate)

    def stream_url(
        self, thread_id: str, *, since: int | None = None, omit: str | None = None
    ) -> str:
        """The websocket URL of ``thread_id``'s frames (see :meth:`stream`)."""
        query = f"threadId={thread_id}" + (f"&since={since}" if since is not None else "")
        query += f"&omit={omit}" if omit else ""
        return self.url.replace("http://", "ws://", 1) + "/api/stream?" + query


class Received:
    """A frame and the wall-clock time (``time.time()``) this process read it."""

    __slots__ = ("at", "frame")

    def __init__(self, frame: Json, at: float) -> None:
        self.frame = frame
        self.at = at

    @property
    def type(self) -> str:
        return str(self.frame.get("type"))

    def turn_completed(self) -> str | None:
        """The turn id when this is ``app_server.turn.completed``."""
        if self.type != "app_server.turn.completed":
            return None
        turn = self.frame["payload"]["params"].get("turn") or {}
        turn_id = turn.get("id")
        return turn_id if isinstance(turn_id, str) else None

    def agent_text(self) -> str | None:
        """The agent's message text when this is an ``item/completed`` of one."""
        if self.type != "app_server.item.completed":
            return None
        item = self.frame["payload"]["params"].get("item") or {}
        return str(item.get("text")) if item.get("type") == "agentMessage" else None


def received_at(frame: Json) -> float:
    """The envelope's ``receivedAt`` as epoch seconds."""
    text = str(frame["payload"]["receivedAt"]).replace("Z", "+00:00")
    return dt.datetime.fromisoformat(text).timestamp()


class Stream:
    """One websocket: ``ready`` first, then ``subscribe`` (as clients do); every frame
    after that is kept in ``frames`` in arrival order by a reader task."""

    def __init__(self, ws_url: str, token: str, thread_id: str, *, deflate: bool = True) -> None:
        self._ws_url = ws_url
        self._deflate = deflate
        self._token = token
        self.thread_id = thread_id
        self.frames: list[Received] = []
        self._changed = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    async def open(self, timeout: float = 30.0) -> Stream:
        self._ws = await asyncio.wait_for(
            connect(
                self._ws_url,
                additional_headers={"Authorization": f"Bearer {self._token}"},
                max_size=None,
                compression="deflate" if self._deflate else None,
                max_queue=None,  # the reader below keeps up; frames are counted there
                open_timeout=timeout,
            ),
            timeout,
        )
        ready = json.loads(await asyncio.wait_for(self._ws.recv(), timeout))
        if ready.get("type") != "ready":
            raise AssertionError(f"the socket's first frame is not ready: {ready}")
        await self._ws.send(json.dumps({"type": "subscribe", "threadId": self.thread_id}))
        self._reader = asyncio.create_task(self._read(self._ws))
        return self

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                at = time.time()
                self.frames.append(Received(json.loads(message), at))
                if len(self.frames) > FRAME_BACKLOG:
                    raise AssertionError(f"over {FRAME_BACKLOG} frames unread")
                self._changed.set()
        except BaseException as exc:  # recorded: a waiter fails with it
            self.error = exc
            self._changed.set()
            raise

    async def wait_for(self, check: Callable[[Received], bool], timeout: float) -> Received:
        """The first frame (kept so far or coming) that passes ``check``."""
        deadline = time.monotonic() + timeout
        index = 0
        while True:
            while index < len(self.frames):
                received = self.frames[index]
                index += 1
                if check(received):
                    return received
            if self.error is not None or (self._reader is not None and self._reader.done()):
                raise AssertionError(f"the socket closed while waiting: {self.error!r}")
            self._changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching frame on {self.thread_id} in {timeout} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def wait_turn(self, turn_id: str, timeout: float) -> Received:
        return await self.wait_for(lambda r: r.turn_completed() == turn_id, timeout)

    async def wait_seq(self, seq: int, timeout: float) -> Received:
        return await self.wait_for(lambda r: r.frame.get("seq") == seq, timeout)

    def take(self) -> list[Received]:
        """The frames read so far, forgotten here (no waiter may be running)."""
        frames, self.frames = self.frames, []
        return frames

    def thread_frames(self) -> list[Json]:
        """The event frames of this socket's thread (not broadcasts, nor the ``ready``,
        ``replay`` and ``pong`` frames, which carry no ``seq``)."""
        return [
            r.frame
            for r in self.frames
            if r.frame.get("threadId") == self.thread_id and "seq" in r.frame
        ]

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        if self._ws is not None:
            await self._ws.close()

    async def __aenter__(self) -> Stream:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
