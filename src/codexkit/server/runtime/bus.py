"""Frames across processes: the event hub of every ``codexkit serve`` on one PostgreSQL
sees every frame of every process, numbered once by the database, in one order.

A process's hub hands each frame it publishes to ``FrameBus.send``. One writer task
inserts the waiting frames, as one batch, into the table ``codexkit_frames`` in a
single statement that takes a transaction lock (so ids are handed out in commit order)
and sends ``NOTIFY codexkit_frames`` with the batch's first id and size, plus its frames
when they fit in a notification (PostgreSQL refuses payloads of 8000 bytes). Every
process listens, the sender too: its reader task turns each notification into frames
(read back from the table when they were too big to travel inline) and feeds them to
its hub with their ids as ``seq``. So a frame's ``seq`` is the same on every process, and
``since=SEQ`` means the same thing whichever process a client reconnects to.

When the listening connection drops, or notifications come faster than they are
handled, the reader reconnects and reads what it missed from the table; when the table
no longer has it, the hub drops its subscribers with the reason (``EventHub.lost``).
See "Events across processes" in docs/serve-internals.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from .hub import EventHub, Frame

__all__ = ["BusSettings", "FrameBus", "is_postgres"]

_log = logging.getLogger("codexkit.server")
Json = dict[str, Any]

CHANNEL = "codexkit_frames"
#: PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; the header takes the rest.
INLINE_LIMIT = 7_800
#: Any constant of our own: the transaction lock that orders the batches of all processes.
ORDER_LOCK = 0x636F_6465_786B_6974  # "codexkit"

_SCHEMA = [
    # Unlogged: the frames are a few minutes of traffic, not data to keep through a
    # crash of PostgreSQL (no WAL to write for each). The id sequence is logged, so seq
    # never goes back after such a crash.
    "CREATE SEQUENCE IF NOT EXISTS codexkit_frames_seq",
    """CREATE UNLOGGED TABLE IF NOT EXISTS codexkit_frames (
        id bigint PRIMARY KEY DEFAULT nextval('codexkit_frames_seq'),
        origin text NOT NULL,
        batch bigint NOT NULL,
        n bigint NOT NULL,
        body text NOT NULL,
        UNIQUE (origin, batch, n))""",
]

# One statement, one transaction: the lock, the rows (a retried batch inserts nothing
# twice), and the notifications, one for each part of the batch that fits in one (its
# frames inline; a frame too big for one goes alone, and readers read it back), sent on
# commit in this order, and only when rows went in.
_PUBLISH = f"""
WITH held AS MATERIALIZED (SELECT pg_advisory_xact_lock({ORDER_LOCK}) AS ok),
ins AS (
    INSERT INTO codexkit_frames (origin, batch, n, body)
    SELECT $1::text, $2::bigint, t.n, t.body
    FROM held, unnest($3::text[]) WITH ORDINALITY AS t(body, n)
    ORDER BY t.n
    ON CONFLICT (origin, batch, n) DO NOTHING
    RETURNING id
),
made AS (SELECT min(id) AS first, count(*) AS size FROM ins)
SELECT pg_notify('{CHANNEL}', (made.first + p.skip)::text || ' ' || p.size::text || ' ' || p.inline)
FROM made, unnest($4::bigint[], $5::bigint[], $6::text[]) AS p(skip, size, inline)
WHERE made.size > 0
"""


def is_postgres(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "postgresql"


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL (``postgresql+asyncpg://...``) as asyncpg's DSN."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@dataclass
class BusSettings:
    #: Frames waiting to be written, and their bytes; past either, new frames are lost
    #: (the hub is told).
    outbox: int = 10_000
    outbox_bytes: int = 64 << 20
    #: Notifications waiting to be handled; past it the reader catches up from the table.
    inbox: int = 10_000
    #: At most this many frames in one INSERT (and its notification).
    batch: int = 500
    #: Frames the table keeps for readers that catch up; older ones are deleted.
    keep: int = 200_000
    #: Seconds between two deletions of old frames.
    prune_every: float = 30.0
    #: Seconds any one database call may take.
    timeout: float = 10.0
    #: Seconds between attempts to reconnect.
    retry: float = 0.5
    #: Seconds ``close`` waits for the frames still waiting to be written.
    flush: float = 5.0


def encode(frame: Frame) -> str:
    body = {
        "type": frame.type,
        "threadId": frame.thread_id,
        "payload": frame.payload,
        "broadcast": frame.broadcast,
        "private": frame.private,
    }
    return json.dumps(body, separators=(",", ":"), default=str)


def decode(seq: int, body: Json) -> Frame:
    return Frame(
        seq,
        body["type"],
        body["threadId"],
        body["payload"],
        bool(body["broadcast"]),
        bool(body["private"]),
    )


#: What a call to the database may raise when the database or the network fails.
def cut_into_notifications(bodies: list[str]) -> tuple[list[int], list[int], list[str]]:
    """A batch cut into notifications: (first frame, frames, inline JSON array or "" for
    a frame too big to travel inline) for each. Bodies are ASCII (``json.dumps`` escapes
    the rest), so characters are bytes."""
    skips: list[int] = []
    sizes: list[int] = []
    inlines: list[str] = []
    start = 0
    while start < len(bodies):
        end, size = start + 1, len(bodies[start]) + 2
        while end < len(bodies) and size + len(bodies[end]) + 1 <= INLINE_LIMIT:
            size += len(bodies[end]) + 1
            end += 1
        inline = "[" + ",".join(bodies[start:end]) + "]" if size <= INLINE_LIMIT else ""
        skips.append(start)
        sizes.append(end - start)
        inlines.append(inline)
        start = end
    return skips, sizes, inlines


_FAILURES = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError)

_CATCH_UP = object()  # in the inbox: read from the table what notifications did not bring


class FrameBus:
    """The PostgreSQL layer under one process's hub (``start``, then ``close``)."""

    def __init__(self, hub: EventHub, database_url: str, settings: BusSettings | None = None):
        self.hub = hub
        self.dsn = asyncpg_dsn(database_url)
        self.settings = settings or BusSettings()
        self.origin = uuid.uuid4().hex
        self._outbox: deque[str] = deque()
        self._outbox_bytes = 0
        self._wake = asyncio.Event()
        self._written = asyncio.Event()  # set while nothing waits to be written
        self._written.set()
        self._inbox: asyncio.Queue[object] = asyncio.Queue()
        self._behind = False  # notifications were refused: catch up from the table
        self._batches = 0
        self._pruned = time.monotonic()
        self._writer_conn: Any = None
        self._reader_conn: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self.lost_frames = 0

    # -- life --------------------------------------------------------------------------------

    async def start(self) -> None:
        self._writer_conn = await self._connect("write")
        async with self._writer_conn.transaction():
            # Processes starting at once must not race to create the table.
            await self._writer_conn.execute(f"SELECT pg_advisory_xact_lock({ORDER_LOCK})")
            for statement in _SCHEMA:
                await self._writer_conn.execute(statement)
        await self._listen()
        # Frames numbered before this process listened never reach its hub.
        since = await self._reader_conn.fetchval(
            "SELECT coalesce(max(id), 0) FROM codexkit_frames", timeout=self.settings.timeout
        )
        self.hub.relay(self.send, since=int(since))
        self._tasks = [
            asyncio.create_task(self._write_loop(), name="codexkit-bus-writer"),
            asyncio.create_task(self._read_loop(), name="codexkit-bus-reader"),
        ]

    async def flushed(self, timeout: float) -> None:
        """Return once every frame sent so far is written and announced (raises
        ``TimeoutError`` past ``timeout`` seconds)."""
        await asyncio.wait_for(self._written.wait(), timeout)

    def listening_pid(self) -> int | None:
        """The PostgreSQL backend that listens for this process (None while it
        reconnects)."""
        conn = self._reader_conn
        return None if conn is None else int(conn.get_server_pid())

    async def close(self) -> None:
        """Write what waits (for at most ``flush`` seconds), then stop."""
        with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
            await self.flushed(self.settings.flush)
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        for conn in (self._writer_conn, self._reader_conn):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), self.settings.timeout)

    async def _connect(self, role: str) -> Any:
        # Named, so an operator (or a test) finds each process's connections in
        # pg_stat_activity: "codexkit-bus listen 1234".
        name = f"codexkit-bus {role} {os.getpid()}"
        return await asyncpg.connect(
            self.dsn, timeout=self.settings.timeout, server_settings={"application_name": name}
        )

    # -- writing -----------------------------------------------------------------------------

    def send(self, frame: Frame) -> None:
        """The hub's relay: queue ``frame`` to be numbered and sent to every process."""
        body = encode(frame)
        if (
            len(self._outbox) >= self.settings.outbox
            or self._outbox_bytes + len(body) > self.settings.outbox_bytes
        ):
            self.lost_frames += 1
            if self.lost_frames == 1 or self.lost_frames % 1000 == 0:
                _log.error("event bus: %d frames lost (PostgreSQL too slow)", self.lost_frames)
            # Subscribers here learn of it; the frame never got a seq, so nothing else can.
            self.hub.lost(self.hub.last_seq, "events were lost: the database fell behind")
            return
        self._outbox.append(body)
        self._outbox_bytes += len(body)
        self._written.clear()
        self._wake.set()

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                size = min(len(self._outbox), self.settings.batch)
                bodies = list(itertools.islice(self._outbox, size))
                self._batches += 1
                await self._write(self._batches, bodies)
                for _ in range(size):
                    self._outbox_bytes -= len(self._outbox.popleft())
                if time.monotonic() - self._pruned > self.settings.prune_every:
                    await self._prune()
            self._written.set()

    async def _write(self, batch: int, bodies: list[str]) -> None:
        """Insert and announce one batch, reconnecting until it is done (a retry after
        an unknown outcome inserts nothing twice: the rows' key is the batch's)."""
        skips, sizes, inlines = cut_into_notifications(bodies)
        while True:
            try:
                if self._writer_conn is None or self._writer_conn.is_closed():
                    self._writer_conn = await self._connect("write")
                await self._writer_conn.execute(
                    _PUBLISH,
                    self.origin,
                    batch,
                    bodies,
                    skips,
                    sizes,
                    inlines,
                    timeout=self.settings.timeout,
                )
                return
            except asyncpg.PostgresError as error:
                if self._writer_conn is not None and not self._writer_conn.is_closed():
                    # The statement itself was refused, on a sound connection: sending it
                    # again would block every frame after it.
                    _log.error("event bus: PostgreSQL refused %d frames: %s", len(bodies), error)
                    self.hub.lost(self.hub.last_seq, "events were lost: the database refused them")
                    return
                _log.warning("event bus: writing frames failed (%s); retrying", error)
                await self._drop_conn("_writer_conn")
                await asyncio.sleep(self.settings.retry)
            except _FAILURES as error:
                _log.warning("event bus: writing frames failed (%s); retrying", error)
                await self._drop_conn("_writer_conn")
                await asyncio.sleep(self.settings.retry)

    async def _drop_conn(self, name: str) -> None:
        conn = getattr(self, name)
        setattr(self, name, None)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.terminate()

    async def _prune(self) -> None:
        """Delete all but the newest ``keep`` frames (on the writer's connection: one
        call at a time on it)."""
        self._pruned = time.monotonic()
        try:
            await self._writer_conn.execute(
                "DELETE FROM codexkit_frames WHERE id <= "
                "(SELECT max(id) FROM codexkit_frames) - $1::bigint",
                self.settings.keep,
                timeout=self.settings.timeout,
            )
        except _FAILURES as error:
            _log.warning("event bus: deleting old frames failed (%s)", error)

    # -- reading -----------------------------------------------------------------------------

    async def _listen(self) -> None:
        conn = await self._connect("listen")
        await conn.add_listener(CHANNEL, self._notified)
        conn.add_termination_listener(self._terminated)
        self._reader_conn = conn

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if self._behind:
            return  # the catch-up that is queued reads it from the table
        if self._inbox.qsize() >= self.settings.inbox:
            _log.warning("event bus: %d notifications waiting; catching up", self._inbox.qsize())
            self._fall_behind()
            return
        self._inbox.put_nowait(payload)

    def _terminated(self, _conn: object) -> None:
        if not self._closing:
            _log.warning("event bus: the listening connection closed; reconnecting")
            self._fall_behind()

    def _fall_behind(self) -> None:
        """Stop taking notifications until a catch-up has read the table: frames must
        reach the hub in order, and the catch-up brings them all."""
        if not self._behind:
            self._behind = True
            self._inbox.put_nowait(_CATCH_UP)

    async def _read_loop(self) -> None:
        while True:
            item = await self._inbox.get()
            try:
                if item is _CATCH_UP:
                    await self._catch_up()
                elif not self._behind:  # when behind, the queued catch-up reads it
                    assert isinstance(item, str)
                    await self._received(item)
            except (ValueError, KeyError, TypeError) as error:
                # Someone else's NOTIFY on the channel: nothing of ours to deliver.
                _log.warning("event bus: a notification not of this bus (%s)", error)
            except _FAILURES as error:
                _log.warning("event bus: reading frames failed (%s); catching up", error)
                await self._drop_conn("_reader_conn")
                await asyncio.sleep(self.settings.retry)
                self._behind = False  # a catch-up failed too: queue another one
                self._fall_behind()

    async def _received(self, payload: str) -> None:
        first_text, size_text, inline = payload.split(" ", 2)
        first, size = int(first_text), int(size_text)
        if first + size - 1 <= self.hub.last_seq:
            return  # a catch-up brought these already
        if inline:
            for offset, body in enumerate(json.loads(inline)):
                self.hub.deliver(decode(first + offset, body))
        else:
            last = first + size - 1
            if await self._fetch(first - 1, last) < size:  # deleted before it was read
                self.hub.lost(last, "events were lost: reconnect with since= and re-read")

    async def _fetch(self, after: int, upto: int | None) -> int:
        """Deliver the table's frames after ``after`` (up to ``upto``), in order; how
        many the table had."""
        assert self._reader_conn is not None
        found = 0
        while True:
            rows = await self._reader_conn.fetch(
                "SELECT id, body FROM codexkit_frames WHERE id > $1 AND ($2::bigint IS NULL "
                "OR id <= $2) ORDER BY id LIMIT 1000",
                after,
                upto,
                timeout=self.settings.timeout,
            )
            for row in rows:
                self.hub.deliver(decode(row["id"], json.loads(row["body"])))
            found += len(rows)
            if len(rows) < 1000:
                return found
            after = rows[-1]["id"]

    async def _catch_up(self) -> None:
        """After a lost connection or a full inbox: listen again, then deliver from the
        table what came after the hub's last frame, or tell the hub of the gap."""
        if self._reader_conn is None or self._reader_conn.is_closed():
            await self._drop_conn("_reader_conn")
            await self._listen()
        # Notifications are queued again from here on; what they repeat of the table's
        # rows below is skipped by seq.
        self._behind = False
        last = self.hub.last_seq
        oldest = await self._reader_conn.fetchval(
            "SELECT coalesce(min(id), (SELECT CASE WHEN is_called THEN last_value + 1 "
            "ELSE last_value END FROM codexkit_frames_seq)) FROM codexkit_frames",
            timeout=self.settings.timeout,
        )
        if oldest is not None and int(oldest) > last + 1:
            # Deleted (or truncated by a crash of PostgreSQL) before this process read them.
            self.hub.lost(int(oldest) - 1, "events were lost: reconnect with since= and re-read")
        await self._fetch(self.hub.last_seq, None)
