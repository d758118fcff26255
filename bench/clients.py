"""One adapter per client under test, all driven by the same scenarios.

Every adapter imports its SDK lazily, inside :meth:`Adapter.start`, so a worker process
holds exactly one SDK and its memory and import costs are its own.

The adapter methods are coroutines even for the synchronous ``openai-codex`` client:
its adapter calls the blocking API inside the coroutine (nothing else runs on the loop),
which adds one coroutine call (about a microsecond) per operation, not per event.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from bench.raw_client import RawClient

if TYPE_CHECKING:
    import openai_codex
    from support.serve import ServeProcess
    from support.serve_client import Received, ServeClient

    import codexkit

CLIENTS = ("raw", "codexkit", "openai_sync", "openai_async")

LABELS = {
    "raw": "raw JSON-RPC",
    "codexkit": "codexkit",
    "openai_sync": "openai-codex sync",
    "openai_async": "openai-codex async",
    "serve": "codexkit serve (REST + websocket)",
}

#: The test helpers that start ``codexkit serve`` and talk to it (``tests/support``).
TESTS_DIR = Path(__file__).resolve().parent.parent / "tests"
#: One turn's end, waited for on the websocket.
SERVE_TURN_TIMEOUT = 120.0
#: What a client reading the typed frames leaves out of its socket (``?omit=``), as
#: codexkit's web page and Python client (``codexkit.manager.RAW_FALLBACKS``) do: the raw
#: ``notification`` / ``server_request`` frames, each a copy of an ``app_server.*`` one.
RAW_FALLBACKS = "notification,server_request"

ThreadT = TypeVar("ThreadT")


class TurnSocket(Protocol):
    """A session's socket as a turn waits on it: the tests' ``Stream`` or the lean
    ``LeanSocket``."""

    async def wait_turn(self, turn_id: str, timeout: float) -> object: ...

    def take(self) -> list[Received]: ...

    async def close(self) -> None: ...


def process_cpu(pid: int) -> float:
    """CPU seconds process ``pid`` (all its threads) used so far, from ``/proc``."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Target:
    """Where the server comes from: the ``codex`` executable, its home and working dir."""

    codex_bin: str
    codex_home: str | None
    cwd: str


class Adapter(Generic[ThreadT]):
    """The operations the scenarios need; each client implements them with its own API."""

    def __init__(self, target: Target) -> None:
        self.target = target

    async def start(self) -> None:
        """Spawn the app-server and finish the handshake (what "spawn to ready" times)."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def new_thread(self) -> ThreadT:
        raise NotImplementedError

    async def run_turn(self, thread: ThreadT, text: str) -> str | None:
        """Run one turn to its end; return the agent's final text."""
        raise NotImplementedError

    async def stream_turn(self, thread: ThreadT, text: str) -> int:
        """Run one turn consuming its events one at a time; return how many there were."""
        raise NotImplementedError

    async def run_concurrent(self, threads: list[ThreadT], text: str) -> list[str | None]:
        """One turn on each thread, all at once."""
        return list(await asyncio.gather(*(self.run_turn(t, text) for t in threads)))


class RawAdapter(Adapter[str]):
    """:class:`bench.raw_client.RawClient`, the floor."""

    client: RawClient

    async def start(self) -> None:
        env = dict(os.environ)
        if self.target.codex_home is not None:
            env["CODEX_HOME"] = self.target.codex_home
        argv = [self.target.codex_bin, "app-server"]
        self.client = RawClient(argv, env=env, cwd=self.target.cwd)
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    async def new_thread(self) -> str:
        return await self.client.thread_start()

    async def run_turn(self, thread: str, text: str) -> str | None:
        turn, _ = await self.client.run_turn(thread, text)
        # turn/completed carries a summary of the items: the agent's messages included.
        texts = [i.get("text") for i in turn.get("items", []) if i.get("type") == "agentMessage"]
        return texts[-1] if texts else None

    async def stream_turn(self, thread: str, text: str) -> int:
        _, events = await self.client.run_turn(thread, text)
        return events


class CodexkitAdapter(Adapter["codexkit.AsyncThread"]):
    """``codexkit.AsyncCodex``."""

    codex: codexkit.AsyncCodex

    async def start(self) -> None:
        from codexkit import AsyncCodex

        t = self.target
        self.codex = AsyncCodex(codex_bin=t.codex_bin, codex_home=t.codex_home, cwd=t.cwd)
        await self.codex.start()

    async def close(self) -> None:
        await self.codex.close()

    async def new_thread(self) -> codexkit.AsyncThread:
        return await self.codex.start_thread()

    async def run_turn(self, thread: codexkit.AsyncThread, text: str) -> str | None:
        return (await thread.run(text)).final_response

    async def stream_turn(self, thread: codexkit.AsyncThread, text: str) -> int:
        turn = await thread.turn(text)
        count = 0
        async for _event in turn:
            count += 1
        return count


def _openai_config(target: Target) -> openai_codex.CodexConfig:
    from openai_codex import CodexConfig

    env = {"CODEX_HOME": target.codex_home} if target.codex_home is not None else None
    return CodexConfig(codex_bin=target.codex_bin, cwd=target.cwd, env=env)


class OpenAISyncAdapter(Adapter["openai_codex.Thread"]):
    """``openai_codex.Codex``: blocking calls; a reader thread fills per-turn queues."""

    codex: openai_codex.Codex

    async def start(self) -> None:
        from openai_codex import Codex

        self.codex = Codex(_openai_config(self.target))  # spawns and initializes

    async def close(self) -> None:
        self.codex.close()

    async def new_thread(self) -> openai_codex.Thread:
        from openai_codex import ApprovalMode

        # deny_all sends approvalPolicy "never", as the CODEX_HOME config already says;
        # the default (auto_review) would add an approvals reviewer the others lack.
        return self.codex.thread_start(approval_mode=ApprovalMode.deny_all)

    async def run_turn(self, thread: openai_codex.Thread, text: str) -> str | None:
        final: str | None = thread.run(text).final_response
        return final

    async def stream_turn(self, thread: openai_codex.Thread, text: str) -> int:
        count = 0
        for _event in thread.turn(text).stream():
            count += 1
        return count

    async def run_concurrent(
        self, threads: list[openai_codex.Thread], text: str
    ) -> list[str | None]:
        # The sync client is thread-safe and routes per turn: one OS thread per turn.
        with ThreadPoolExecutor(max_workers=len(threads)) as pool:
            futures = [pool.submit(t.run, text) for t in threads]
            return [f.result().final_response for f in futures]


class OpenAIAsyncAdapter(Adapter["openai_codex.AsyncThread"]):
    """``openai_codex.AsyncCodex``: the sync client driven through ``asyncio.to_thread``."""

    codex: openai_codex.AsyncCodex

    async def start(self) -> None:
        from openai_codex import AsyncCodex

        self.codex = AsyncCodex(_openai_config(self.target))
        await self.codex.__aenter__()  # what `async with` does: spawn and initialize

    async def close(self) -> None:
        await self.codex.close()

    async def new_thread(self) -> openai_codex.AsyncThread:
        from openai_codex import ApprovalMode

        return await self.codex.thread_start(approval_mode=ApprovalMode.deny_all)

    async def run_turn(self, thread: openai_codex.AsyncThread, text: str) -> str | None:
        final: str | None = (await thread.run(text)).final_response
        return final

    async def stream_turn(self, thread: openai_codex.AsyncThread, text: str) -> int:
        turn = await thread.turn(text)
        count = 0
        async for _event in turn.stream():
            count += 1
        return count


class ServeAdapter(Adapter[str]):
    """A real ``codexkit serve`` (started with the worker's ``CODEX_HOME``) driven like a
    web client: sessions over REST, a turn's end awaited on the session's websocket."""

    server: ServeProcess
    client: ServeClient

    async def start(self) -> None:
        if str(TESTS_DIR) not in sys.path:
            sys.path.insert(0, str(TESTS_DIR))
        from support.serve import ServeProcess
        from support.serve_client import ServeClient

        assert self.target.codex_home is not None, "codexkit serve needs a CODEX_HOME"
        self._root = Path(tempfile.mkdtemp(prefix="bench-serve-"))
        self.server = ServeProcess(
            data_dir=self._root / "data",
            codex_home=Path(self.target.codex_home),
            config_home=self._root / "config",
        )
        await asyncio.to_thread(self.server.start)
        self.client = ServeClient(self.server.url, self.server.token)
        self.streams: dict[str, TurnSocket] = {}

    async def close(self) -> None:
        for stream in self.streams.values():
            await stream.close()
        await self.client.close()
        await asyncio.to_thread(self.server.stop)
        shutil.rmtree(self._root, ignore_errors=True)

    def server_cpu(self) -> float:
        """CPU seconds the ``codexkit serve`` process (all its threads) used so far."""
        return process_cpu(self.server.pid)

    async def new_thread(self) -> str:
        """``POST /api/sessions`` only: the socket opens at the session's first turn. The
        session gets what the other clients' threads get from their ``CODEX_HOME`` and
        target: the working directory, approval policy ``never`` and a read-only sandbox
        (the server's own defaults are ``on-request`` and ``workspace-write``, and its
        working directory is the repository: codex's turns there cost more)."""
        return await self.client.create_session(
            self.target.cwd, approvalPolicy="never", filesystemSandbox="read-only"
        )

    async def open_stream(self, session_id: str) -> TurnSocket:
        """The socket a session's turns end on (typed frames only, as codexkit's own
        clients read them)."""
        return await self.client.stream(session_id, omit=RAW_FALLBACKS).open()

    async def send(self, session_id: str, text: str) -> str:
        """``POST .../messages``; the turn's id."""
        return await self.client.send(session_id, text)

    async def run_turn(self, thread: str, text: str) -> str | None:
        stream = self.streams.get(thread)
        if stream is None:
            stream = self.streams[thread] = await self.open_stream(thread)
        turn_id = await self.send(thread, text)
        await stream.wait_turn(turn_id, SERVE_TURN_TIMEOUT)
        return final_text(stream.take(), turn_id)


class LeanServeAdapter(ServeAdapter):
    """``codexkit serve`` driven by the lean client (``bench/lean_socket.py``): a message
    POSTed on one keep-alive connection, the turn's end read from a socket that stamps
    frames as their bytes arrive. What the server adds to a turn, without httpx's and
    the ``websockets`` library's own CPU. Sessions are created as ``ServeAdapter``'s."""

    async def start(self) -> None:
        await super().start()  # puts the tests' support package on the path
        from bench.lean_socket import LeanHttp

        self.http = await LeanHttp(self.server.url, self.server.token).open()

    async def close(self) -> None:
        await self.http.close()
        await super().close()

    async def open_stream(self, session_id: str) -> TurnSocket:
        from bench.lean_socket import LeanSocket

        url = self.client.stream_url(session_id, omit=RAW_FALLBACKS)
        return await LeanSocket(url, self.server.token).open()

    async def send(self, session_id: str, text: str) -> str:
        status, answer = await self.http.post(
            f"/api/sessions/{session_id}/messages", {"text": text}
        )
        if status != 202:
            raise AssertionError(f"send answered {status}: {answer}")
        return str(answer["turnId"])


def final_text(frames: list[Received], turn_id: str) -> str | None:
    """The agent's last message of ``turn_id`` among ``frames``."""
    texts = [
        r.agent_text()
        for r in frames
        if r.agent_text() is not None and r.frame["payload"]["params"].get("turnId") == turn_id
    ]
    return texts[-1] if texts else None


ADAPTERS: dict[str, type[Adapter[Any]]] = {
    "raw": RawAdapter,
    "codexkit": CodexkitAdapter,
    "openai_sync": OpenAISyncAdapter,
    "openai_async": OpenAIAsyncAdapter,
    "serve": ServeAdapter,
    "serve_lean": LeanServeAdapter,
}
