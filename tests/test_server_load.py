"""The load test of record: a real ``codexkit serve`` (real binary, scripted model) under
50 sessions sending 4 messages each at once over REST, watched by 100 websocket
subscribers (two per session). Every reply lands in its transcript, and every
subscriber sees every frame of its thread, in order, none lost or doubled. On SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from support.postgres import postgres_cluster, postgres_url  # noqa: F401 (fixtures)
from support.serve import ServeProcess
from support.serve_client import ServeClient, Stream

from codexkit.testing import RecordedRequest, Reply, ScriptedModel, text

pytestmark = [pytest.mark.real, pytest.mark.slow]

SESSIONS = 50
MESSAGES = 4  # per session, one after another (a second message while a turn runs is 409)
SUBSCRIBERS_PER_SESSION = 2  # 100 sockets
TURN_TIMEOUT = 120.0  # one turn under the whole load, on a loaded 2-core machine
WHOLE_RUN_LIMIT = 300.0  # generous: about 20-40 s on a quiet 2-core machine


def _reply(request: RecordedRequest) -> Reply:
    return text(f"re: {request.last_user_text}")


@pytest.fixture(params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    """The server under load, on SQLite in its data dir or on a PostgreSQL database."""
    root = tmp_path_factory.mktemp(f"serve-load-{request.param}")
    args = []
    if request.param == "postgresql":
        args = ["--database-url", request.getfixturevalue("postgres_url")]
    with (
        ScriptedModel(default=_reply) as model,
        ServeProcess.scripted(model, root, args=args) as running,
    ):
        yield running


async def _converse(client: ServeClient, session_id: str, watcher: Stream) -> list[str]:
    """Send this session's messages one after another, each once the socket saw the
    previous turn complete; the turn ids, in order."""
    turns = []
    for n in range(MESSAGES):
        turn_id = await client.send(session_id, f"message {n} of {session_id}")
        await watcher.wait_turn(turn_id, TURN_TIMEOUT)
        turns.append(turn_id)
    return turns


async def _load(server: ServeProcess) -> tuple[dict[str, list[str]], dict[str, list[Stream]]]:
    client = ServeClient(server.url, server.token)
    streams: dict[str, list[Stream]] = {}
    try:
        sessions = await asyncio.gather(*(client.create_session() for _ in range(SESSIONS)))
        for session_id in sessions:
            streams[session_id] = [
                await client.stream(session_id).open() for _ in range(SUBSCRIBERS_PER_SESSION)
            ]
        conversations = await asyncio.gather(
            *(_converse(client, s, streams[s][0]) for s in sessions)
        )
        turns = dict(zip(sessions, conversations, strict=True))
        # Every socket, not only the one each conversation waited on, saw every turn end.
        for session_id, session_streams in streams.items():
            for stream in session_streams:
                for turn_id in turns[session_id]:
                    await stream.wait_turn(turn_id, TURN_TIMEOUT)
        await _check_transcripts(client, turns)
        await _check_against_replay(client, streams)
        return turns, streams
    finally:
        for session_streams in streams.values():
            for stream in session_streams:
                await stream.close()
        await client.close()


async def _check_transcripts(client: ServeClient, turns: dict[str, list[str]]) -> None:
    for session_id, turn_ids in turns.items():
        entries = await client.transcript(session_id)
        replies = [e for e in entries if e["role"] == "assistant"]
        assert [e["content"] for e in replies] == [
            f"re: message {n} of {session_id}" for n in range(MESSAGES)
        ], session_id
        assert [e["turnId"] for e in replies] == turn_ids
        assert all(e["status"] == "complete" for e in replies)
        users = [e["content"] for e in entries if e["role"] == "user"]
        assert users == [f"message {n} of {session_id}" for n in range(MESSAGES)]


async def _check_against_replay(client: ServeClient, streams: dict[str, list[Stream]]) -> None:
    """Each subscriber's frames of its thread are exactly the server's log of that
    thread from the subscriber's first frame on: same frames, same order, none twice."""
    for session_id, session_streams in streams.items():
        async with client.stream(session_id, since=0) as replay:
            last_seq = max(f["seq"] for s in session_streams for f in s.thread_frames())
            for stream in [replay, *session_streams]:
                await stream.wait_seq(last_seq, 30.0)
            logged = [f["seq"] for f in replay.thread_frames() if f["seq"] <= last_seq]
        for stream in session_streams:
            seen = [f["seq"] for f in stream.thread_frames() if f["seq"] <= last_seq]
            assert seen == sorted(set(seen)), "frames out of order or doubled"
            assert seen == [s for s in logged if s >= seen[0]], "frames lost"
            # Subscribed before the first message: the whole conversation is in view.
            assert sum(1 for f in stream.thread_frames() if f["type"] == "transcript_updated")


def test_50_sessions_4_messages_each_100_subscribers_nothing_lost(server: ServeProcess) -> None:
    started = time.monotonic()
    try:
        turns, streams = asyncio.run(asyncio.wait_for(_load(server), WHOLE_RUN_LIMIT))
    except Exception as error:  # say what the server logged: a 500 alone says nothing
        log = server.text()[-6000:]
        raise AssertionError(f"{error!r}; the server's log ends:\n{log}") from error
    elapsed = time.monotonic() - started
    assert len(turns) == SESSIONS
    assert sum(len(t) for t in turns.values()) == SESSIONS * MESSAGES
    assert sum(len(s) for s in streams.values()) == SESSIONS * SUBSCRIBERS_PER_SESSION
    assert elapsed < WHOLE_RUN_LIMIT
    assert "Traceback" not in server.text(), server.text()[-4000:]
