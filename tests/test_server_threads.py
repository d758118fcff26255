"""Thread operations of the control plane's runtime on the real binary: fork, compact,
rollback, review, steer, interrupt, background terminals."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.serve_runtime import completed, frame, running

from codexkit.server.runtime import Runtime
from codexkit.server.runtime.errors import Conflict, Invalid
from codexkit.testing import ScriptedModel, stall, text

pytestmark = pytest.mark.real


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
async def runtime(codex_home: Path, workspace: Path, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(codex_home, workspace, tmp_path / "data") as started:
        yield started


async def _turn(runtime: Runtime, sid: str, prompt: str) -> str:
    subscription, _ = runtime.hub.subscribe(sid)
    try:
        turn_id = (await runtime.turns.send(sid, prompt))["turnId"]
        await frame(subscription, "app_server.turn.completed", completed(turn_id))
    finally:
        subscription.close()
    return str(turn_id)


def _sent(model: ScriptedModel, index: int) -> str:
    """What the agent sent the model in request ``index``, as one text."""
    return json.dumps(model.requests[index].input)


def _replies(state: dict[str, object]) -> list[str]:
    transcript = state["transcript"]
    assert isinstance(transcript, list)
    return [e["content"] for e in transcript if e["role"] == "assistant"]


async def test_fork_keeps_the_history_and_goes_its_own_way(
    runtime: Runtime, scripted_model: ScriptedModel
) -> None:
    scripted_model.extend([text("first answer"), text("fork answer")])
    sid = (await runtime.sessions.create())["session"]["sessionId"]
    with pytest.raises(Conflict):
        await runtime.turns.fork(sid)  # nothing to fork before the first turn
    await runtime.sessions.rename(sid, "origin")
    await _turn(runtime, sid, "one")
    forked = await runtime.turns.fork(sid)
    fork_id = forked["session"]["sessionId"]
    assert fork_id != sid
    assert forked["session"]["title"] == "Fork of origin"
    assert _replies(forked) == ["first answer"]
    await _turn(runtime, fork_id, "two")
    assert _replies(await runtime.sessions.read(fork_id)) == ["first answer", "fork answer"]
    assert _replies(await runtime.sessions.read(sid)) == ["first answer"]
    assert "first answer" in _sent(scripted_model, 1)  # the fork's model saw the history


async def test_rollback_drops_the_last_turns(
    runtime: Runtime, scripted_model: ScriptedModel
) -> None:
    scripted_model.extend([text("alpha reply"), text("beta reply"), text("gamma reply")])
    sid = (await runtime.sessions.create())["session"]["sessionId"]
    first = await _turn(runtime, sid, "q1")
    second = await _turn(runtime, sid, "q2")
    with pytest.raises(Invalid):
        await runtime.turns.rollback(sid, 0)
    with pytest.raises(Conflict):
        await runtime.turns.rollback(sid, 3)
    rolled = await runtime.turns.rollback(sid, 1)
    assert rolled["removedTurnIds"] == [second]
    state = await runtime.sessions.read(sid)
    assert [t["id"] for t in state["thread"]["turns"]] == [first]
    assert _replies(state) == ["alpha reply"]
    await _turn(runtime, sid, "q3")
    seen = _sent(scripted_model, 2)
    assert "alpha reply" in seen
    assert "beta reply" not in seen  # the model no longer sees the dropped turn


async def test_compact_runs_as_a_turn_of_the_session(
    runtime: Runtime, scripted_model: ScriptedModel
) -> None:
    scripted_model.extend([text("answer"), text("a summary of it all")])
    sid = (await runtime.sessions.create())["session"]["sessionId"]
    await _turn(runtime, sid, "hello")
    subscription, _ = runtime.hub.subscribe(sid)
    assert (await runtime.turns.compact(sid))["status"] == "ok"
    done = await frame(subscription, "app_server.turn.completed")
    state = await runtime.sessions.read(sid)
    turns = state["thread"]["turns"]
    assert len(turns) == 2
    assert turns[1]["id"] == done.payload["context"]["turnId"]
    assert turns[1]["status"] == "completed"
    assert len(scripted_model.requests) == 2


async def test_review_starts_a_review_turn(runtime: Runtime, scripted_model: ScriptedModel) -> None:
    scripted_model.extend([text("answer"), text("Looks fine to me.")])
    sid = (await runtime.sessions.create())["session"]["sessionId"]
    await _turn(runtime, sid, "hello")
    subscription, _ = runtime.hub.subscribe(sid)
    target = {"type": "custom", "instructions": "check the greeting"}
    started = await runtime.turns.review(sid, target)
    assert started["status"] == "accepted"
    await frame(subscription, "app_server.turn.completed", completed(started["turnId"]))
    turns = (await runtime.sessions.read(sid))["thread"]["turns"]
    assert {t["status"] for t in turns} == {"completed"}  # no turn left reading as running
    assert "check the greeting" in _sent(scripted_model, 1)


async def test_steer_then_interrupt_a_running_turn(
    runtime: Runtime, scripted_model: ScriptedModel
) -> None:
    # The model never answers: the turn runs until stopped. Twice: codex may take the
    # steered input to the model in a second call of the same turn.
    scripted_model.extend([stall(), stall()])
    sid = (await runtime.sessions.create())["session"]["sessionId"]
    subscription, _ = runtime.hub.subscribe(sid)
    with pytest.raises(Conflict):
        await runtime.turns.interrupt(sid)  # nothing runs yet
    turn_id = (await runtime.turns.send(sid, "think hard"))["turnId"]
    await frame(subscription, "app_server.turn.started")
    # Steered only once the model has the turn's call: a steer that came earlier would
    # become that call's input, and the stall would not be where the turn is.
    await asyncio.to_thread(scripted_model.wait_for_requests, 1, timeout=30)
    with pytest.raises(Conflict):
        await runtime.turns.send(sid, "another")  # one turn at a time
    with pytest.raises(Conflict):
        await runtime.turns.steer(sid, "not-the-turn", "more")
    steered = await runtime.turns.steer(sid, turn_id, "and consider this too")
    assert steered == {"status": "ok", "sessionId": sid, "turnId": turn_id}
    assert (await runtime.sessions.read(sid))["thread"]["turns"][0]["status"] == "inProgress"
    stopped = await runtime.turns.interrupt(sid)
    assert stopped["turnId"] == turn_id
    await frame(subscription, "app_server.turn.completed", completed(turn_id))
    [turn] = (await runtime.sessions.read(sid))["thread"]["turns"]
    assert turn["status"] == "interrupted"
    cleaned = await runtime.sessions.clean_background_terminals(sid)
    assert cleaned["status"] == "ok"
