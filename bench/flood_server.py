"""A stand-in ``codex app-server`` that floods every turn with agent-message deltas.

Run as ``python bench/flood_server.py N [ignored args...]``. It speaks the app-server's
newline-delimited JSON-RPC on stdio and, for each ``turn/start``, sends ``turn/started``,
``N`` ``item/agentMessage/delta`` notifications, ``item/completed`` and ``turn/completed``.

It plays the same ``flood`` scenario as ``tests/support/fake_app_server.py``, but answers
``initialize``, ``thread/start`` and ``turn/start`` with complete results shaped like the
real 0.163.0 server's (recorded from it): the official ``openai-codex`` SDK validates
every response with pydantic and rejects the test fake's minimal ``{"thread": {"id"}}``.
Extra arguments (``app-server --listen stdio://``) are ignored, so a wrapper script
that ``exec``\\ s this file works as a ``codex`` binary for any client.
"""

from __future__ import annotations

import json
import sys
from typing import Any

OUT = sys.stdout.buffer
THREAD = "019a0000-0000-7000-8000-00000000f100"
CWD = "/tmp"
EMITTED = 1_800_000_000_000


def send(message: dict[str, Any]) -> None:
    OUT.write(json.dumps(message).encode() + b"\n")
    OUT.flush()


def notify(method: str, params: dict[str, Any]) -> None:
    send({"method": method, "params": params, "emittedAtMs": EMITTED})


def turn_obj(turn_id: str, status: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": turn_id,
        "rootTurnId": turn_id,
        "items": items,
        "itemsView": "summary" if status != "inProgress" else "notLoaded",
        "status": status,
        "error": None,
        "startedAt": 1_800_000_000,
        "completedAt": 1_800_000_001 if status != "inProgress" else None,
        "durationMs": 1 if status != "inProgress" else None,
    }


def thread_obj() -> dict[str, Any]:
    return {
        "id": THREAD,
        "sessionId": THREAD,
        "forkedFromId": None,
        "parentThreadId": None,
        "preview": "",
        "ephemeral": False,
        "modelProvider": "flood",
        "model": "mock-model",
        "reasoningEffort": None,
        "createdAt": 1_800_000_000,
        "updatedAt": 1_800_000_000,
        "status": {"type": "idle"},
        "path": None,
        "cwd": CWD,
        "cliVersion": "0.163.0",
        "source": "vscode",
        "threadSource": None,
        "agentNickname": None,
        "agentRole": None,
        "gitInfo": None,
        "name": None,
        "turns": [],
    }


def thread_result() -> dict[str, Any]:
    return {
        "thread": thread_obj(),
        "model": "mock-model",
        "modelProvider": "flood",
        "serviceTier": None,
        "cwd": CWD,
        "instructionSources": [],
        "approvalPolicy": "never",
        "approvalsReviewer": "user",
        "sandbox": {"type": "readOnly", "networkAccess": False},
        "reasoningEffort": None,
    }


def agent_message(item_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "agentMessage",
        "id": item_id,
        "text": text,
        "phase": None,
        "memoryCitation": None,
        "delivery": None,
        "questions": None,
    }


def flood(turn_id: str, count: int) -> None:
    notify("turn/started", {"threadId": THREAD, "turn": turn_obj(turn_id, "inProgress", [])})
    item_id = f"msg-{turn_id}"
    line = (
        json.dumps(
            {
                "method": "item/agentMessage/delta",
                "params": {"threadId": THREAD, "turnId": turn_id, "itemId": item_id, "delta": "x"},
                "emittedAtMs": EMITTED,
            }
        ).encode()
        + b"\n"
    )
    batch = line * 1000
    for _ in range(count // 1000):
        OUT.write(batch)
    OUT.write(line * (count % 1000))
    OUT.flush()
    item = agent_message(item_id, "x" * count)
    base = {"threadId": THREAD, "turnId": turn_id}
    notify("item/completed", {**base, "item": item, "completedAtMs": EMITTED})
    notify("turn/completed", {"threadId": THREAD, "turn": turn_obj(turn_id, "completed", [item])})


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100_000
    turns = 0
    for raw in sys.stdin:
        message = json.loads(raw)
        method, request_id = message.get("method"), message.get("id")
        if request_id is None:
            continue  # notifications (initialized) and stray responses
        if method == "initialize":
            agent = "codex_flood/0.163.0 (bench stand-in)"
            result = {
                "userAgent": agent,
                "codexHome": "/tmp",
                "platformFamily": "unix",
                "platformOs": "linux",
            }
            send({"id": request_id, "result": result})
        elif method == "thread/start":
            send({"id": request_id, "result": thread_result()})
        elif method == "turn/start":
            turns += 1
            turn_id = f"019a0000-0000-7000-8000-{turns:012d}"
            send({"id": request_id, "result": {"turn": turn_obj(turn_id, "inProgress", [])}})
            flood(turn_id, count)
        else:
            send({"id": request_id, "error": {"code": -32601, "message": f"unknown {method}"}})


if __name__ == "__main__":
    main()
