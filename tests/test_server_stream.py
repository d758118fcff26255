"""The websocket ``/api/stream`` of a real ``codexkit serve``: ready, commands, thread
filters, frames in order, replay since a sequence number."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from support.postgres import Cluster, postgres_cluster  # noqa: F401 (fixture)
from support.serve import ServeProcess
from support.serve_rest import create, note, start_server
from support.stream import Stream
from websockets.exceptions import ConnectionClosed

from codexkit.server.app import create_app
from codexkit.server.host import RuntimeHost
from codexkit.server.routes import stream as stream_route
from codexkit.server.run import bind, runtime_settings
from codexkit.server.runtime import EventHub
from codexkit.server.settings import ServeSettings
from codexkit.testing import ScriptedModel

pytestmark = pytest.mark.real

Json = dict[str, Any]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    """A real server on SQLite, or on a fresh PostgreSQL database: the stream's tests
    that use it run on both stores."""
    cluster: Cluster | None = None
    if request.param == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
    with ScriptedModel() as model:
        root = tmp_path_factory.mktemp(f"serve-stream-{request.param}")
        running = start_server(root, model, cluster)
        yield running
        running.stop()


@pytest.fixture
def client(server: ServeProcess) -> Iterator[httpx.Client]:
    with server.client() as opened:
        yield opened


def _notes(stream: Stream, count: int) -> list[Json]:
    return [stream.next("transcript_updated") for _ in range(count)]


def _ids(frames: list[Json]) -> list[str]:
    return [f["payload"]["entry"]["messageId"] for f in frames]


def test_ready_ping_and_bad_commands(server: ServeProcess) -> None:
    with Stream(server) as stream:
        ready = stream.next("ready")
        assert ready["threadId"] is None
        assert isinstance(ready["seq"], int)
        stream.send({"type": "ping"})
        assert stream.next("pong") == {"type": "pong"}
        for bad in ('{"type": "dance"}', "not json", '{"type": "subscribe"}', "[]"):
            stream.socket.send(bad)
            error = stream.next("error")
            assert error["message"]
        stream.send({"type": "subscribe", "threadId": "t", "since": -1})
        assert "since" in str(stream.next("error")["message"])
        stream.synced()  # the socket stayed open through all of it


def test_a_thread_filter_from_the_start_and_by_command(
    server: ServeProcess, client: httpx.Client
) -> None:
    first, second = create(client, server), create(client, server)
    with Stream(server, f"?threadId={first}") as only_first, Stream(server) as every:
        assert only_first.next("ready")["threadId"] == first
        every.next("ready")
        for name in ("a1", "b1", "a2", "b2"):
            note(client, first if name.startswith("a") else second, name)
        assert _ids(_notes(only_first, 2)) == ["a1", "a2"]
        got = _notes(every, 4)
        assert _ids(got) == ["a1", "b1", "a2", "b2"]
        seqs = [f["seq"] for f in got]
        assert seqs == sorted(seqs)  # the hub's order, each frame numbered

        every.send({"type": "subscribe", "threadId": second})
        every.synced()
        note(client, first, "a3")
        note(client, second, "b3")
        assert _ids(_notes(every, 1)) == ["b3"]
        every.send({"type": "unsubscribe"})
        every.synced()
        note(client, first, "a4")
        assert _ids(_notes(every, 1)) == ["a4"]
        assert _ids(_notes(only_first, 2)) == ["a3", "a4"]  # nothing of the other thread


def test_a_reconnecting_client_gets_what_it_missed(
    server: ServeProcess, client: httpx.Client
) -> None:
    sid = create(client, server)
    with Stream(server, f"?threadId={sid}") as stream:
        stream.next("ready")
        note(client, sid, "seen")
        last = stream.next("transcript_updated")["seq"]
    for name in ("missed-1", "missed-2", "missed-3"):
        note(client, sid, name)  # while no socket is connected

    with Stream(server, f"?threadId={sid}&since={last}") as again:
        again.next("ready")
        replay = again.next("replay")
        assert replay["payload"] == {"since": last, "complete": True, "frames": 3}
        missed = _notes(again, 3)
        assert _ids(missed) == ["missed-1", "missed-2", "missed-3"]
        note(client, sid, "live")
        assert _ids(_notes(again, 1)) == ["live"]  # then live frames, none twice

    # The same through a command, on a socket that was following every thread.
    with Stream(server) as other:
        other.next("ready")
        other.send({"type": "subscribe", "threadId": sid, "since": last})
        assert other.next("replay")["payload"]["frames"] == 4
        assert _ids(_notes(other, 4)) == ["missed-1", "missed-2", "missed-3", "live"]


def test_a_bad_since_is_refused_with_a_reason(server: ServeProcess) -> None:
    with Stream(server, "?since=yesterday") as stream:
        error = stream.next("error")
        assert "since" in str(error["message"])
        with pytest.raises(ConnectionClosed) as closed:
            stream.socket.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008


@asynccontextmanager
async def _in_process(tmp_path: Path, model: ScriptedModel) -> AsyncIterator[tuple[str, EventHub]]:
    """``codexkit serve``'s app and runtime on a port of this process (the real binary
    on ``model``, no token): its websocket URL and the runtime's event hub. For what the
    app-server cannot be made to show on demand: many big frames, a small replay log."""
    settings = ServeSettings(
        port=0,
        data_dir=tmp_path / "data",
        codex_home=model.codex_home(tmp_path / "home"),
        token="",
        no_profile=True,
    )
    settings.data_dir.mkdir(parents=True)
    host = RuntimeHost(runtime_settings(settings))
    started = asyncio.Event()
    app = create_app(settings, host, on_ready=started.set)
    sock = bind(settings)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await asyncio.wait_for(started.wait(), 60)
        yield f"ws://127.0.0.1:{port}/api/stream", host.engine.hub
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 60)
        sock.close()


async def test_a_slow_client_is_dropped_with_the_reason(
    tmp_path: Path, scripted_model: ScriptedModel
) -> None:
    """A socket whose client stops reading is closed (1013, with the reason) once its
    bounded queue is full; the server and the other sockets go on."""
    async with _in_process(tmp_path, scripted_model) as (stream, hub):
        hub.queue_size = 8
        url = stream + "?threadId=bulk"
        # Uncompressed, so that the unread frames fill the socket's buffers at once.
        async with websockets.connect(url, max_size=None, compression=None) as slow:
            assert json.loads(await slow.recv())["type"] == "ready"
            block = "x" * 200_000
            for index in range(5_000):  # the client reads nothing meanwhile
                hub.publish("bulk", "bulk", {"index": index, "block": block})
                await asyncio.sleep(0)  # the server's sender runs between frames
                if hub.subscribers == 0:
                    break
            assert hub.subscribers == 0, "the slow socket was never dropped"
            await _closed_for(slow, "slow subscriber")
        await _still_serving(url)


async def test_a_client_whose_frames_cannot_leave_is_dropped_after_the_send_timeout(
    tmp_path: Path, scripted_model: ScriptedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frames that wait ``SEND_TIMEOUT`` to leave (the client reads nothing, its socket's
    buffers are full) end the socket with 1013 and the reason, though its queue has
    room left; the server goes on."""
    monkeypatch.setattr(stream_route, "SEND_TIMEOUT", 1.0)
    async with _in_process(tmp_path, scripted_model) as (stream, hub):
        hub.queue_size = 10_000
        url = stream + "?threadId=bulk"
        async with websockets.connect(url, max_size=None, compression=None) as slow:
            assert json.loads(await slow.recv())["type"] == "ready"
            block = "x" * 200_000
            for index in range(200):  # 40 MB: more than every buffer on the way holds
                hub.publish("bulk", "bulk", {"index": index, "block": block})
                await asyncio.sleep(0)
            started = time.monotonic()
            while hub.subscribers and time.monotonic() - started < 30:
                await asyncio.sleep(0.05)
            assert hub.subscribers == 0, "the stuck socket was never dropped"
            assert time.monotonic() - started >= 0.5  # not before its frames waited
            await _closed_for(slow, "slow client: its frames waited 1 s")
        await _still_serving(url)


async def _closed_for(slow: websockets.ClientConnection, reason: str) -> None:
    """``slow`` ends, after what was sent before, with 1013 and ``reason``."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await _read_to_the_end(slow)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1013
    assert reason in closed.value.rcvd.reason


async def _still_serving(url: str) -> None:
    """The server goes on: a new socket gets ``ready``."""
    async with websockets.connect(url) as fresh:
        assert json.loads(await fresh.recv())["type"] == "ready"


async def test_a_replay_from_past_the_log_says_it_is_incomplete(
    tmp_path: Path, scripted_model: ScriptedModel
) -> None:
    async with _in_process(tmp_path, scripted_model) as (stream, hub):
        hub.replay_per_thread = 5
        first = hub.publish("note", "t", {"index": 0}).seq
        for index in range(1, 10):
            hub.publish("note", "t", {"index": index})
        async with websockets.connect(f"{stream}?threadId=t&since={first}") as late:
            assert json.loads(await late.recv())["type"] == "ready"
            replay = json.loads(await late.recv())
            assert replay["payload"] == {"since": first, "complete": False, "frames": 5}
            kept = [json.loads(await late.recv())["payload"]["index"] for _ in range(5)]
            assert kept == [5, 6, 7, 8, 9]  # what the hub still held, in order


async def _read_to_the_end(socket: websockets.ClientConnection) -> None:
    """Read what was already on its way until the server closes the socket."""
    while True:
        await asyncio.wait_for(socket.recv(), 30)


def test_a_socket_may_leave_the_raw_fallback_frames_out(
    server: ServeProcess, client: httpx.Client
) -> None:
    omit = "omit=notification,server_request"
    with Stream(server) as every, Stream(server, f"?{omit}") as typed:
        every.next("ready")
        typed.next("ready")
        sid = create(client, server)  # the app-server's thread/started: typed and raw

        def ours(frame: Json) -> bool:
            return bool(frame.get("threadId") == sid)

        every.next("notification", ours)
        typed.next("app_server.thread.started", ours)
        note(client, sid, "after the start")  # later than the raw frame would be
        typed.next("transcript_updated", ours)
        kinds = {f["type"] for f in every.seen if ours(f)}
        left = {f["type"] for f in typed.seen if ours(f)}
        assert "notification" in kinds
        assert "notification" not in left
        assert {k for k in kinds if k.startswith("app_server.")} <= left
    # A replay honours it too.
    with Stream(server, f"?threadId={sid}&since=0&{omit}") as again:
        again.next("ready")
        assert again.next("replay")["payload"]["complete"] is True
        note(client, sid, "live")
        again.next("transcript_updated", lambda f: f["payload"]["entry"]["messageId"] == "live")
        replayed = {f["type"] for f in again.seen}
        assert "notification" not in replayed
        assert "app_server.thread.started" in replayed


def test_a_bad_omit_is_refused_with_a_reason(server: ServeProcess) -> None:
    many = ",".join(f"type{n}" for n in range(65))
    for query in (f"?omit={many}", "?omit=a,,b"):
        with Stream(server, query) as refused:
            error = refused.next("error")
            assert "omit must be" in error["message"]
