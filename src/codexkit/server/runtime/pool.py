"""A pool of app-server processes, each an ``AsyncCodex`` client, restarted when one
exits.

Every message each process sends is seen by the runtime: notifications through a
middleware (whatever the SDK does with them), server requests through the client's
``request_handler``. The pool assigns each session to one slot and knows which process
generation a session was last loaded on, so that after a restart it can be resumed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..._client.client import AsyncCodex
from ..._connection.rpc import Direction, RequestHandler
from .errors import RuntimeFailure

__all__ = ["AppServerPool", "PoolSettings"]

_log = logging.getLogger("codexkit.server")
Json = dict[str, Any]

NotificationSink = Callable[[str, Json], None]
HandlerFactory = Callable[[Callable[[], str]], RequestHandler]
ExitHook = Callable[[int, str, BaseException, list[str]], Awaitable[None]]
RestartHook = Callable[[int, list[str]], Awaitable[None]]

#: Why a pool of no app-servers (a cluster's ``api`` process) cannot run a session.
_NO_APP_SERVER = "this process runs no app-server (role api): session work goes to a runner"


@dataclass
class PoolSettings:
    codex_home: str | None = None
    size: int = 1
    cwd: str | None = None
    codex_bin: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    request_timeout: float = 120.0
    startup_timeout: float = 30.0
    restart_attempts: int = 5


@dataclass
class _Slot:
    index: int
    generation: int = 0
    client: AsyncCodex | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def origin(self) -> str:
        return f"{self.index}:{self.generation}"


class AppServerPool:
    def __init__(
        self,
        settings: PoolSettings,
        *,
        on_notification: NotificationSink,
        handler: HandlerFactory,
        on_exit: ExitHook,
        on_restart: RestartHook,
    ) -> None:
        if settings.size < 0:
            raise ValueError("the pool cannot have fewer than no app-servers")
        self.settings = settings
        self._on_notification = on_notification
        self._handler = handler
        self._on_exit = on_exit
        self._on_restart = on_restart
        self._slots = [_Slot(i) for i in range(settings.size)]
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        #: session id -> slot index
        self.assigned: dict[str, int] = {}
        #: session id -> the origin (slot:generation) it is loaded on
        self.loaded: dict[str, str] = {}
        #: session id -> (origin, the approval policy, sandbox and model its last turn
        #: was started with there): what the thread on that process goes on using
        self.turn_settings: dict[str, tuple[str, Any]] = {}

    async def start(self) -> None:
        # One after another: app-servers started at the same moment on a CODEX_HOME never
        # used before race to create its databases, and some die.
        for slot in self._slots:
            await self._launch(slot)

    async def close(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for slot in self._slots:
            if slot.client is not None:
                await slot.client.close()

    # -- slots and sessions --------------------------------------------------------------

    def assign(self, session_id: str) -> int:
        """The slot of ``session_id`` (the least loaded one for a new session)."""
        index = self.assigned.get(session_id)
        if index is None:
            index = self.assigned[session_id] = self.least_loaded()
        return index

    def least_loaded(self) -> int:
        if not self._slots:
            raise RuntimeFailure(_NO_APP_SERVER)
        counts = [0] * len(self._slots)
        for slot_index in self.assigned.values():
            counts[slot_index] += 1
        return counts.index(min(counts))

    def bind(self, session_id: str, index: int) -> None:
        """``session_id`` now lives on slot ``index``, loaded on its current process."""
        self.assigned[session_id] = index
        self.loaded[session_id] = self.origin(index)

    def forget(self, session_id: str) -> None:
        self.assigned.pop(session_id, None)
        self.loaded.pop(session_id, None)
        self.turn_settings.pop(session_id, None)

    async def client(self, index: int, timeout: float | None = None) -> AsyncCodex:
        """Slot ``index``'s running client, waiting for a restart under way."""
        if not 0 <= index < len(self._slots):
            raise RuntimeFailure(_NO_APP_SERVER)
        slot = self._slots[index]
        limit = timeout if timeout is not None else self.settings.startup_timeout * 2
        try:
            await asyncio.wait_for(slot.ready.wait(), limit)
        except asyncio.TimeoutError:
            raise RuntimeFailure(f"app-server {index} is not running (restarting)") from None
        assert slot.client is not None  # ready is set only with a started client
        return slot.client

    def origin(self, index: int) -> str:
        return self._slots[index].origin

    def pid(self, index: int) -> int | None:
        """The process id of slot ``index``'s app-server (for tests and diagnostics)."""
        client = self._slots[index].client
        pid = getattr(client.transport, "pid", None) if client is not None else None
        return pid if isinstance(pid, int) else None

    def running(self, index: int) -> bool:
        """Whether slot ``index``'s app-server runs (not exited, not being restarted)."""
        return 0 <= index < len(self._slots) and self._slots[index].ready.is_set()

    def slots(self) -> range:
        return range(len(self._slots))

    # -- starting and restarting -----------------------------------------------------------

    async def _launch(self, slot: _Slot) -> None:
        settings = self.settings
        slot.generation += 1
        client = AsyncCodex(
            codex_home=settings.codex_home,
            cwd=settings.cwd,
            codex_bin=settings.codex_bin,
            config=settings.config,
            env=settings.env,
            request_handler=self._handler(lambda: slot.origin),
            request_timeout=settings.request_timeout,
            startup_timeout=settings.startup_timeout,
            # The runtime reads notifications raw and starts no SDK turn: no idle limit
            # can end a turn while a person reads an approval.
            turn_idle_timeout=None,
        )
        client.use(self._tap)
        await client.start()
        origin = slot.origin
        client.connection.add_close_listener(
            lambda error: self._exited(slot, client, origin, error)
        )
        slot.client = client
        slot.ready.set()
        _log.info("app-server %s started (pid %s)", origin, self.pid(slot.index))

    def _tap(self, direction: Direction, message: dict[str, Any]) -> None:
        if direction != "incoming" or "id" in message:
            return
        method = message.get("method")
        params = message.get("params")
        if isinstance(method, str):
            self._on_notification(method, params if isinstance(params, dict) else {})

    def _exited(self, slot: _Slot, client: AsyncCodex, origin: str, error: Exception) -> None:
        if self._closing or slot.client is not client:
            return
        _log.error("app-server %s exited: %s; restarting it", origin, error)
        slot.ready.clear()
        task = asyncio.get_running_loop().create_task(self._restart(slot, client, origin, error))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _restart(
        self, slot: _Slot, old: AsyncCodex, origin: str, error: BaseException
    ) -> None:
        lost = [sid for sid, loaded_on in self.loaded.items() if loaded_on == origin]
        for session_id in lost:
            del self.loaded[session_id]
        try:
            await self._on_exit(slot.index, origin, error, lost)
        except Exception:
            _log.exception("recovering from the exit of app-server %s failed", origin)
        await old.close()
        for attempt in range(1, self.settings.restart_attempts + 1):
            try:
                await self._launch(slot)
                break
            except Exception:
                _log.exception("restarting app-server %d failed (attempt %d)", slot.index, attempt)
                await asyncio.sleep(min(0.2 * 2**attempt, 5.0))  # backoff between attempts
        else:
            _log.critical("app-server %d could not be restarted", slot.index)
            return
        await self._on_restart(slot.index, lost)
