"""The low-level layer on the real binary: a transport of your own, the connection on its
own, raw messages, and waiting for one notification."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from codexkit import AsyncCodex, CodexTimeoutError, Connection, find_codex
from codexkit.testing import ScriptedModel, text
from codexkit.transport import MessageSink, StdioTransport, Transport

pytestmark = pytest.mark.real


class CountingTransport(Transport):
    """A user's own transport: wraps the stdio one and counts what crosses it."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.sent = 0
        self.received = 0

    async def start(self, sink: MessageSink) -> None:
        outer = self

        class Counting:
            def on_message(self, data: bytes) -> None:
                outer.received += 1
                sink.on_message(data)

            def on_parsed(self, message: Any) -> None:
                outer.received += 1
                sink.on_parsed(message)

            def on_closed(self, error: Any) -> None:
                sink.on_closed(error)

        await self.inner.start(Counting())

    def send(self, data: bytes) -> None:
        self.sent += 1
        self.inner.send(data)

    async def close(self) -> None:
        await self.inner.close()

    def abandon(self) -> bool:
        return self.inner.abandon()


def _server(codex_home: Path) -> StdioTransport:
    binary = find_codex()
    env = binary.child_env({"CODEX_HOME": os.fspath(codex_home)})
    return StdioTransport([binary.path, "app-server"], env=env)


async def test_a_client_runs_over_a_transport_of_your_own(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(text("over my transport"))
    transport = CountingTransport(_server(codex_home))
    async with AsyncCodex(transport=transport, cwd=tmp_path) as codex:
        assert codex.transport is transport
        thread = await codex.start_thread()
        result = await thread.run("hello", timeout=30)
    assert result.final_response == "over my transport"
    assert transport.sent >= 4  # initialize, initialized, thread/start, turn/start
    assert transport.received > transport.sent


async def test_the_connection_on_its_own_sends_raw_and_waits_for_a_notification(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    async with Connection(_server(codex_home)) as connection:
        seen: list[dict[str, Any]] = []

        async def read_all() -> None:
            async for message in connection.messages():
                seen.append(message)

        reader = asyncio.ensure_future(read_all())
        await asyncio.sleep(0)  # the reader is tapped in before anything is sent
        info = {"clientInfo": {"name": "lowlevel", "version": "1"}}
        answer = await connection.request("initialize", info, timeout=30)
        assert "userAgent" in answer
        connection.notify("initialized")
        # A raw request in the string id space: its answer is read off the raw stream.
        connection.send({"id": "raw-1", "method": "thread/start", "params": {"cwd": str(tmp_path)}})
        started = await connection.wait_for_notification("thread/started", timeout=30)
        thread_id = started["thread"]["id"]
        with pytest.raises(CodexTimeoutError):
            await connection.wait_for_notification(
                "thread/started", lambda params: params["thread"]["id"] == "no such", timeout=0.5
            )
    await asyncio.wait_for(reader, 10)  # the raw stream ends when the connection closes
    answers = [m for m in seen if m.get("id") == "raw-1"]
    assert answers
    assert answers[0]["result"]["thread"]["id"] == thread_id
    assert any(m.get("method") == "thread/started" for m in seen)


async def test_a_running_client_lends_its_connection(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(text("done"))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        completed = asyncio.ensure_future(
            codex.connection.wait_for_notification(
                "turn/completed", lambda params: params["threadId"] == thread.id, timeout=30
            )
        )
        await asyncio.sleep(0)  # waiting from before the turn starts
        result = await thread.run("go", timeout=30)
        params = await completed
    assert params["turn"]["status"] == result.status == "completed"
