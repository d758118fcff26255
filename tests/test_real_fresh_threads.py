"""Threads before their first turn, and the turns a thread's ``info`` lists, with the real
binary: the runtime stores a thread only at its first turn, so read, resume and fork of a
new thread are codexkit's to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codexkit import AsyncCodex, Codex, InvalidRequestError
from codexkit.testing import ScriptedModel, text

pytestmark = pytest.mark.real


async def test_a_new_thread_reads_resumes_and_runs(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(text("resumed"))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        stored = await thread.read()
        assert stored["id"] == thread.id
        assert stored["turns"] == []
        assert (await codex.read_thread(thread.id))["turns"] == []
        again = await codex.resume_thread(thread.id)
        assert again.id == thread.id
        assert again.info["turns"] == []
        assert await again.ask("go on") == "resumed"
        assert len((await thread.read())["turns"]) == 1
        with pytest.raises(InvalidRequestError):  # only threads started here are stood in for
            await codex.resume_thread("01a22333-0000-7000-8000-000000000000")


async def test_a_new_thread_forks_into_a_new_thread_with_its_settings(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([text("on the fork"), text("on the other fork"), text("original")])
    workdir = tmp_path / "work"
    workdir.mkdir()
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread(
            cwd=workdir,
            model="model-a",
            sandbox="workspace-write",
            instructions="Answer in haiku.",
            config={"model_reasoning_effort": "high"},
        )
        fork = await thread.fork()
        assert fork.id != thread.id
        assert fork.info["cwd"] == str(workdir)
        assert fork.info["model"] == "model-a"
        assert fork.info["turns"] == []
        other = await fork.fork(model="model-b")  # a fork's fork, with its own model
        assert await fork.ask("fork only") == "on the fork"
        assert await other.ask("other only") == "on the other fork"
        assert await thread.ask("original only") == "original"
    on_fork, on_other, on_original = scripted_model.requests
    assert on_fork.model == "model-a"
    assert on_fork.body["reasoning"]["effort"] == "high"
    context = json.dumps(on_fork.input)
    assert "Answer in haiku." in context
    assert "`sandbox_mode` is `workspace-write`" in context
    assert on_other.model == "model-b"
    assert "Answer in haiku." in json.dumps(on_other.input)
    assert "fork only" not in on_original.user_texts()


async def test_info_lists_each_turn_as_it_ends(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([text("one"), text("two"), text("three")])
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        first = await thread.run("first")
        second = await thread.run("second")
        turns = thread.info["turns"]
        assert [t["id"] for t in turns] == [first.turn_id, second.turn_id]
        assert [t["status"] for t in turns] == ["completed", "completed"]
        await thread.refresh()
        assert [t["id"] for t in thread.info["turns"]] == [first.turn_id, second.turn_id]
        stored = await thread.read()
        assert thread.info["turns"] == stored["turns"]  # read() brings the full turns in
        await thread.rollback(1)
        assert [t["id"] for t in thread.info["turns"]] == [first.turn_id]
        third = await thread.run("third")
        assert [t["id"] for t in thread.info["turns"]] == [first.turn_id, third.turn_id]
        resumed = await codex.resume_thread(thread.id)
        assert [t["id"] for t in resumed.info["turns"]] == [first.turn_id, third.turn_id]
        assert [t["id"] for t in stored["turns"]] == [first.turn_id, second.turn_id]  # unchanged


def test_the_sync_client_reads_resumes_and_forks_a_new_thread(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([text("fork"), text("resumed")])
    with Codex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = codex.start_thread()
        assert thread.read()["turns"] == []
        fork = thread.fork()
        assert fork.ask("hi") == "fork"
        assert codex.resume_thread(thread.id).ask("hi") == "resumed"
        assert len(thread.info["turns"]) == 0  # the turn ran on the resumed handle
        assert len(thread.read()["turns"]) == 1
