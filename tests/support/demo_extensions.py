"""Agent extensions for tests/test_server_extensions.py, loaded by a real ``codexkit
serve`` with ``--extension support.demo_extensions:NAME``."""

from __future__ import annotations

import asyncio

from codexkit.server.runtime.extensions import Actions, Extension, ExtensionEvent

Json = dict[str, object]


async def _raise(event: ExtensionEvent, actions: Actions) -> None:
    raise RuntimeError("broken on purpose")


async def _hang(event: ExtensionEvent, actions: Actions) -> None:
    await asyncio.sleep(60)


async def _note(event: ExtensionEvent, actions: Actions) -> None:
    """After each turn: a transcript entry saying so, and a setting with its id."""
    assert event.session_id is not None
    turn_id = str(event.payload["context"]["turnId"])
    entry = {
        "messageId": f"note::{turn_id}",
        "turnId": turn_id,
        "role": "system",
        "type": "extension.note",
        "content": f"noted turn {turn_id}",
        "status": "complete",
    }
    await actions.upsert_transcript(event.session_id, entry)
    await actions.set_setting(event.session_id, "lastNotedTurn", turn_id)


async def _accept(event: ExtensionEvent, actions: Actions) -> None:
    await actions.decide_approval(str(event.payload["approvalId"]), "accept")


async def _echo_job(job: dict[str, object], actions: Actions) -> dict[str, object]:
    return {"echo": job["payload"]}


async def _asked(event: ExtensionEvent, actions: Actions) -> None:
    """When a suggestion is asked for: what it was asked with, in the transcript."""
    assert event.session_id is not None
    asked = [str(event.payload.get(key)) for key in ("requestKey", "draft", "model", "effort")]
    entry = {
        "messageId": f"asked::{event.payload.get('jobId')}",
        "turnId": "suggestions",
        "role": "system",
        "type": "extension.asked",
        "content": " ".join(asked),
        "status": "complete",
    }
    await actions.upsert_transcript(event.session_id, entry)


broken = Extension("broken", events={"turn.completed": _raise})
slow = Extension("slow", events={"turn.completed": _hang}, timeout=0.5)
noter = Extension(
    "noter",
    events={"turn.completed": _note, "suggest_request.requested": _asked},
    jobs={"echo": _echo_job},
)


def approver() -> Extension:
    """A callable making the extension works as well as the object."""
    return Extension("approver", events={"command.approval_requested": _accept})
