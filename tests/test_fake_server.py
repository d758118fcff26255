"""Behaviour the real app-server cannot show on demand, against a scripted stand-in."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from codexkit import (
    AgentMessageDelta,
    ApprovalPolicy,
    AsyncCodex,
    CodexTimeoutError,
    InvalidRequestError,
    MethodNotFoundError,
    Notification,
    TransportClosedError,
)


async def test_app_server_crash_mid_turn_fails_the_stream_within_a_second(
    fake_codex: Callable[..., str],
) -> None:
    async with AsyncCodex(codex_bin=fake_codex("crash")) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("go")
        started = time.monotonic()
        with pytest.raises(TransportClosedError) as caught:
            await turn.run()
        assert time.monotonic() - started < 1.0
        assert caught.value.exit_code == 3
        assert "crashing on purpose" in caught.value.stderr_tail
        # Later calls fail at once with the same typed error, they do not hang.
        with pytest.raises(TransportClosedError):
            await codex.start_thread()


async def test_a_32_mib_line_passes(fake_codex: Callable[..., str]) -> None:
    size = 32 * 1024 * 1024
    async with AsyncCodex(codex_bin=fake_codex("big", str(size))) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("go")
        deltas = [e async for e in turn if isinstance(e, AgentMessageDelta)]
        assert len(deltas) == 1
        assert len(deltas[0].delta) == size


async def test_an_unknown_notification_reaches_the_stream_raw(
    fake_codex: Callable[..., str],
) -> None:
    async with AsyncCodex(codex_bin=fake_codex("unknown")) as codex:
        thread = await codex.start_thread()
        events = [e async for e in await thread.turn("go")]
        unknown = [e for e in events if e.method == "future/somethingNew"]
        assert len(unknown) == 1
        assert isinstance(unknown[0], Notification)
        assert unknown[0].params["payload"] == {"answer": 42}
        assert unknown[0].raw["method"] == "future/somethingNew"


async def test_malformed_frames_are_logged_and_skipped(
    fake_codex: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="codexkit")
    async with AsyncCodex(codex_bin=fake_codex("malformed")) as codex:
        thread = await codex.start_thread()
        result = await (await thread.turn("go")).run()
    assert result.status == "completed"
    assert result.final_response == "done"
    assert "malformed message" in caplog.text
    assert "non-object message" in caplog.text


async def test_flood_of_notifications_arrives_complete_and_in_order(
    fake_codex: Callable[..., str],
) -> None:
    async with AsyncCodex(codex_bin=fake_codex("flood", "20000")) as codex:
        thread = await codex.start_thread()
        count = 0
        async for event in await thread.turn("go"):
            count += isinstance(event, AgentMessageDelta)
        assert count == 20000


async def test_idle_timeout_raises_and_interrupts(fake_codex: Callable[..., str]) -> None:
    async with AsyncCodex(codex_bin=fake_codex("hang"), turn_idle_timeout=0.3) as codex:
        thread = await codex.start_thread()
        turn = await thread.turn("go")
        started = time.monotonic()
        with pytest.raises(CodexTimeoutError, match=r"no event for 0\.3 s"):
            await turn.run()
        assert time.monotonic() - started < 2.0


async def test_run_timeout_raises(fake_codex: Callable[..., str]) -> None:
    async with AsyncCodex(codex_bin=fake_codex("hang")) as codex:
        thread = await codex.start_thread()
        with pytest.raises(CodexTimeoutError, match="time limit"):
            await thread.run("go", timeout=0.3)


async def test_rpc_errors_are_typed(fake_codex: Callable[..., str]) -> None:
    async with AsyncCodex(codex_bin=fake_codex("ok")) as codex:
        with pytest.raises(MethodNotFoundError) as caught:
            await codex.request("no/such/method", {})
        assert caught.value.code == -32601
        assert caught.value.method == "no/such/method"


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("item/commandExecution/requestApproval", {"decision": "decline"}),
        ("item/fileChange/requestApproval", {"decision": "decline"}),
        ("execCommandApproval", {"decision": "denied"}),
        ("applyPatchApproval", {"decision": "denied"}),
        ("item/tool/requestUserInput", {"answers": {}}),
        ("mcpServer/elicitation/request", {"action": "decline", "content": None}),
        ("item/permissions/requestApproval", {"permissions": {}, "scope": "turn"}),
    ],
)
async def test_server_requests_get_fail_closed_answers_of_their_own_shape(
    fake_codex: Callable[..., str], method: str, expected: dict[str, Any]
) -> None:
    answer = await _answer_to(fake_codex, method)
    assert answer["result"] == expected


async def test_unknown_tool_call_fails_with_a_readable_message(
    fake_codex: Callable[..., str],
) -> None:
    answer = await _answer_to(fake_codex, "item/tool/call")
    assert answer["result"]["success"] is False
    assert "no tool named 'nope'" in answer["result"]["contentItems"][0]["text"]


async def test_unknown_server_request_gets_an_error_not_an_empty_result(
    fake_codex: Callable[..., str],
) -> None:
    answer = await _answer_to(fake_codex, "future/askSomething")
    assert "result" not in answer
    assert answer["error"]["code"] == -32601


async def _answer_to(
    fake_codex: Callable[..., str], method: str, policy: ApprovalPolicy | None = None
) -> dict[str, Any]:
    async with AsyncCodex(codex_bin=fake_codex("request", method), approval_policy=policy) as codex:
        thread = await codex.start_thread()
        events = [e async for e in await thread.turn("go")]
    [report] = [e for e in events if e.method == "test/answer"]
    answer: dict[str, Any] = report.params["answer"]
    assert answer["id"] == 0  # the server's own id space, kept apart from ours
    return answer


async def test_middleware_sees_every_message_both_ways(fake_codex: Callable[..., str]) -> None:
    seen: list[tuple[str, str]] = []
    codex = AsyncCodex(codex_bin=fake_codex("ok"))
    codex.use(lambda direction, message: seen.append((direction, str(message.get("method")))))
    async with codex:
        thread = await codex.start_thread()
        await thread.run("go")
    assert ("outgoing", "initialize") in seen
    assert ("outgoing", "turn/start") in seen
    assert ("incoming", "turn/completed") in seen


async def test_turns_on_other_threads_keep_flowing_while_one_handler_is_slow(
    fake_codex: Callable[..., str],
) -> None:
    gate = asyncio.Event()

    async def slow_handler(request: Any) -> Any:
        await gate.wait()
        return {"decision": "decline"}

    codex = AsyncCodex(
        codex_bin=fake_codex("request", "item/commandExecution/requestApproval"),
        request_handler=slow_handler,
    )
    async with codex:
        thread = await codex.start_thread()
        turn = await thread.turn("go")
        # The handler is blocked, yet the connection still answers other requests.
        with pytest.raises(MethodNotFoundError):
            await asyncio.wait_for(codex.request("ping/pong"), 2.0)
        gate.set()
        result = await turn.run(timeout=5)
        assert result.status == "completed"


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("execCommandApproval", {"decision": "approved"}),
        ("applyPatchApproval", {"decision": "approved"}),
        ("item/commandExecution/requestApproval", {"decision": "accept"}),
    ],
)
async def test_legacy_and_current_approvals_speak_their_own_vocabulary(
    fake_codex: Callable[..., str], method: str, expected: dict[str, Any]
) -> None:
    answer = await _answer_to(fake_codex, method, ApprovalPolicy.auto_accept())
    assert answer["result"] == expected


async def test_elicitation_callback_content_is_accepted(fake_codex: Callable[..., str]) -> None:
    seen: list[Any] = []

    def fill_in(request: Any) -> dict[str, Any]:
        seen.append(request)
        return {"name": "Ada"}

    policy = ApprovalPolicy.custom(on_elicitation=fill_in)
    answer = await _answer_to(fake_codex, "mcpServer/elicitation/request", policy)
    assert answer["result"] == {"action": "accept", "content": {"name": "Ada"}}
    assert seen[0].thread_id == "thread-1"


async def test_a_raising_callback_fails_closed(fake_codex: Callable[..., str]) -> None:
    def broken(request: Any) -> str:
        raise RuntimeError("bug in my callback")

    policy = ApprovalPolicy.custom(on_command_execution=broken)
    answer = await _answer_to(fake_codex, "item/commandExecution/requestApproval", policy)
    assert answer["result"] == {"decision": "decline"}


async def test_a_thread_the_server_closed_lets_go_of_its_handlers(
    fake_codex: Callable[..., str],
) -> None:
    async with AsyncCodex(codex_bin=fake_codex("closed")) as codex:
        closed = asyncio.Event()
        codex.add_listener(lambda event: closed.set() if event.method == "thread/closed" else None)
        thread = await codex.start_thread(approval_policy=ApprovalPolicy.auto_accept())
        assert list(codex._dispatcher.threads) == [thread.id]
        await thread.run("go")
        await asyncio.wait_for(closed.wait(), 5)
        assert codex._dispatcher.threads == {}  # though the handle lives on


async def test_a_stored_thread_the_runtime_has_not_loaded_is_read_through_resume(
    fake_codex: Callable[..., str],
) -> None:
    # codex 0.169+ may answer thread/read of a stored thread with "thread not loaded"
    # until a client resumes it (the stand-in always does; the real one only sometimes).
    async with AsyncCodex(codex_bin=fake_codex("ok")) as codex:
        stored = await codex.read_thread("thread-1")
        assert stored["id"] == "thread-1"
        assert [turn["id"] for turn in stored["turns"]] == ["turn-1"]
        # Reading leaves the thread as it found it: not loaded.
        assert (await codex.request("thread/loaded/list", {}))["data"] == []
        with pytest.raises(InvalidRequestError, match="thread not loaded: no-such-thread"):
            await codex.read_thread("no-such-thread")
        thread = await codex.start_thread()
        await thread.unsubscribe()
        assert (await thread.read())["turns"]
        assert (await thread.refresh())["id"] == "thread-1"
