"""The app-server's notifications, recorded and published in order per session.

Each notification of a thread goes to that thread's ordered jobs (see ``OrderedJobs``):
first the store learns what it says (a turn started or ended, an item of the
transcript), then its frames go out. So a client that sees a frame and reads the session
finds what the frame announced, and a turn's completed status is stored only after its
reply. Notifications that arrive while the session's previous ones are being written
are written together, in one transaction, and then published in their order.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from ..store import Store
from ..store.models import TranscriptEntry
from ..store.writes import Writes
from .hub import EventHub
from .ordered import OrderedJobs
from .signals import BROADCAST, DERIVED, context_of, envelope
from .views import transcript_view

__all__ = ["Recorder", "SessionDirectory"]

_log = logging.getLogger("codexkit.server")
Json = dict[str, Any]
_Item = tuple[str, Json, float]  # a notification: method, params, when it was read

# How a finished turn's unfinished entries end, by the turn's status.
_ENTRY_END = {"completed": "complete", "interrupted": "canceled", "failed": "error"}


class SessionDirectory:
    """What frames say about a session (``session`` in the envelope), cached."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[str, Json] = {}

    async def meta(self, session_id: str | None) -> Json | None:
        if session_id is None:
            return None
        cached = self._cache.get(session_id)
        if cached is not None:
            return cached
        # Unknown ids are not cached: a thread's first notifications can arrive before
        # its session is stored (thread/start answers, then the row is written).
        row = await self._store.sessions.get(session_id)
        if row is None:
            return None
        meta = {
            "id": row.id,
            "title": row.title,
            "projectId": row.project_id,
            "systemOwned": row.system_owned,
            "materialized": row.materialized,
        }
        if len(self._cache) >= 50_000:  # bounded: forget the oldest half
            for key in list(self._cache)[:25_000]:
                del self._cache[key]
        self._cache[session_id] = meta
        return meta

    async def materialized(self, writes: Writes, session_id: str) -> None:
        """Record that the session's thread had a turn (codex has stored it), once."""
        meta = await self.meta(session_id)
        if meta is not None and not meta["materialized"]:
            await writes.update_session(session_id, materialized=True)
            # Remembered once committed: a batch that rolls back writes it again.
            writes.on_commit(lambda: meta.__setitem__("materialized", True))

    def forget(self, session_id: str) -> None:
        self._cache.pop(session_id, None)


class Recorder:
    def __init__(
        self, store: Store, hub: EventHub, jobs: OrderedJobs, directory: SessionDirectory
    ) -> None:
        self._store = store
        self._hub = hub
        self._jobs = jobs
        self.directory = directory

    def on_notification(self, method: str, params: Json) -> None:
        """Called for every notification as it is read (on the event loop, not awaited)."""
        # Stamped now, not when its job runs: ``receivedAt`` says when it arrived, so a
        # client can tell how long recording and fan-out took.
        received = time.time()
        thread_id, _ = context_of(params)
        item = (method, params, received)
        if thread_id is None or method in BROADCAST:
            self._jobs.submit_batched("", self._publish_batch, item)
            return
        self._jobs.submit_batched(thread_id, self._record_batch, item)

    async def _publish_batch(self, key: str, items: list[_Item]) -> None:
        for method, params, received in items:
            self._publish(method, params, None, (), received)

    async def _record_batch(self, thread_id: str, items: list[_Item]) -> None:
        written: list[list[TranscriptEntry]] = [[] for _ in items]
        if await self.directory.meta(thread_id) is not None:
            written = await self._store_batch(thread_id, items)
        session = await self.directory.meta(thread_id)  # as stored (a new title, ...)
        for (method, params, received), entries in zip(items, written, strict=True):
            self._publish(method, params, session, entries, received)

    async def _store_batch(self, thread_id: str, items: list[_Item]) -> list[list[TranscriptEntry]]:
        """What the notifications say, in one transaction. If that fails, one at a time:
        a notification the store refuses costs only its own record."""
        try:
            async with self._store.writes() as writes:
                return [await self._store_effects(writes, thread_id, m, p) for m, p, _ in items]
        except Exception:
            if len(items) == 1:
                _log.exception("recording %s of session %s failed", items[0][0], thread_id)
                return [[]]
        written: list[list[TranscriptEntry]] = []
        for method, params, _ in items:
            try:
                async with self._store.writes() as writes:
                    written.append(await self._store_effects(writes, thread_id, method, params))
            except Exception:
                _log.exception("recording %s of session %s failed", method, thread_id)
                written.append([])
        return written

    def _publish(
        self,
        method: str,
        params: Json,
        session: Json | None,
        entries: Any,
        received: float,
    ) -> None:
        thread_id, _ = context_of(params)
        broadcast = method in BROADCAST
        private = bool(session and session.get("systemOwned"))
        hub = self._hub
        event_type, payload = envelope(method, params, session=session, received_at=received)
        hub.publish(event_type, thread_id, payload, broadcast=broadcast, private=private)
        derived = DERIVED.get(method)
        if derived is not None:
            hub.publish(derived, thread_id, params, broadcast=broadcast, private=private)
        for entry in entries:
            view = {"sessionId": thread_id, "entry": transcript_view(entry)}
            hub.publish("transcript_updated", thread_id, view, private=private)
        raw = {"method": method, "params": params}
        hub.publish("notification", thread_id, raw, broadcast=broadcast, private=private)

    # -- what the store learns -----------------------------------------------------------

    async def _store_effects(
        self, writes: Writes, thread_id: str, method: str, params: Json
    ) -> list[TranscriptEntry]:
        _, turn_id = context_of(params)
        if method == "turn/started" and turn_id:
            await writes.start_turn(thread_id, turn_id)
            await self.directory.materialized(writes, thread_id)
            return []
        if method in ("item/started", "item/completed") and turn_id:
            item = params.get("item")
            # A user message is complete when it starts: one write, at its completion.
            if isinstance(item, dict) and not (
                method == "item/started" and item.get("type") == "userMessage"
            ):
                done = method == "item/completed"
                entry = await self._put_item(writes, thread_id, turn_id, item, done)
                return [entry] if entry is not None else []
            return []
        if method == "turn/completed" and turn_id:
            return await self._end_turn(writes, thread_id, turn_id, params)
        if method == "thread/name/updated":
            name = params.get("threadName") or params.get("name")
            if isinstance(name, str):
                await writes.update_session(thread_id, title=name)
                writes.on_commit(lambda: self.directory.forget(thread_id))
        return []

    async def _put_item(
        self, writes: Writes, thread_id: str, turn_id: str, item: Json, done: bool
    ) -> TranscriptEntry | None:
        role, content, details = _entry_of(item)
        if role is None:
            return None
        now = time.time()
        fields: Json = {
            "turn_id": turn_id,
            "role": role,
            "type": str(item.get("type")),
            "content": content,
            "details": details,
            "status": "complete" if done or role == "user" else "streaming",
        }
        fields["completed_at" if done else "started_at"] = now
        return await writes.put_entry(thread_id, str(item.get("id")), **fields)

    async def _end_turn(
        self, writes: Writes, thread_id: str, turn_id: str, params: Json
    ) -> list[TranscriptEntry]:
        """The turn's unfinished entries end, an error is written down, and only then
        the turn's status: a reader never sees the status before the reply."""
        raw_turn = params.get("turn")
        turn: Json = raw_turn if isinstance(raw_turn, dict) else {}
        status = str(turn.get("status") or "completed")
        error = turn.get("error") if isinstance(turn.get("error"), dict) else None
        ended = _ENTRY_END.get(status, "error")
        written = list(await writes.end_streaming(thread_id, turn_id, ended))
        if error is not None:
            message = str(error.get("message", ""))
            written.append(await self.note(writes, thread_id, turn_id, message))
        now = time.time()
        this = await writes.put_turn(thread_id, turn_id, status, completed_at=now, error=error)
        # A turn that started inside this one (an inline review's own turn) is never
        # reported finished: it ends with its outer turn. Earlier turns are left alone.
        await writes.end_turns_started_after(thread_id, this.started_at, status, now)
        return written

    async def note(
        self, writes: Writes, thread_id: str, turn_id: str, message: str
    ) -> TranscriptEntry:
        """A system entry in the transcript (why a turn failed, what the server did)."""
        now = time.time()
        return await writes.put_entry(
            thread_id,
            f"error:{turn_id}:{int(now * 1000)}",
            turn_id=turn_id,
            role="system",
            type="error",
            content=message,
            details=None,
            status="error",
            started_at=now,
            completed_at=now,
        )


def _entry_of(item: Json) -> tuple[str | None, str, str | None]:
    """(role, content, details) of a thread item; role None for items the transcript
    leaves out (reasoning)."""
    kind = item.get("type")
    if kind == "userMessage":
        content = item.get("content")
        parts = content if isinstance(content, list) else []
        text = "\n".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))
        return "user", text, None
    if kind == "agentMessage":
        return "assistant", str(item.get("text") or ""), None
    if kind == "reasoning":
        return None, "", None
    if kind == "commandExecution":
        return "system", str(item.get("command") or ""), _details(item)
    return "system", str(kind), _details(item)


def _details(item: Json) -> str:
    text = json.dumps(item, sort_keys=True, default=str)
    return text if len(text) <= 64_000 else text[:64_000] + "…"
