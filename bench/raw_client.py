"""The floor: a minimal JSON-RPC client for ``codex app-server``, written for the benchmark.

No types, no event objects, no timeouts, no stderr handling: an asyncio subprocess,
newline-delimited JSON, ``initialize`` / ``initialized`` / ``thread/start`` /
``turn/start``, and a future per turn resolved by ``turn/completed``. Whatever an SDK
costs beyond this is its overhead.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

Json = dict[str, Any]


class _Turn:
    __slots__ = ("done", "events")

    def __init__(self, done: asyncio.Future[Json]) -> None:
        self.done = done
        self.events = 0


class RawClient:
    """Spawn ``argv`` and speak the app-server protocol with nothing on top."""

    def __init__(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None
    ) -> None:
        self._argv = list(argv)
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._turns: dict[str, _Turn] = {}  # thread id -> its running turn

    async def start(self) -> None:
        """Spawn the server and complete the handshake."""
        self._proc = await asyncio.create_subprocess_exec(
            *self._argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=self._env,
            cwd=self._cwd,
            limit=1 << 26,
        )
        self._reader = asyncio.get_running_loop().create_task(self._read())
        await self.request(
            "initialize",
            {
                "clientInfo": {"name": "bench_raw", "title": "bench raw", "version": "0"},
                "capabilities": {"experimentalApi": True},
            },
        )
        self._write({"method": "initialized"})

    async def close(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
        if self._reader is not None:
            await self._reader

    async def request(self, method: str, params: Json | None = None) -> Any:
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        message: Json = {"id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self._write(message)
        return await future

    async def thread_start(self) -> str:
        result = await self.request("thread/start", {})
        return str(result["thread"]["id"])

    async def run_turn(self, thread_id: str, text: str) -> tuple[Json, int]:
        """Start a turn, wait for ``turn/completed``; return its turn object and how many
        notifications of the turn's thread arrived meanwhile."""
        turn = _Turn(asyncio.get_running_loop().create_future())
        self._turns[thread_id] = turn  # before asking: no notification can be missed
        params = {"threadId": thread_id, "input": [{"type": "text", "text": text}]}
        await self.request("turn/start", params)
        return await turn.done, turn.events

    def _write(self, message: Json) -> None:
        assert self._proc is not None
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(message).encode() + b"\n")

    async def _read(self) -> None:
        assert self._proc is not None
        assert self._proc.stdout is not None
        readline = self._proc.stdout.readline
        pending, turns = self._pending, self._turns
        while line := await readline():
            message = json.loads(line)
            method = message.get("method")
            if method is None:  # a response to one of our requests
                future = pending.pop(message.get("id"), None)
                if future is None or future.done():
                    continue
                if "error" in message:
                    future.set_exception(RuntimeError(f"rpc error: {message['error']}"))
                else:
                    future.set_result(message.get("result"))
            elif "id" in message:  # a server request: this client supports none
                reply = {"id": message["id"], "error": {"code": -32601, "message": "unsupported"}}
                self._write(reply)
            else:
                params = message.get("params") or {}
                turn = turns.get(params.get("threadId", ""))
                if turn is not None:
                    turn.events += 1
                    if method == "turn/completed":
                        del turns[params["threadId"]]
                        turn.done.set_result(params["turn"])
        closed = ConnectionError("the app-server closed stdout")
        for future in pending.values():
            if not future.done():
                future.set_exception(closed)
        for turn in turns.values():
            if not turn.done.done():
                turn.done.set_exception(closed)
