"""A scripted stand-in for ``codex app-server``, for what the real one cannot show on
demand: a crash at a chosen moment, a flood of notifications, malformed frames, a huge
line, an unknown notification, a server request of any kind.

Run as ``python fake_app_server.py SCENARIO [ARG]``; it speaks the same newline-delimited
JSON-RPC on stdio. Every ``turn/start`` plays the scenario:

- ``ok``: one agent message "done", then the turn completes.
- ``flood N``: N agent-message deltas, then the turn completes.
- ``big BYTES``: one delta of BYTES bytes on a single line, then completes.
- ``crash``: turn/started, a line on stderr, then exit code 3 mid-turn.
- ``unknown``: a notification with a method no client knows, then completes.
- ``malformed``: garbage lines and non-object JSON, then completes normally.
- ``hang``: turn/started and then nothing.
- ``onewrite BAD``: the ``turn/start`` answer and the whole turn (a message, completion)
  in a single write, after one bad frame of kind BAD (see ``BAD_FRAMES``; ``none`` for
  no bad frame), so that a client reads them all in one go.
- ``badend SHAPE``: turn/started, a message, then a ``turn/completed`` whose ``turn`` is
  malformed (see ``BAD_ENDS``), then nothing.
- ``huge BYTES``: turn/started, then a line of BYTES bytes that never ends, then nothing.
- ``closed``: the turn completes, then the thread closes (``thread/closed``).
- ``request METHOD``: sends the server request METHOD, waits for the answer, reports it
  in a ``test/answer`` notification, then completes.

In every scenario ``thread/read`` refuses a thread that is not loaded, as codex 0.169+
may (see `stored_thread`).
"""

from __future__ import annotations

import json
import sys
from typing import Any

OUT = sys.stdout.buffer
THREAD = "thread-1"


def frame(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def send(message: dict[str, Any]) -> None:
    OUT.write(frame(message))
    OUT.flush()


def notify(method: str, params: dict[str, Any]) -> None:
    send({"method": method, "params": params})


def turn_obj(turn_id: str, status: str) -> dict[str, Any]:
    return {"id": turn_id, "items": [], "status": status, "error": None, "durationMs": 1}


def complete(turn_id: str, text: str = "done") -> None:
    item = {"type": "agentMessage", "id": f"m-{turn_id}", "text": text, "phase": None}
    base = {"threadId": THREAD, "turnId": turn_id}
    notify("item/completed", {**base, "item": item})
    notify("turn/completed", {"threadId": THREAD, "turn": turn_obj(turn_id, "completed")})


def flood(turn_id: str, count: int) -> None:
    line = (
        json.dumps(
            {
                "method": "item/agentMessage/delta",
                "params": {"threadId": THREAD, "turnId": turn_id, "itemId": "m", "delta": "x"},
            }
        ).encode()
        + b"\n"
    )
    batch = line * 1000
    for _ in range(count // 1000):
        OUT.write(batch)
    OUT.write(line * (count % 1000))
    OUT.flush()
    complete(turn_id)


def bad_frames(turn_id: str) -> dict[str, bytes]:
    """Frames that once broke a client's reading, by name."""
    base = {"threadId": THREAD, "turnId": turn_id}
    changes = {"type": "fileChange", "id": "f1", "changes": ["a.txt"], "status": "inProgress"}
    return {
        "none": b"",
        "filechange": frame({"method": "item/started", "params": {**base, "item": changes}}),
        "threadid": frame({"method": "thread/status/changed", "params": {"threadId": {"a": 1}}}),
        "responseid": frame({"id": [1], "result": {}}),
        "deep": b"[" * 100_000 + b"]" * 100_000 + b"\n",
    }


BAD_ENDS: dict[str, Any] = {"string": "oops", "nostatus": {"items": []}, "null": None}


def one_write(kind: str, request_id: Any, turn_id: str) -> None:
    item = {"type": "agentMessage", "id": f"m-{turn_id}", "text": "done", "phase": None}
    base = {"threadId": THREAD, "turnId": turn_id}
    frames = [
        bad_frames(turn_id)[kind],
        frame({"id": request_id, "result": {"turn": turn_obj(turn_id, "inProgress")}}),
        frame(
            {
                "method": "turn/started",
                "params": {"threadId": THREAD, "turn": turn_obj(turn_id, "inProgress")},
            }
        ),
        frame({"method": "item/completed", "params": {**base, "item": item}}),
        frame(
            {
                "method": "turn/completed",
                "params": {"threadId": THREAD, "turn": turn_obj(turn_id, "completed")},
            }
        ),
    ]
    OUT.write(b"".join(frames))
    OUT.flush()


def endless_line(size: int) -> None:
    block = b"z" * (1 << 20)
    for _ in range(size >> 20):
        OUT.write(block)
    OUT.write(block[: size % (1 << 20)])
    OUT.flush()


def await_answer(stdin: Any) -> dict[str, Any]:
    """Read until the client answers our request 0, refusing its own requests meanwhile."""
    for raw in stdin:
        message = json.loads(raw)
        if "method" not in message and message.get("id") == 0:
            return dict(message)
        if "method" in message and "id" in message:
            send({"id": message["id"], "error": {"code": -32601, "message": "busy"}})
    raise SystemExit("stdin closed before the answer came")


def play(scenario: list[str], turn_id: str, stdin: Any) -> None:
    kind = scenario[0]
    notify("turn/started", {"threadId": THREAD, "turn": turn_obj(turn_id, "inProgress")})
    base = {"threadId": THREAD, "turnId": turn_id}
    if kind == "ok":
        complete(turn_id)
    elif kind == "flood":
        flood(turn_id, int(scenario[1]))
    elif kind == "big":
        notify("item/agentMessage/delta", {**base, "itemId": "m", "delta": "y" * int(scenario[1])})
        complete(turn_id)
    elif kind == "crash":
        sys.stderr.write("fake app-server: crashing on purpose\n")
        sys.stderr.flush()
        sys.exit(3)
    elif kind == "unknown":
        notify("future/somethingNew", {**base, "payload": {"answer": 42}})
        complete(turn_id)
    elif kind == "malformed":
        OUT.write(b'this is not json\n[1, 2, 3]\n{"method": 7}\n\n')
        OUT.flush()
        complete(turn_id)
    elif kind == "closed":
        complete(turn_id)
        notify("thread/closed", {"threadId": THREAD})
    elif kind == "request":
        send({"id": 0, "method": scenario[1], "params": {**base, "itemId": "i", "tool": "nope"}})
        answer = await_answer(stdin)
        notify("test/answer", {**base, "answer": answer})
        complete(turn_id)
    elif kind == "badend":
        item = {"type": "agentMessage", "id": f"m-{turn_id}", "text": "done", "phase": None}
        notify("item/completed", {**base, "item": item})
        notify("turn/completed", {"threadId": THREAD, "turn": BAD_ENDS[scenario[1]]})
    elif kind == "huge":
        endless_line(int(scenario[1]))
    elif kind != "hang":
        raise SystemExit(f"unknown scenario {kind}")


def stored_thread(method: str, params: dict[str, Any], loaded: set[str]) -> dict[str, Any]:
    """Reading stored threads as codex 0.169+ can: ``thread/read`` answers "thread not
    loaded" until the thread is started or resumed on this server (``THREAD`` is the one
    stored thread; any other id does not exist)."""
    thread_id = params.get("threadId")
    if method == "thread/resume":
        if thread_id != THREAD:
            return {"error": {"code": -32600, "message": f"no rollout found for {thread_id}"}}
        loaded.add(THREAD)
        return {"result": {"thread": {"id": THREAD}}}
    if method == "thread/loaded/list":
        return {"result": {"data": sorted(loaded), "nextCursor": None}}
    if method == "thread/unsubscribe":
        status = "unsubscribed" if thread_id in loaded else "notLoaded"
        loaded.discard(str(thread_id))
        return {"result": {"status": status}}
    if thread_id not in loaded:
        return {"error": {"code": -32600, "message": f"thread not loaded: {thread_id}"}}
    return {"result": {"thread": {"id": thread_id, "turns": [turn_obj("turn-1", "completed")]}}}


def main() -> None:
    scenario = sys.argv[1:] or ["ok"]
    turns = 0
    loaded: set[str] = set()
    stdin = sys.stdin
    for raw in stdin:
        message = json.loads(raw)
        method, request_id = message.get("method"), message.get("id")
        if request_id is None:
            continue  # notifications (initialized) and stray responses
        if method == "initialize":
            send({"id": request_id, "result": {"userAgent": "fake/0.163.0", "codexHome": "/x"}})
        elif method in ("thread/start", "thread/fork"):
            send({"id": request_id, "result": {"thread": {"id": THREAD}}})
            loaded.add(THREAD)
        elif method in ("thread/resume", "thread/read", "thread/unsubscribe", "thread/loaded/list"):
            send({"id": request_id, **stored_thread(method, message["params"], loaded)})
        elif method == "turn/start" and scenario[0] == "onewrite":
            turns += 1
            one_write(scenario[1], request_id, f"turn-{turns}")
        elif method == "turn/start":
            turns += 1
            turn_id = f"turn-{turns}"
            send({"id": request_id, "result": {"turn": turn_obj(turn_id, "inProgress")}})
            play(scenario, turn_id, stdin)
        elif method == "turn/interrupt":
            send({"id": request_id, "result": {}})
            turn_id = message["params"]["turnId"]
            notify("turn/completed", {"threadId": THREAD, "turn": turn_obj(turn_id, "interrupted")})
        else:
            send({"id": request_id, "error": {"code": -32601, "message": f"unknown {method}"}})


if __name__ == "__main__":
    main()
