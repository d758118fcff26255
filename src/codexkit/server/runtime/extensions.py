"""Agent extensions: Python objects that watch the server's events and act on them.

An ``Extension`` names the events it handles (``turn.completed``,
``command.approval_requested``, ``app_server.item.started``, ...) with an async
handler each, ``handler(event, actions)``, and may bring job types of its own. It is
registered by the entry point group ``codexkit.extensions`` or by ``codexkit serve
--extension module:name`` (the object, or a callable without arguments that makes it).

The host taps the hub (``EventHub.tap``): it sees each frame as it is published, never
falls behind, and is not counted as a subscriber. Handlers run apart from the turn that
caused the event: each call is a task with the extension's time limit. One that raises
or runs past it is stopped and recorded (the extension's ``lastError``, ``errors``,
``health``); the other handlers and the user's turn go on. Frames of system-owned
sessions (the job queue's workers) reach no extension, so an extension acting through a
worker does not trigger itself.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from ...tools import ToolRegistry
from ..store.models import JobRow
from .errors import Conflict, Invalid, NotFound
from .hub import Frame
from .queue import job_view
from .services import Services
from .views import iso
from .workers import owner_of

__all__ = [
    "ENTRY_POINT_GROUP",
    "Actions",
    "Extension",
    "ExtensionEvent",
    "ExtensionHost",
    "event_names",
]

_log = logging.getLogger("codexkit.server")
Json = dict[str, Any]
ENTRY_POINT_GROUP = "codexkit.extensions"
#: Handler calls running at once, over every extension; an event past it is skipped
#: (and recorded) rather than queued without bound.
MAX_IN_FLIGHT = 256

Handler = Callable[["ExtensionEvent", "Actions"], Awaitable[Any]]
ExtensionJob = Callable[[Json, "Actions"], Awaitable[Json]]

_APPROVAL_EVENTS = {
    "item/fileChange/requestApproval": "file_change.approval_requested",
    "applyPatchApproval": "file_change.approval_requested",
    "item/commandExecution/requestApproval": "command.approval_requested",
    "execCommandApproval": "command.approval_requested",
}


@dataclass
class Extension:
    """``events`` maps event names to async handlers ``(event, actions)``; ``jobs``
    maps job types to async handlers ``(job, actions) -> result`` that the queue runs;
    ``timeout`` bounds each call of an event handler (seconds)."""

    name: str
    events: Mapping[str, Handler] = field(default_factory=dict)
    jobs: Mapping[str, ExtensionJob] = field(default_factory=dict)
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("an extension needs a name")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        for event, handler in {**self.events, **self.jobs}.items():
            if not inspect.iscoroutinefunction(handler):
                raise TypeError(f"the handler of {event!r} must be an async function")


@dataclass(frozen=True)
class ExtensionEvent:
    """One event: its ``type`` (an extension event name), the session it concerns, and
    the payload of the frame it came from (``frame_type``)."""

    type: str
    session_id: str | None
    payload: Json
    frame_type: str
    seq: int


def event_names(frame: Frame) -> list[str]:
    """The extension events a hub frame stands for: its own type, plus a friendlier
    name for approvals and turn ends."""
    names = [frame.type]
    payload = frame.payload if isinstance(frame.payload, dict) else {}
    if frame.type == "approval":
        friendly = _APPROVAL_EVENTS.get(str(payload.get("method")))
        if friendly:
            names.append(friendly)
    elif frame.type == "app_server.turn.completed":
        names.append("turn.completed")
    return names


class Actions:
    """What an extension's handler may do, in the name of the extension (its name is
    the ``actor`` of its decisions)."""

    def __init__(self, runtime: Services, actor: str) -> None:
        self._rt = runtime
        self.actor = actor

    async def enqueue(
        self,
        job_type: str,
        payload: Json,
        *,
        session_id: str | None = None,
        project_id: str | None = None,
        dedupe_key: str | None = None,
    ) -> Json:
        """Queue a job for the owner of ``session_id`` (or for ``project_id``); the job,
        or the queued one with the same ``dedupe_key``."""
        body: Json = {"type": job_type, "payload": payload, "dedupeKey": dedupe_key}
        if session_id is not None:
            body["sourceSessionId"] = session_id
        else:
            body["projectId"] = project_id
        answer: Json = await self._rt.orchestrator.enqueue(body)
        return answer

    async def decide_approval(self, approval_id: str, decision: str, scope: str = "turn") -> Json:
        """Accept, decline or cancel an approval. One a person (or anything else)
        decided first answers ``{status: "reconciled"}``: that is not a failure."""
        try:
            return await self._rt.decide(
                "approval",
                approval_id,
                {"decision": decision, "scope": scope},
                actor=self.actor,
                source="extension",
            )
        except (Conflict, NotFound) as exc:
            return {"status": "reconciled", "approvalId": approval_id, "reason": exc.message}

    async def steer(self, session_id: str, turn_id: str, text: str) -> Json:
        return await self._rt.turns.steer(session_id, turn_id, text)

    async def upsert_transcript(self, session_id: str, entry: Json) -> Json:
        """``entry``: ``{messageId, turnId, role, type, content, status, details?}``."""
        return await self._rt.sessions.upsert_transcript(session_id, entry)

    async def set_setting(self, session_id: str, key: str, value: Any) -> Json:
        return await self._rt.controls.set_settings(session_id, {"key": key, "value": value})

    async def run_agent(
        self, owner_id: str, agent: str, text: str, tools: ToolRegistry | None = None
    ) -> Json:
        """One turn of ``agent`` in the worker session of ``owner_id`` (a project id, or
        ``session:<id>``): ``{sessionId, turnId, reply}``. The agent may call ``tools``
        (Python tools, answered by the worker as it calls them)."""
        return await self._rt.orchestrator.workers.run(owner_id, agent, text, tools=tools)

    @staticmethod
    def owner(project_id: str | None, session_id: str) -> str:
        return owner_of(project_id, session_id)


@dataclass
class _State:
    extension: Extension
    source: str
    calls: int = 0
    errors: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    last_ok: bool = True

    def failed(self, reason: str) -> None:
        self.errors += 1
        self.last_error = reason
        self.last_error_at = time.time()
        self.last_ok = False

    def view(self) -> Json:
        return {
            "name": self.extension.name,
            "source": self.source,
            "events": sorted(self.extension.events),
            "jobTypes": sorted(self.extension.jobs),
            "timeoutSeconds": self.extension.timeout,
            "health": "ok" if self.last_ok else "error",
            "calls": self.calls,
            "errors": self.errors,
            "lastError": self.last_error,
            "lastErrorAt": None if self.last_error_at is None else iso(self.last_error_at),
        }


class ExtensionHost:
    """Loads the extensions, feeds them the hub's events, and reports on them."""

    def __init__(
        self, runtime: Services, specs: list[str], builtins: list[Extension] | None = None
    ) -> None:
        self._rt = runtime
        self._specs = list(specs)
        self._builtins = list(builtins or [])
        self._states: dict[str, _State] = {}
        #: Every event name some loaded extension handles: most frames concern none.
        self._wanted: frozenset[str] = frozenset()
        self._load_errors: list[Json] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._untap: Callable[[], None] = lambda: None
        self._reloading = asyncio.Lock()

    async def start(self) -> None:
        self._load(reload=False)
        self._untap = self._rt.hub.tap(self._dispatch)

    async def close(self) -> None:
        self._untap()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def list(self) -> Json:
        return {
            "status": "ok",
            "extensions": [state.view() for state in self._states.values()],
            "loadErrors": list(self._load_errors),
        }

    async def reload(self) -> Json:
        """Import every extension again (their modules reloaded). 409 while a reload
        runs; 400 with the reasons when one cannot be loaded (the others are)."""
        if self._reloading.locked():
            raise Conflict("a reload of the extensions is already running", code="in_flight")
        async with self._reloading:
            self._load(reload=True)
        if self._load_errors:
            listed = self.list()
            raise Invalid(
                "some extensions could not be loaded",
                code="reload_failed",
                extensions=listed["extensions"],
                loadErrors=listed["loadErrors"],
            )
        return self.list()

    # -- loading -------------------------------------------------------------------------------

    def _load(self, *, reload: bool) -> None:
        found: list[tuple[str, Any]] = [("built in", ext) for ext in self._builtins]
        errors: list[Json] = []
        for spec in self._specs:
            try:
                found.append((spec, _import(spec, reload=reload)))
            except Exception as exc:
                errors.append({"source": spec, "error": f"{type(exc).__name__}: {exc}"})
        for point in entry_points(group=ENTRY_POINT_GROUP):
            source = f"entry point {point.name} ({point.value})"
            try:
                if reload:
                    importlib.reload(importlib.import_module(point.module))
                found.append((source, point.load()))
            except Exception as exc:
                errors.append({"source": source, "error": f"{type(exc).__name__}: {exc}"})
        states: dict[str, _State] = {}
        for source, value in found:
            try:
                extension = _made(value)
            except Exception as exc:
                errors.append({"source": source, "error": f"{type(exc).__name__}: {exc}"})
                continue
            if extension.name in states:
                errors.append({"source": source, "error": f"a second {extension.name!r}"})
                continue
            old = self._states.get(extension.name)
            state = _State(extension, source)
            if old is not None:  # keep the record across reloads
                state.calls, state.errors = old.calls, old.errors
                state.last_error, state.last_error_at = old.last_error, old.last_error_at
            states[extension.name] = state
        for error in errors:
            _log.error("extension %s not loaded: %s", error["source"], error["error"])
        self._states, self._load_errors = states, errors
        self._wanted = frozenset(
            name for state in states.values() for name in state.extension.events
        )
        for state in states.values():
            for job_type, handler in state.extension.jobs.items():
                self._rt.queue.register(job_type, self._job(state, handler))

    def _job(self, state: _State, handler: ExtensionJob) -> Callable[[JobRow], Awaitable[Json]]:
        actions = Actions(self._rt, state.extension.name)

        async def run(row: JobRow) -> Json:
            return await handler(job_view(row), actions)

        return run

    # -- events --------------------------------------------------------------------------------

    def _dispatch(self, frame: Frame) -> None:
        """Called by the hub as each frame is published: start the handlers it wants."""
        if frame.private:  # a worker session's: extensions act on people's chats only
            return
        names = [name for name in event_names(frame) if name in self._wanted]
        if not names:
            return
        payload = frame.payload if isinstance(frame.payload, dict) else {"value": frame.payload}
        for name in names:
            event = ExtensionEvent(name, frame.thread_id, payload, frame.type, frame.seq)
            for state in self._states.values():
                handler = state.extension.events.get(name)
                if handler is None:
                    continue
                if len(self._tasks) >= MAX_IN_FLIGHT:
                    reason = f"{name}: skipped, {MAX_IN_FLIGHT} handler calls were running"
                    self._failed(state, event, reason)
                    continue
                task = asyncio.create_task(self._call(state, handler, event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _call(self, state: _State, handler: Handler, event: ExtensionEvent) -> None:
        extension = state.extension
        state.calls += 1
        try:
            await asyncio.wait_for(
                handler(event, Actions(self._rt, extension.name)), extension.timeout
            )
        except TimeoutError:
            reason = f"{event.type}: ran past its time limit of {extension.timeout:g} s"
            self._failed(state, event, reason)
        except Exception as exc:
            _log.debug("extension %s failed", extension.name, exc_info=True)
            self._failed(state, event, f"{event.type}: {type(exc).__name__}: {exc}")
        else:
            state.last_ok = True

    def _failed(self, state: _State, event: ExtensionEvent, reason: str) -> None:
        """Record a failed call, log it, and say so on the hub (``agent_extension_failed``
        on the event's session)."""
        state.failed(reason)
        _log.warning("extension %s: %s", state.extension.name, reason)
        payload = {"name": state.extension.name, "event": event.type, "error": reason}
        self._rt.hub.publish("agent_extension_failed", event.session_id, payload)


def _import(spec: str, *, reload: bool) -> Any:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{spec!r} is not module:name")
    module = importlib.import_module(module_name)
    if reload and module_name in sys.modules:
        module = importlib.reload(module)
    value = module
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


def _made(value: Any) -> Extension:
    """An extension from what a spec names: the object, or a callable making it."""
    if not isinstance(value, Extension) and callable(value):
        value = value()
    if not isinstance(value, Extension):
        raise TypeError(f"expected a codexkit Extension, got {type(value).__name__}")
    return value
