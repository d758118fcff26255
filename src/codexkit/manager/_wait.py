"""``cm.wait``: send a message and wait for the reply, driven by websocket events.

The wait subscribes to the session's thread before it sends, so the turn's end cannot
slip past. The reply comes from the ``transcript_updated`` frames and the status from
``app_server.turn.completed``: per turn one HTTP request (the send) and one websocket;
it reads the session only when the socket did not tell both. Where no
socket can be had it polls the session every ``interval_seconds`` instead; while the
socket is quiet it also reads the session once per ``heartbeat_seconds``, so an event the
server could not replay never leaves it waiting to the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import WebSocketException

from ._bridge import Bridge, body
from ._socket import RAW_FALLBACKS, StreamConnection, StreamEvent
from .errors import ManagerError

__all__ = [
    "TERMINAL_TURN_STATUSES",
    "TurnEvents",
    "WaitApi",
    "WaitReply",
    "reply_in",
    "turn_status_in",
]

TERMINAL_TURN_STATUSES = frozenset({"completed", "failed", "error", "interrupted", "canceled"})
HEARTBEAT_SECONDS = 10.0


@dataclass(frozen=True)
class WaitReply:
    """The end of a turn: its status and the assistant's last complete reply in it.
    ``session`` is the session as read at the end, ``None`` when the websocket carried
    the whole end and no read was needed."""

    session_id: str
    turn_id: str
    status: str
    assistant_reply: str | None
    session: dict[str, Any] | None


def turn_status_in(session: Any, turn_id: str) -> str | None:
    """The status of ``turn_id`` in a read session (``None``: not there yet)."""
    thread = session.get("thread") if isinstance(session, dict) else None
    for turn in (thread or {}).get("turns") or []:
        if isinstance(turn, dict) and turn.get("id") == turn_id:
            status = turn.get("status")
            return status if isinstance(status, str) else None
    return None


def reply_in(session: dict[str, Any], turn_id: str) -> str | None:
    """The last complete assistant entry of the turn, as the contract's clients take it."""
    found: str | None = None
    for entry in session.get("transcript") or []:
        if (
            isinstance(entry, dict)
            and entry.get("turnId") == turn_id
            and entry.get("role") == "assistant"
            and entry.get("status") == "complete"
        ):
            found = entry.get("content")
    return found


def _ends_turn(event: StreamEvent, turn_id: str) -> bool:
    if event.type != "app_server.turn.completed":
        return False
    payload = event.payload if isinstance(event.payload, dict) else {}
    context = payload.get("context") or {}
    params = payload.get("params") or {}
    turn = params.get("turn") if isinstance(params, dict) else None
    ids = {context.get("turnId"), turn.get("id") if isinstance(turn, dict) else None}
    return turn_id in ids or ids == {None}


class WaitApi:
    def __init__(self, bridge: Bridge) -> None:
        self._bridge = bridge

    async def _read(self, session_id: str) -> dict[str, Any]:
        session: dict[str, Any] = await self._bridge.core.call(
            "readSession", params={"sessionId": session_id}
        )
        return session

    async def _open_watch(self, session_id: str) -> StreamConnection | None:
        watch = StreamConnection(self._bridge.core, session_id, max_failures=3, omit=RAW_FALLBACKS)
        try:
            await watch.open()
        except (OSError, WebSocketException, asyncio.TimeoutError, ManagerError):
            return None  # no socket: poll instead
        return watch

    async def _wait(
        self,
        session_id: str,
        text: str,
        timeout: float,
        interval: float,
        send_options: dict[str, Any],
    ) -> WaitReply:
        deadline = time.monotonic() + timeout
        watch = await self._open_watch(session_id)
        try:
            accepted = await self._bridge.core.call(
                "sendSessionMessage",
                params={"sessionId": session_id},
                body=body(text=text, **send_options),
            )
            turn_id = str(accepted["turnId"])
            return await self._until_done(session_id, turn_id, deadline, interval, watch)
        finally:
            if watch is not None:
                await watch.aclose()

    async def _until_done(
        self,
        session_id: str,
        turn_id: str,
        deadline: float,
        interval: float,
        watch: StreamConnection | None,
    ) -> WaitReply:
        seen = TurnEvents(turn_id)
        pump = asyncio.ensure_future(seen.follow(watch)) if watch else None
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"turn {turn_id} of session {session_id} did not end in time"
                    )
                if pump is None or pump.done():
                    await asyncio.sleep(min(interval, remaining))
                else:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(seen.ended.wait(), min(HEARTBEAT_SECONDS, remaining))
                    seen.ended.clear()
                    if seen.status in TERMINAL_TURN_STATUSES and seen.reply is not None:
                        # The socket told the whole end: no read needed.
                        return WaitReply(session_id, turn_id, seen.status, seen.reply, None)
                session = await self._read(session_id)
                status = turn_status_in(session, turn_id)
                if status in TERMINAL_TURN_STATUSES:
                    assert status is not None
                    reply = reply_in(session, turn_id)
                    return WaitReply(session_id, turn_id, status, reply, session)
        finally:
            if pump is not None:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump

    def send_message_and_wait_reply(
        self,
        *,
        session_id: str,
        text: str,
        timeout_seconds: float = 120.0,
        interval_seconds: float = 1.0,
        **send_options: Any,
    ) -> Any:
        """Send ``text`` and wait for the turn to end: a :class:`WaitReply` (``turn_id``,
        ``status``, ``assistant_reply``). ``interval_seconds`` paces the polling used only
        when no websocket can be opened. ``TimeoutError`` past ``timeout_seconds``.
        ``send_options``: as ``sessions.send_message`` takes them (``model``, ``effort``,
        ``approval_policy``, ``dynamic_tools``, ...).
        """
        return self._bridge.run(
            self._wait(session_id, text, timeout_seconds, interval_seconds, send_options)
        )

    def turn_status(self, *, session_id: str, turn_id: str) -> Any:
        """The turn's status now (``inProgress``, ``completed``, ...; ``None``: unknown)."""

        async def read() -> str | None:
            return turn_status_in(await self._read(session_id), turn_id)

        return self._bridge.run(read())


class TurnEvents:
    """What the socket says about one turn: its reply (from ``transcript_updated``, the
    entries the server writes, which come before the turn's end) and its end."""

    def __init__(self, turn_id: str) -> None:
        self.turn_id = turn_id
        self.reply: str | None = None
        self.status: str | None = None
        self.ended = asyncio.Event()

    async def follow(self, watch: StreamConnection) -> None:
        async for event in watch.frames():
            self.see(event)

    def see(self, event: StreamEvent) -> None:
        """Take in one frame (``ended`` is set by the turn's end, or by a replay that
        lost events: the session should be read then)."""
        if event.type == "transcript_updated":
            self._entry(event.payload)
        elif event.type == "replay":  # events were lost: read the session now
            self.ended.set()
        elif _ends_turn(event, self.turn_id):
            self.status = _status_of(event)
            self.ended.set()

    def _entry(self, payload: Any) -> None:
        entry = payload.get("entry") if isinstance(payload, dict) else None
        if (
            isinstance(entry, dict)
            and entry.get("turnId") == self.turn_id
            and entry.get("role") == "assistant"
            and entry.get("status") == "complete"
            and isinstance(entry.get("content"), str)
        ):
            self.reply = entry["content"]


def _status_of(event: StreamEvent) -> str | None:
    payload = event.payload if isinstance(event.payload, dict) else {}
    params = payload.get("params")
    turn = params.get("turn") if isinstance(params, dict) else None
    status = turn.get("status") if isinstance(turn, dict) else None
    return status if isinstance(status, str) else None
