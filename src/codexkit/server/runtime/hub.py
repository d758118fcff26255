"""The event hub: every frame to the subscribers that want it, and a replay log.

Each frame gets a sequence number from one counter, so a client that reconnects with
``since=SEQ`` gets exactly what it missed, in order, from the bounded log this hub keeps
per thread (and one for frames of no thread). Subscribers have bounded queues: one that
falls behind is dropped with a reason rather than slowing the others or the agent.

On PostgreSQL the counter is the database's (``runtime/bus.py``): ``publish`` hands the
frame to the bus, and every process's hub gets every frame back, numbered, through
``deliver``, in the same order.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EventHub", "Frame", "Replay", "Subscription"]

_log = logging.getLogger("codexkit.server")
Json = dict[str, Any]

DEFAULT_QUEUE_SIZE = 10_000
#: Common websocket clients drop a connection on a frame over 1 MiB.
MAX_FRAME_BYTES = 1 << 20
DEFAULT_REPLAY_PER_THREAD = 2_000
DEFAULT_REPLAY_THREADS = 4_096
DEFAULT_REPLAY_TOTAL = 200_000  # frames kept for replay across all threads


@dataclass(slots=True)
class Frame:
    """One event: ``broadcast`` frames (account, app, MCP login) go to every subscriber;
    ``private`` ones (system-owned sessions) only to subscribers of that very thread."""

    seq: int
    type: str
    thread_id: str | None
    payload: Any
    broadcast: bool = False
    private: bool = False
    _text: str | None = None

    def wire(self) -> Json:
        return {
            "type": self.type,
            "threadId": self.thread_id,
            "payload": self.payload,
            "seq": self.seq,
        }

    def text(self) -> str:
        """The frame as JSON, encoded once for every subscriber. A frame over 1 MiB
        (a command's whole output, say) goes out without its payload's ``params``, and
        says so: the full item is in the session's transcript."""
        if self._text is None:
            text = json.dumps(self.wire(), separators=(",", ":"), default=str)
            if len(text) > MAX_FRAME_BYTES:
                text = json.dumps(self._shortened(len(text)), separators=(",", ":"), default=str)
            self._text = text
        return self._text

    def _shortened(self, size: int) -> Json:
        note = {"truncated": True, "bytes": size, "limit": MAX_FRAME_BYTES}
        payload = self.payload
        if isinstance(payload, dict) and "params" in payload:
            kept = {k: v for k, v in payload.items() if k != "params"}
            payload = {**kept, "params": None, **note}
        else:
            payload = note
        return {**self.wire(), "payload": payload}


@dataclass(slots=True)
class Replay:
    """What a reconnecting client missed; ``complete`` is False when the log no longer
    reaches back to ``since`` (the client should re-read state, not trust the gap)."""

    frames: list[Frame]
    complete: bool


class Subscription:
    """One subscriber's view: a thread filter (None: every non-private thread) and a
    bounded queue. Iterate it; it ends when closed or dropped (see ``dropped``)."""

    def __init__(
        self,
        hub: EventHub,
        thread_id: str | None,
        limit: int,
        omit: frozenset[str] = frozenset(),
    ) -> None:
        self._hub = hub
        self.thread_id = thread_id
        #: Frame types this subscriber left out (``?omit=`` on the websocket).
        self.omit = omit
        self._queue: asyncio.Queue[Frame | None] = asyncio.Queue()
        self._limit = limit
        self.dropped: str | None = None
        self.closed = False
        #: Frames up to this seq are not sent: the client has them (see ``subscribe``).
        self.had_upto = 0

    def wants(self, frame: Frame) -> bool:
        if frame.type in self.omit:
            return False
        if frame.broadcast:
            return True
        if self.thread_id is None:
            return not frame.private
        return frame.thread_id == self.thread_id

    def offer(self, frame: Frame) -> None:
        if self.closed or frame.seq <= self.had_upto:
            return
        if self._queue.qsize() >= self._limit:
            self.drop(f"slow subscriber: {self._limit} frames waited unread")
            return
        self._queue.put_nowait(frame)

    def drop(self, reason: str) -> None:
        """End this subscription with ``reason`` (its stream ends)."""
        if self.closed:
            return
        _log.warning("dropping an event subscriber: %s", reason)
        self.dropped = reason
        self.close()

    def set_filter(self, thread_id: str | None) -> None:
        self.thread_id = thread_id

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._hub.remove(self)
        while not self._queue.empty():  # free the memory of a dropped backlog now
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def get(self, timeout: float | None = None) -> Frame | None:
        """The next frame; None once closed. Raises ``TimeoutError`` after ``timeout``."""
        if timeout is None:  # the socket's sender: no task for wait_for to run
            frame = await self._queue.get()
        else:
            frame = await asyncio.wait_for(self._queue.get(), timeout)
        if frame is None:
            self._queue.put_nowait(None)  # every later get() sees the end too
        return frame

    def pending(self) -> int:
        return self._queue.qsize()

    def ready(self) -> list[Frame]:
        """The frames already queued, taken without waiting (a sender can batch them)."""
        frames = []
        while not self._queue.empty():
            frame = self._queue.get_nowait()
            if frame is None:
                self._queue.put_nowait(None)
                break
            frames.append(frame)
        return frames

    def __aiter__(self) -> AsyncIterator[Frame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[Frame]:
        while (frame := await self.get()) is not None:
            yield frame


@dataclass
class _Log:
    frames: deque[Frame]
    evicted_upto: int = 0  # the highest seq this log no longer holds


@dataclass
class EventHub:
    """Publish frames; subscribe with a thread filter; replay since a sequence number."""

    queue_size: int = DEFAULT_QUEUE_SIZE
    replay_per_thread: int = DEFAULT_REPLAY_PER_THREAD
    replay_threads: int = DEFAULT_REPLAY_THREADS
    replay_total: int = DEFAULT_REPLAY_TOTAL
    _kept: int = 0
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _last: int = 0
    _subscribers: list[Subscription] = field(default_factory=list)
    _taps: list[Callable[[Frame], None]] = field(default_factory=list)
    _logs: OrderedDict[str | None, _Log] = field(default_factory=OrderedDict)
    _forgotten_upto: int = 0  # the highest seq of a whole thread log evicted
    #: Where published frames go to be numbered (the bus); None: numbered here.
    _relay: Callable[[Frame], None] | None = None

    @property
    def last_seq(self) -> int:
        return self._last

    def ready_seq(self, since: int | None) -> int:
        """The seq a new socket is told every later frame reaches it after: the last
        delivered, or on a bus the client's ``since`` when this process is behind it
        (a lower seq would read as a server that started again)."""
        if since is None or self._relay is None:
            return self._last
        return max(self._last, since)

    def publish(
        self,
        type: str,
        thread_id: str | None,
        payload: Any,
        *,
        broadcast: bool = False,
        private: bool = False,
    ) -> Frame:
        frame = Frame(0, type, thread_id, payload, broadcast, private)
        if self._relay is None:
            frame.seq = next(self._seq)
            self._fan_out(frame)
        else:  # numbered by the bus; it comes back through deliver()
            self._relay(frame)
        for tap in list(self._taps):
            try:
                tap(frame)
            except Exception:  # a tap's bug must not stop the publisher
                _log.exception("an event tap failed on %s", frame.type)
        return frame

    def relay(self, relay: Callable[[Frame], None], *, since: int) -> None:
        """Send published frames to ``relay`` to be numbered; they come back, with the
        frames of other processes, through ``deliver``. This hub heard nothing before
        ``since``: replays from before it are incomplete."""
        self._relay = relay
        self._last = max(self._last, since)
        self._forgotten_upto = max(self._forgotten_upto, since)

    def deliver(self, frame: Frame) -> bool:
        """A numbered frame from the bus, to the subscribers that want it. Frames come
        in ``seq`` order: one at or below the last delivered is a duplicate (False)."""
        if frame.seq <= self._last:
            return False
        self._fan_out(frame)
        return True

    def lost(self, upto: int, reason: str) -> None:
        """Frames up to ``upto`` may never arrive: every subscriber is dropped with
        ``reason`` (its client reconnects with ``since`` and learns of the gap from an
        incomplete replay) and replays from before ``upto`` are incomplete."""
        self._last = max(self._last, upto)
        self._forgotten_upto = max(self._forgotten_upto, upto)
        for subscriber in list(self._subscribers):
            subscriber.drop(reason)

    def _fan_out(self, frame: Frame) -> None:
        self._last = frame.seq
        self._remember(frame)
        for subscriber in list(self._subscribers):
            if subscriber.wants(frame):
                subscriber.offer(frame)

    def tap(self, callback: Callable[[Frame], None]) -> Callable[[], None]:
        """Call ``callback`` with every frame as it is published (private ones too), in
        the publisher's step: it must not block. Not a subscriber (nothing is queued for
        it, it is never dropped). Only this process's frames reach its taps; on
        PostgreSQL their ``seq`` is still 0 (the bus numbers them after). Returns the
        function that removes the tap."""
        self._taps.append(callback)
        return lambda: self._taps.remove(callback) if callback in self._taps else None

    def subscribe(
        self,
        thread_id: str | None = None,
        *,
        since: int | None = None,
        omit: frozenset[str] = frozenset(),
    ) -> tuple[Subscription, Replay | None]:
        """A new subscription (leaving out the frame types in ``omit``); with ``since``,
        the frames after it are queued first (in the same step, so nothing published
        meanwhile is lost or doubled)."""
        subscription = Subscription(self, thread_id, self.queue_size, omit)
        replay = None
        if since is not None and self._relay is not None:
            # Seqs are the database's, the same on every process: a client coming from
            # a process that was ahead of this one has the frames up to ``since``.
            subscription.had_upto = since
        if since is not None:
            replay = self.replay(since, thread_id, omit)
            for frame in replay.frames:
                subscription.offer(frame)
        self._subscribers.append(subscription)
        return subscription, replay

    def remove(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def replay(
        self, since: int, thread_id: str | None = None, omit: frozenset[str] = frozenset()
    ) -> Replay:
        probe = Subscription(self, thread_id, 0, omit)
        frames: list[Frame] = []
        complete = self._forgotten_upto <= since
        for key, log in self._logs.items():
            if thread_id is not None and key not in (thread_id, None):
                continue
            complete = complete and log.evicted_upto <= since
            frames.extend(f for f in log.frames if f.seq > since and probe.wants(f))
        frames.sort(key=lambda f: f.seq)
        return Replay(frames, complete)

    def _remember(self, frame: Frame) -> None:
        key = None if frame.broadcast else frame.thread_id
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = _Log(deque())
            if len(self._logs) > self.replay_threads:
                self._forget_log()
        else:
            self._logs.move_to_end(key)
        log.frames.append(frame)
        self._kept += 1
        if len(log.frames) > self.replay_per_thread:
            log.evicted_upto = log.frames.popleft().seq
            self._kept -= 1
        # Memory stays bounded however many threads are busy: the least recently
        # active threads lose their history first.
        while self._kept > self.replay_total:
            oldest = next(iter(self._logs.values()))
            oldest.evicted_upto = oldest.frames.popleft().seq
            self._kept -= 1
            if not oldest.frames:
                self._forget_log()

    def _forget_log(self) -> None:
        """Drop the least recently active thread's log; replays from before its last
        frame can no longer be complete."""
        _, oldest = self._logs.popitem(last=False)
        self._kept -= len(oldest.frames)
        last = oldest.frames[-1].seq if oldest.frames else oldest.evicted_upto
        self._forgotten_upto = max(self._forgotten_upto, last)
