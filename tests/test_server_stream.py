"""The websocket ``/api/stream`` of a real ``codexkit serve``: ready, commands, thread
filters, frames in order, replay since a sequence number."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.serve import ServeProcess
from support.serve_rest import create, ok, start_server
from support.stream import Stream
from websockets.exceptions import ConnectionClosed

from codexkit.testing import ScriptedModel

pytestmark = pytest.mark.real

Json = dict[str, Any]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with ScriptedModel() as model:
        running = start_server(tmp_path_factory.mktemp("serve-stream"), model)
        yield running
        running.stop()


@pytest.fixture
def client(server: ServeProcess) -> Iterator[httpx.Client]:
    with server.client() as opened:
        yield opened


def _note(client: httpx.Client, sid: str, message_id: str) -> None:
    """A transcript entry written by a client: one ``transcript_updated`` frame."""
    entry = {
        "messageId": message_id,
        "turnId": "notes",
        "role": "system",
        "type": "note",
        "content": message_id,
        "status": "complete",
    }
    ok(client.post(f"/api/sessions/{sid}/transcript/upsert", json=entry))


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
            _note(client, first if name.startswith("a") else second, name)
        assert _ids(_notes(only_first, 2)) == ["a1", "a2"]
        got = _notes(every, 4)
        assert _ids(got) == ["a1", "b1", "a2", "b2"]
        seqs = [f["seq"] for f in got]
        assert seqs == sorted(seqs)  # the hub's order, each frame numbered

        every.send({"type": "subscribe", "threadId": second})
        every.synced()
        _note(client, first, "a3")
        _note(client, second, "b3")
        assert _ids(_notes(every, 1)) == ["b3"]
        every.send({"type": "unsubscribe"})
        every.synced()
        _note(client, first, "a4")
        assert _ids(_notes(every, 1)) == ["a4"]
        assert _ids(_notes(only_first, 2)) == ["a3", "a4"]  # nothing of the other thread


def test_a_reconnecting_client_gets_what_it_missed(
    server: ServeProcess, client: httpx.Client
) -> None:
    sid = create(client, server)
    with Stream(server, f"?threadId={sid}") as stream:
        stream.next("ready")
        _note(client, sid, "seen")
        last = stream.next("transcript_updated")["seq"]
    for name in ("missed-1", "missed-2", "missed-3"):
        _note(client, sid, name)  # while no socket is connected

    with Stream(server, f"?threadId={sid}&since={last}") as again:
        again.next("ready")
        replay = again.next("replay")
        assert replay["payload"] == {"since": last, "complete": True, "frames": 3}
        missed = _notes(again, 3)
        assert _ids(missed) == ["missed-1", "missed-2", "missed-3"]
        _note(client, sid, "live")
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
