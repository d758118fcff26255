"""Tests of record for the rest of the app-server surface: thread housekeeping, stored
threads, models, one-off commands, account and settings. Real binary, scripted model."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from codexkit import (
    AsyncCodex,
    CodexError,
    CodexTimeoutError,
    InvalidRequestError,
    RpcError,
    ThreadHasForksError,
)
from codexkit._client.account import LoginFailedError
from codexkit.testing import ScriptedModel, text

pytestmark = pytest.mark.real


async def test_set_name_shows_in_read_and_listing(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(text("hi"))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        await thread.run("hello")
        await thread.set_name("Release checklist")
        stored = await codex.read_thread(thread.id, include_turns=False)
        listed = await codex.list_threads().to_list()
        info = await thread.refresh()
    assert stored["name"] == "Release checklist"
    assert info["name"] == "Release checklist"
    assert [(t.id, t.name, t.title) for t in listed] == [
        (thread.id, "Release checklist", "Release checklist")
    ]
    summary = listed[0]
    assert summary.preview == "hello"
    assert summary.cwd == str(tmp_path)
    assert summary.model_provider == "codexkit-scripted"
    assert summary.created_at is not None
    assert summary.updated_at is not None
    assert summary.archived is False


async def test_archive_and_unarchive(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([text("one"), text("two")])
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        kept = await codex.start_thread()
        await kept.run("keep me")
        thread = await codex.start_thread()
        await thread.run("archive me")
        await thread.archive()
        active = [t.id async for t in codex.list_threads()]
        archived = await codex.list_threads(archived=True).to_list()
        assert active == [kept.id]
        assert [t.id for t in archived] == [thread.id]
        assert archived[0].archived is True
        info = await thread.unarchive()
        assert info["id"] == thread.id
        active = [t.id async for t in codex.list_threads()]
        assert sorted(active) == sorted([kept.id, thread.id])
        assert await codex.list_threads(archived=True).to_list() == []


async def test_rollback_drops_the_last_turn_from_history(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([text("first answer"), text("second answer"), text("third answer")])
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        await thread.run("first prompt")
        await thread.run("second prompt")
        assert len((await thread.read())["turns"]) == 2
        info = await thread.rollback()
        assert info["id"] == thread.id
        turns = (await thread.read())["turns"]
        assert len(turns) == 1
        assert await thread.ask("third prompt") == "third answer"
        with pytest.raises(CodexError):
            await thread.rollback(5)
    texts = scripted_model.requests[2].user_texts()
    assert "first prompt" in texts
    assert "second prompt" not in texts
    assert "third prompt" in texts


async def test_rollback_n_drops_exactly_the_last_n_turns(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        scripted_model.extend([text("one"), text("two")])
        thread = await codex.start_thread()
        await thread.run("first prompt")
        await thread.run("second prompt")
        await thread.rollback(2)  # as many turns as the thread has: all of them
        assert (await thread.read())["turns"] == []
        scripted_model.extend([text("a"), text("b"), text("c"), text("d")])
        for prompt in ("third prompt", "fourth prompt", "fifth prompt"):
            await thread.run(prompt)
        await thread.rollback(2)
        turns = (await thread.read())["turns"]
        assert len(turns) == 1
        assert await thread.ask("sixth prompt") == "d"
    texts = scripted_model.requests[-1].user_texts()
    assert "third prompt" in texts
    for gone in ("first prompt", "second prompt", "fourth prompt", "fifth prompt"):
        assert gone not in texts


async def test_delete_of_a_thread_with_forks_is_refused_with_a_typed_error(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(text("hi"))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        await thread.run("hello")
        fork = await thread.fork()
        with pytest.raises(ThreadHasForksError, match="delete the threads forked from it"):
            await thread.delete()
        assert (await codex.read_thread(thread.id))["turns"]  # nothing was deleted
        await fork.delete()
        await thread.delete()
        with pytest.raises(InvalidRequestError):
            await codex.read_thread(thread.id)


async def test_listing_follows_pages(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([text("a"), text("b"), text("c")])
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        ids = []
        for prompt in ("one", "two", "three"):
            thread = await codex.start_thread()
            await thread.run(prompt)
            ids.append(thread.id)
        # The three threads were created within a second: see list_threads's docstring.
        listing = codex.list_threads(page_size=1, state_db_only=True)
        listed = [t.id async for t in listing]
        pages = [page async for page in listing.pages()]
        by_update = await codex.list_threads(page_size=1, sort_key="updated_at").to_list()
        two = await codex.list_threads(page_size=1, state_db_only=True).to_list(max_items=2)
        oldest_first = await codex.list_threads(sort_direction="asc", state_db_only=True).to_list()
        other_dir = await codex.list_threads(cwd=tmp_path / "elsewhere").to_list()
        in_dir = await codex.list_threads(cwd=[tmp_path, tmp_path / "elsewhere"]).to_list()
    assert listed == ids[::-1]  # newest first
    assert [len(page.threads) for page in pages] == [1, 1, 1]
    assert pages[-1].next_cursor is None
    assert [t.id for t in by_update] == ids[::-1]
    assert [t.id for t in two] == listed[:2]
    assert [t.id for t in oldest_first] == ids
    assert other_dir == []
    assert sorted(t.id for t in in_dir) == sorted(ids)


async def test_delete_makes_the_thread_unreadable(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(text("bye"))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        await thread.run("delete me")
        await thread.delete()
        with pytest.raises(InvalidRequestError):
            await codex.read_thread(thread.id)
        assert await codex.list_threads().to_list() == []


async def test_compact_runs_a_compaction_turn(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([text("noted"), text("Summary: the user said hello.")])
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        await thread.run("hello")
        result = await thread.compact(timeout=30)
        assert result is not None
        turns = (await thread.read())["turns"]
    assert result.status == "completed"
    assert result.thread_id == thread.id
    assert [item.type for item in result.items] == ["contextCompaction"]
    assert len(scripted_model.requests) == 2  # the compaction asked the model for a summary
    assert "hello" in scripted_model.requests[1].user_texts()
    assert [item["type"] for item in turns[-1]["items"]] == ["contextCompaction"]


async def test_unsubscribe(scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path) -> None:
    scripted_model.add(text("ok"))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        await thread.run("hi")
        assert await thread.unsubscribe() == "unsubscribed"
        assert await thread.unsubscribe() in ("notSubscribed", "notLoaded")


async def test_review_of_uncommitted_changes_runs_on_the_thread(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "f.txt").write_text("a\n")
    subprocess.run([*git, "add", "f.txt"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=repo, check=True)
    (repo / "f.txt").write_text("a\nb\n")
    scripted_model.add(text("Looks fine."))
    async with AsyncCodex(codex_home=codex_home, cwd=repo) as codex:
        thread = await codex.start_thread()
        review = await thread.review()
        events = [event async for event in review]
        result = review.result
        with pytest.raises(ValueError, match="one target"):
            await thread.review(base_branch="main", commit="abc")
    assert result is not None
    assert result.status == "completed"
    kinds = [item.type for item in result.items]
    assert "enteredReviewMode" in kinds
    assert "exitedReviewMode" in kinds
    # The review's own turn/started (which names an inner turn) reached its stream.
    assert "turn/started" in [event.method for event in events]
    assert "Review the current code changes" in (scripted_model.requests[0].last_user_text or "")


async def test_models_lists_the_builtin_catalogue(codex_home: Path, tmp_path: Path) -> None:
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        models = await codex.models()
        everything = await codex.models(include_hidden=True)
    assert models
    assert all(m.id and m.display_name for m in models)
    assert sum(m.is_default for m in models) == 1
    assert not any(m.hidden for m in models)
    assert {m.id for m in models} <= {m.id for m in everything}
    assert all(m.default_reasoning_effort in m.reasoning_efforts for m in models)


async def test_exec_command(codex_home: Path, tmp_path: Path) -> None:
    chunks: list[tuple[str, bytes]] = []
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        hi = await codex.exec_command(["echo", "hi"])
        failing = await codex.exec_command(
            ["sh", "-c", 'echo "out $GREETING"; pwd; echo err >&2; exit 3'],
            cwd=tmp_path,
            env={"GREETING": "hello"},
            sandbox_policy="danger-full-access",
            timeout=10,
        )
        streamed = await codex.exec_command(
            ["sh", "-c", "echo one; echo two >&2"],
            on_output=lambda stream, chunk: chunks.append((stream, chunk)),
        )
        timed_out = await codex.exec_command(["sleep", "5"], timeout=0.3)
        with pytest.raises(ValueError, match="non-empty"):
            await codex.exec_command([])
    assert (hi.exit_code, hi.stdout, hi.ok) == (0, "hi\n", True)
    assert failing.exit_code == 3
    assert failing.stdout == f"out hello\n{tmp_path}\n"
    assert failing.stderr == "err\n"
    assert (streamed.stdout, streamed.stderr) == ("one\n", "two\n")
    assert b"".join(c for s, c in chunks if s == "stdout") == b"one\n"
    assert b"".join(c for s, c in chunks if s == "stderr") == b"two\n"
    assert timed_out.exit_code == 124


async def test_account_api_key_login_and_logout(codex_home: Path, tmp_path: Path) -> None:
    # A custom model provider needs no OpenAI account: select OpenAI's to see one.
    async with AsyncCodex(
        codex_home=codex_home, cwd=tmp_path, config={"model_provider": "openai"}
    ) as codex:
        assert await codex.account.read() is None
        await codex.account.login_api_key("sk-test")
        account = await codex.account.read()
        assert account is not None
        assert account.type == "apiKey"
        assert account.requires_openai_auth is True
        assert (codex_home / "auth.json").exists()
        with pytest.raises(InvalidRequestError):  # rate limits need ChatGPT sign-in
            await codex.account.rate_limits()
        await codex.account.logout()
        assert await codex.account.read() is None
        assert not (codex_home / "auth.json").exists()


async def test_account_without_auth(codex_home: Path, tmp_path: Path) -> None:
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        assert await codex.account.read() is None
        assert await codex.account.read(refresh_token=True) is None
        with pytest.raises(RpcError, match="authentication required"):
            await codex.account.rate_limits()


async def test_chatgpt_login_can_time_out_and_be_cancelled(
    codex_home: Path, tmp_path: Path
) -> None:
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        login = await codex.account.login_chatgpt()
        assert login.url.startswith("https://")
        assert login.login_id
        with pytest.raises(CodexTimeoutError):
            await login.wait(timeout=0.5)
        assert not login.done
        assert await login.cancel() is True
        with pytest.raises(LoginFailedError) as failed:
            await login.wait(timeout=10)
        assert failed.value.login_id == login.login_id
        assert await login.cancel() is False


async def test_settings_write_and_read(codex_home: Path, tmp_path: Path) -> None:
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        assert (await codex.settings.read())["model"] == "mock-model"
        written = await codex.settings.write("model", "other")
        assert written.status == "ok"
        assert Path(written.file_path) == (codex_home / "config.toml").resolve()
        assert (await codex.settings.read(cwd=str(tmp_path)))["model"] == "other"
        batch = await codex.settings.batch_write(
            {"model_reasoning_effort": "high", "features.web_search": False},
            expected_version=written.version,
        )
        config = await codex.settings.read()
        assert config["model_reasoning_effort"] == "high"
        assert config["features"]["web_search"] is False
        with pytest.raises(InvalidRequestError):  # the file changed since that version
            await codex.settings.write("model", "third", expected_version=written.version)
        await codex.settings.write("model_reasoning_effort", None, expected_version=batch.version)
        assert (await codex.settings.read())["model_reasoning_effort"] is None
        layers = await codex.settings.read_layers()
        assert any(layer["name"]["type"] == "user" for layer in layers["layers"])
        assert await codex.settings.requirements() is None
    assert 'model = "other"' in (codex_home / "config.toml").read_text()
