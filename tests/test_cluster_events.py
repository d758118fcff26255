"""Events across processes: three real ``codexkit serve`` on one PostgreSQL; websocket
subscribers on any of them see every frame of a session run by another, in order, once.

"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import pytest
from support.postgres import Cluster, postgres_cluster, postgres_url  # noqa: F401 (fixtures)
from support.serve import ServeProcess
from support.serve_rest import create, note, send, start_server
from support.stream import Stream, completed

from codexkit.server.runtime.bus import FrameBus, asyncpg_dsn, cut_into_notifications
from codexkit.server.runtime.hub import EventHub, Frame, Subscription
from codexkit.testing import ScriptedModel, shell, text

pytestmark = [pytest.mark.real, pytest.mark.slow]

Json = dict[str, Any]
NOTIFY_LIMIT = 8000  # PostgreSQL's limit on a NOTIFY payload


@pytest.fixture(scope="module")
def database(postgres_cluster: Cluster) -> str:  # noqa: F811 (fixture)
    postgres_cluster.psql("CREATE DATABASE cluster_events")
    return postgres_cluster.url("cluster_events")


@pytest.fixture(scope="module")
def servers(
    model: ScriptedModel, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServeProcess]]:
    """Processes a, b and c on one database, each with its own data dir, all on one
    CODEX_HOME (a cluster's runners share it). a first (app-servers started at once on a
    fresh CODEX_HOME race to create its databases), then b and c at once."""
    root = tmp_path_factory.mktemp("cluster-events")

    started: dict[str, ServeProcess] = {}

    def start(name: str) -> None:
        started[name] = start_server(root, model, data=name, more=["--database-url", database])

    try:
        start("a")
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(start, "bc"))  # raises what a start raised
        yield [started[name] for name in "abc"]
    finally:
        for server in started.values():
            server.stop()


def _events(stream: Stream, upto: Json) -> list[Json]:
    """The event frames a stream got, up to and including ``upto``."""
    frames = [f for f in stream.seen if "seq" in f and f["type"] != "ready"]
    return frames[: frames.index(upto) + 1]


def _notes(stream: Stream, count: int) -> list[str]:
    frames = [stream.next("transcript_updated") for _ in range(count)]
    return [frame["payload"]["entry"]["messageId"] for frame in frames]


def test_subscribers_on_every_process_see_a_turn_run_on_one(
    servers: list[ServeProcess], model: ScriptedModel
) -> None:
    a = servers[0]
    # Over 8000 bytes of output: its item's frame is too big for one NOTIFY.
    model.extend([shell("seq 1 6000"), text("counted")])
    with a.client() as client:
        sid = create(client, a)
        streams = [Stream(server, f"?threadId={sid}") for server in servers]
        try:
            for stream in streams:
                stream.next("ready")
            turn_id = send(client, sid, "count to 6000")
            ends = [s.next("app_server.turn.completed", completed(turn_id)) for s in streams]
            seen = [_events(stream, end) for stream, end in zip(streams, ends, strict=True)]
        finally:
            for stream in streams:
                stream.close()
    on_a, on_b, on_c = seen
    assert len(on_a) > 20
    assert on_b == on_a  # same frames, same seq, same order
    assert on_c == on_a
    seqs = [frame["seq"] for frame in on_a]
    assert seqs == sorted(set(seqs))  # in order, none twice
    assert {frame["threadId"] for frame in on_a} <= {sid, None}  # None: broadcasts

    def output(frame: Json) -> str | None:
        item = frame["payload"].get("params", {}).get("item", {})
        return item.get("aggregatedOutput") if item.get("type") == "commandExecution" else None

    for frames in (on_b, on_c):
        done = [f for f in frames if f["type"] == "app_server.item.completed" and output(f)]
        assert len(done) == 1
        assert len(json.dumps(done[0])) > NOTIFY_LIMIT
        lines = str(output(done[0])).split()
        assert lines == [str(n) for n in range(1, 6001)]


def test_a_reconnect_to_another_process_gets_what_it_missed(
    servers: list[ServeProcess],
) -> None:
    a, b, _ = servers
    with a.client() as client:
        sid = create(client, a)
        with Stream(a, f"?threadId={sid}") as first:
            first.next("ready")
            note(client, sid, "seen")
            last = first.next("transcript_updated")["seq"]
        for name in ("missed-1", "missed-2", "missed-3"):
            note(client, sid, name)
        with Stream(b, f"?threadId={sid}&since={last}") as again:
            again.next("ready")
            replay = again.next("replay")["payload"]
            assert replay["complete"] is True
            assert _notes(again, 3) == ["missed-1", "missed-2", "missed-3"]
            note(client, sid, "live")
            assert _notes(again, 1) == ["live"]
            got = [f["seq"] for f in again.seen if f.get("type") == "transcript_updated"]
            assert got == sorted(set(got))
            assert got[0] > last


def test_a_process_that_did_not_hear_the_frames_says_so(
    servers: list[ServeProcess],
) -> None:
    """A process started (here: restarted) after the frames a client asks for cannot
    replay them: its replay says it is incomplete (the client re-reads the session) and
    brings what it did hear."""
    a, _, c = servers
    with a.client() as client:
        sid = create(client, a)
        with Stream(a, f"?threadId={sid}") as stream:
            stream.next("ready")
            note(client, sid, "before")
            seq = stream.next("transcript_updated")["seq"]
        c.stop()
        c.start()
        note(client, sid, "after")
        with Stream(c, f"?threadId={sid}&since={seq - 1}") as late:
            assert late.next("ready")["seq"] >= seq
            replay = late.next("replay")["payload"]
            assert replay["complete"] is False  # "before" is not there to replay
            note(client, sid, "live")
            assert _notes(late, 2) == ["after", "live"]  # what c heard, then live
            assert replay["frames"] == 1


def test_a_dropped_listening_connection_loses_nothing(
    servers: list[ServeProcess],
    postgres_cluster: Cluster,  # noqa: F811 (fixture)
) -> None:
    """The connections that LISTEN are killed by the database; the processes reconnect
    and read what they missed from the table: every frame still arrives, once."""
    a, b, c = servers
    with a.client() as client:
        sid = create(client, a)
        streams = [Stream(server, f"?threadId={sid}") for server in (b, c)]
        try:
            for stream in streams:
                stream.next("ready")
            note(client, sid, "n0")
            postgres_cluster.psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = 'cluster_events' AND application_name LIKE 'codexkit-bus listen %'"
            )
            names = [f"n{i}" for i in range(1, 21)]
            for name in names:
                note(client, sid, name)
            for stream in streams:
                assert _notes(stream, 21) == ["n0", *names]
                stream.synced()  # and nothing more came before the pong
                notes = [f for f in stream.seen if f.get("type") == "transcript_updated"]
                assert len(notes) == 21
        finally:
            for stream in streams:
                stream.close()
    for server in (a, b, c):
        assert "the listening connection closed; reconnecting" in server.text()


def test_a_batch_is_cut_into_notifications_under_postgresqls_limit() -> None:
    bodies = [json.dumps({"n": n, "text": "x" * (n * 37 % 3000)}) for n in range(60)]
    bodies.insert(30, json.dumps({"big": "y" * 20_000}))
    skips, sizes, inlines = cut_into_notifications(bodies)
    rebuilt: list[str] = []
    for skip, size, inline in zip(skips, sizes, inlines, strict=True):
        header = f"{skip + 1000} {size} "
        assert len((header + inline).encode()) < NOTIFY_LIMIT
        assert skip == len(rebuilt)
        if inline:
            rebuilt += [json.dumps(frame) for frame in json.loads(inline)]
        else:  # too big: it goes alone and is read back from the table
            assert size == 1
            assert len(bodies[skip]) > NOTIFY_LIMIT
            rebuilt.append(bodies[skip])
    assert rebuilt == bodies


# -- two buses in this process (each its own connections: two processes to PostgreSQL) ----


@pytest.fixture
async def buses(postgres_url: str) -> AsyncIterator[tuple[FrameBus, FrameBus]]:  # noqa: F811
    pair = (FrameBus(EventHub(), postgres_url), FrameBus(EventHub(), postgres_url))
    try:
        for bus in pair:
            await bus.start()
        yield pair
    finally:
        for bus in pair:
            await bus.close()


async def _next(subscription: Subscription) -> Frame:
    frame = await subscription.get(timeout=30)
    assert frame is not None, subscription.dropped
    return frame


async def test_private_frames_reach_only_their_threads_subscribers_everywhere(
    buses: tuple[FrameBus, FrameBus],
) -> None:
    a, b = buses
    every, _ = b.hub.subscribe()
    worker, _ = b.hub.subscribe("worker")
    a.hub.publish("job_turn", "worker", {"n": 1}, private=True)
    a.hub.publish("account_updated", None, {"n": 2}, broadcast=True)
    a.hub.publish("turn", "user", {"n": 3})
    assert [(await _next(worker)).type for _ in range(2)] == ["job_turn", "account_updated"]
    assert [(await _next(every)).type for _ in range(2)] == ["account_updated", "turn"]


async def test_frames_gone_from_the_table_while_a_process_was_away_end_its_streams(
    buses: tuple[FrameBus, FrameBus],
    postgres_cluster: Cluster,  # noqa: F811 (fixture)
    postgres_url: str,  # noqa: F811 (fixture)
) -> None:
    """b's listening connection is killed and b cannot connect back while a's frames
    are written and then deleted: when b is back, its subscribers are told (dropped
    with the reason) and replays from before the gap are incomplete."""
    a, b = buses
    database = postgres_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(asyncpg_dsn(postgres_url))
    subscription, _ = b.hub.subscribe("t")
    try:
        a.hub.publish("before", "t", {})
        seen = await _next(subscription)
        postgres_cluster.psql(f"ALTER DATABASE {database} WITH ALLOW_CONNECTIONS false")
        await admin.execute("SELECT pg_terminate_backend($1)", b.listening_pid())
        for n in range(5):
            a.hub.publish("missed", "t", {"n": n})
        await a.flushed(timeout=30)
        await admin.execute("DELETE FROM codexkit_frames")
        postgres_cluster.psql(f"ALTER DATABASE {database} WITH ALLOW_CONNECTIONS true")
        assert await subscription.get(timeout=30) is None  # the stream ends...
        assert subscription.dropped is not None
        assert "events were lost" in subscription.dropped  # ...saying why
        assert not b.hub.replay(seen.seq, "t").complete
        later, _ = b.hub.subscribe("t")
        a.hub.publish("after", "t", {})
        assert (await _next(later)).type == "after"
    finally:
        postgres_cluster.psql(f"ALTER DATABASE {database} WITH ALLOW_CONNECTIONS true")
        await admin.close()


async def test_a_stranger_notifying_the_channel_breaks_nothing(
    buses: tuple[FrameBus, FrameBus],
    postgres_url: str,  # noqa: F811 (fixture)
) -> None:
    a, b = buses
    subscription, _ = b.hub.subscribe("t")
    admin = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        for garbage in ("hello", "1 2 [nope", "3 1 [{}]"):
            await admin.execute("SELECT pg_notify('codexkit_frames', $1)", garbage)
    finally:
        await admin.close()
    a.hub.publish("still", "t", {})
    assert (await _next(subscription)).type == "still"
