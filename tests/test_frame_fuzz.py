"""Fuzzing the message path with a real transcript: 100k mutated frames.

``support/transcript.jsonl`` is what the real app-server said in a session of three
concurrent turns (recorded by ``support/record_transcript.py``). Each round replays it
through the client's own line reader, connection, router and turn streams, with some of
its frames broken (a value swapped for junk, a key dropped, bytes cut, flipped or added,
JSON nested 100k deep), fed in arbitrary pieces. In memory, because only a fake can
break frames on demand.

Every round: no exception escapes the reader, the loop or a guard; every request whose
answer came intact is answered; every turn whose answer and ``turn/completed`` came
intact ends with its result; and once the connection closes, everything else ends too,
with a result or a typed error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvloop

from codexkit import AsyncCodex, AsyncThread, AsyncTurn, CodexError, TransportClosedError
from codexkit.transport import MessageSink, Transport
from codexkit.transport._stdio import _LineReader

TRANSCRIPT = Path(__file__).parent / "support" / "transcript.jsonl"
MUTATIONS = 100_000
SEED = 7
DEEP = b"[" * 100_000 + b"]" * 100_000

Json = dict[str, Any]


class _Wire(Transport):
    """A transport in memory: records what the client sends, answers ``initialize``."""

    def __init__(self, initialize_answer: bytes) -> None:
        self.sent: list[Json] = []
        self._answer = initialize_answer
        self.sink: MessageSink | None = None
        self.reader: _LineReader | None = None

    async def start(self, sink: MessageSink) -> None:
        self.sink = sink
        self.reader = _LineReader(sink, lambda: None)

    def send(self, data: bytes) -> None:
        message = json.loads(data)
        self.sent.append(message)
        if message.get("method") == "initialize":
            assert self.reader is not None
            asyncio.get_running_loop().call_soon(self.reader.data_received, self._answer)

    async def close(self) -> None:
        if self.sink is not None:
            self.sink.on_closed(TransportClosedError("the fuzz round is over"))


class _Transcript:
    def __init__(self) -> None:
        entries = [json.loads(line) for line in TRANSCRIPT.read_text().splitlines()]
        self.requests = [
            e["message"] for e in entries if e["direction"] == "outgoing" and "id" in e["message"]
        ]
        incoming = [e["message"] for e in entries if e["direction"] == "incoming"]
        assert incoming[0]["id"] == 1
        assert self.requests[0]["method"] == "initialize"
        self.initialize_answer = _frame(incoming[0])
        self.frames = [_frame(m) for m in incoming[1:]]
        self.messages = incoming[1:]
        self.paths = [list(_paths(m)) for m in self.messages]
        # Which frame answers which request; which frames start and end a thread's turn.
        self.answer_at = {m["id"]: i for i, m in enumerate(self.messages) if "method" not in m}
        self.start_at = self._frames_of("turn/started")
        self.end_at = self._frames_of("turn/completed")

    def _frames_of(self, method: str) -> dict[str, int]:
        return {
            m["params"]["threadId"]: i
            for i, m in enumerate(self.messages)
            if m.get("method") == method
        }


def _frame(message: Json) -> bytes:
    return json.dumps(message).encode()


# -- mutations ------------------------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


# Values put in place of a field. No small integers: a mutated id must not pass for
# another request's.
JUNK: list[Any] = [
    None,
    True,
    -1,
    10**100,
    1.5,
    float("inf"),
    "",
    "x" * 300,
    [],
    {},
    ["a.txt", "b.txt"],
    {"a": {"b": [1, {"c": None}]}},
    _nested(5),
    _nested(60),
    "\u0000\ud7ff\u2028",
]
BYTES_IN = [b"\xff\xfe", b"}", b"{", b'"', b",", b"null", b"\\", b"[1]"]
WHOLE = [b"[]", b"42", b'"text"', b"null", b"{}", b"not json"]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path (keys and indexes) to every value inside a JSON value."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, inner in items:
        yield (*prefix, key)
        if isinstance(inner, (dict, list)):
            yield from _paths(inner, (*prefix, key))


def _mutate(frame: bytes, paths: list[tuple[Any, ...]], rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.65:
        return _mutate_value(frame, rng.choice(paths), rng)
    at = rng.randrange(len(frame))
    if roll < 0.75:
        return frame[:at]
    if roll < 0.85:
        return frame[:at] + bytes([rng.randrange(256)]) + frame[at + 1 :]
    if roll < 0.95:
        return frame[:at] + rng.choice(BYTES_IN) + frame[at:]
    if roll < 0.99:
        return rng.choice(WHOLE)
    return DEEP


def _mutate_value(frame: bytes, path: tuple[Any, ...], rng: random.Random) -> bytes:
    """Drop the value at ``path``, wrap it in a list, or put junk in its place."""
    copy = json.loads(frame)
    container = copy
    for key in path[:-1]:
        container = container[key]
    key = path[-1]
    action = rng.random()
    if action < 0.2 and isinstance(container, dict):
        del container[key]
    elif action < 0.3:
        container[key] = [container[key]]
    else:
        container[key] = rng.choice(JUNK)
    return json.dumps(copy).encode()


def _pieces(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), rng.randrange(0, 4)))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


# -- one round ------------------------------------------------------------------------


async def _round(
    script: _Transcript, rng: random.Random, count: int, monkeypatch: pytest.MonkeyPatch
) -> int:
    wire = _Wire(script.initialize_answer + b"\n")
    codex = AsyncCodex(turn_idle_timeout=None, transport=wire)
    await codex.start()

    threads: dict[str, AsyncThread] = {}
    requests: dict[int, asyncio.Future[Any]] = {}
    turns_of: dict[int, str] = {}
    next_id = 2
    for request in script.requests[1:]:
        params = request.get("params") or {}
        if request["method"] == "turn/start":
            thread_id = params["threadId"]
            thread = threads.setdefault(thread_id, codex.thread(thread_id))
            requests[next_id] = asyncio.ensure_future(thread.turn("go"))
            turns_of[next_id] = thread_id
        else:
            requests[next_id] = asyncio.ensure_future(codex.request(request["method"], params))
        next_id += 1
    await asyncio.sleep(0)  # one step each: every request is now on the wire
    assert [m["id"] for m in wire.sent if "id" in m][1:] == list(requests)

    broken = set(rng.sample(range(len(script.frames)), count))
    frames = [
        _mutate(frame, script.paths[i], rng) if i in broken else frame
        for i, frame in enumerate(script.frames)
    ]
    assert wire.reader is not None
    for piece in _pieces(b"\n".join(frames) + b"\n", rng):
        wire.reader.data_received(piece)

    # No lost answer: each request whose answer came intact is answered, at once.
    answered = [requests[i] for i in requests if script.answer_at[i] not in broken]
    if answered:
        _, late = await asyncio.wait(answered, timeout=10)
        assert not late, "an intact answer was lost"
    # No wedged turn: a turn whose answer, start and end came intact ends with its result.
    # (Its other frames may be broken. A turn/started naming another turn may take the
    # stream before the answer is applied, as when an answer names no turn.)
    for request_id, thread_id in turns_of.items():
        frames_of_turn = {
            script.answer_at[request_id],
            script.start_at[thread_id],
            script.end_at[thread_id],
        }
        if frames_of_turn & broken:
            continue
        turn = requests[request_id].result()
        assert isinstance(turn, AsyncTurn)
        await asyncio.wait_for(_drain(turn), 10)
        assert turn.result is not None

    # Whatever is left ends once the connection closes: with a result or a typed error.
    await codex.close()
    done, pending = await asyncio.wait(requests.values(), timeout=10)
    assert not pending
    for future in done:
        error = future.exception()
        assert error is None or isinstance(error, CodexError), repr(error)
        if error is None and isinstance(future.result(), AsyncTurn):
            with contextlib.suppress(CodexError):
                await asyncio.wait_for(_drain(future.result()), 10)
    return count


async def _drain(turn: AsyncTurn) -> None:
    async for _ in turn:
        pass


class _Errors(logging.Handler):
    """Keeps what the guards catch: an exception no code path expected."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.slow
def test_100k_mutated_frames_of_a_real_transcript(monkeypatch: pytest.MonkeyPatch) -> None:
    # A plain test with a loop of its own, unlike the other async tests (which run on
    # both loops): nothing loop-specific is on this path, and once is enough.
    loop_errors: list[dict[str, Any]] = []
    # The malformed frames are logged by the thousand: keep them out of pytest's capture.
    log = logging.getLogger("codexkit")
    errors = _Errors()
    monkeypatch.setattr(log, "propagate", False)
    log.addHandler(errors)
    try:
        mutated = uvloop.run(_fuzz(loop_errors, monkeypatch))
    finally:
        log.removeHandler(errors)
    assert mutated == MUTATIONS
    assert not loop_errors, loop_errors[:3]
    unexpected = [(r.getMessage(), r.exc_info and r.exc_info[1]) for r in errors.records]
    assert not unexpected, unexpected[:5]


async def _fuzz(loop_errors: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> int:
    asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
    script = _Transcript()
    rng = random.Random(SEED)
    mutated = 0
    while mutated < MUTATIONS:
        count = min(rng.randrange(1, 41), MUTATIONS - mutated)
        mutated += await _round(script, rng, count, monkeypatch)
    return mutated
