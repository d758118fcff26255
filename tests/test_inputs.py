"""Input that lies: prompts, frames and options that are not what they seem are taken for
what they are, or refused with a typed error before anything is sent."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import pytest

from codexkit import (
    AsyncCodex,
    CodexError,
    InvalidArgumentError,
    InvalidInputError,
    TokenUsageUpdated,
    TurnFailed,
    TurnFailedError,
)
from codexkit._client.turn import AsyncTurn
from codexkit.events import StreamError, parse_event
from codexkit.exec import ExecCodex
from codexkit.testing import ScriptedModel, text
from codexkit.types import normalize_input

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

# -- prompts --------------------------------------------------------------------------


@pytest.mark.real
async def test_a_user_input_dict_is_sent_as_the_input_it_describes(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    picture = tmp_path / "dot.png"
    picture.write_bytes(PNG)
    scripted_model.extend([text("one"), text("two")])
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        assert await thread.ask({"type": "text", "text": "hi"}) == "one"
        image = {"type": "localImage", "path": str(picture)}
        assert await thread.ask(["what is this?", image]) == "two"
    first, second = scripted_model.requests
    assert first.last_user_text == "hi"
    assert "type" not in first.user_texts()
    assert second.last_user_text == "what is this?"
    assert len(second.images()) == 1


@pytest.mark.parametrize(
    "prompt",
    [
        {"text": "no type"},
        {"type": "hologram", "text": "unknown type"},
        {"type": "text", "text": 5},
        {"type": "image"},
        ["fine", {"type": "localImage"}],
        42,
        b"bytes",
        {"hi"},
        [3.5],
    ],
    ids=repr,
)
def test_an_input_of_no_known_shape_is_refused_with_a_type_error(prompt: Any) -> None:
    with pytest.raises(InvalidInputError, match="turn input") as caught:
        normalize_input(prompt)
    assert isinstance(caught.value, TypeError)
    assert isinstance(caught.value, CodexError)


@pytest.mark.real
async def test_a_refused_input_sends_nothing(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(text("still here"))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        with pytest.raises(TypeError):
            await thread.turn({"type": "text", "txt": "typo"})
        assert await thread.ask("and now?") == "still here"  # the thread took no turn
    assert len(scripted_model.requests) == 1


def test_protocol_inputs_pass_as_given() -> None:
    skill = {"type": "skill", "name": "deploy", "path": "/skills/deploy/SKILL.md"}
    mention = {"type": "mention", "name": "app", "path": "app://app"}
    assert normalize_input([skill, mention]) == [skill, mention]
    with pytest.raises(InvalidArgumentError):
        normalize_input([])


async def test_exec_refuses_inputs_it_cannot_pass(codex_home: Path, tmp_path: Path) -> None:
    thread = ExecCodex(codex_home=codex_home).start_thread(cwd=tmp_path)
    with pytest.raises(InvalidInputError, match="skill"):
        await thread.run({"type": "skill", "name": "s", "path": "/s"})


# -- frames that lie ----------------------------------------------------------------


def _turn() -> AsyncTurn:
    codex = AsyncCodex()
    turn = AsyncTurn(codex._router, "t", idle_timeout=5, max_buffered_events=None)
    turn.id = "u"
    return turn


async def test_a_turn_error_that_is_a_string_fails_the_turn_typed() -> None:
    turn = _turn()
    turn._feed("error", {"threadId": "t", "turnId": "u", "error": "stream broke"}, {})
    failed = {"id": "u", "status": "failed", "error": "model exploded"}
    turn._feed("turn/completed", {"threadId": "t", "turn": failed}, {})
    events = [event async for event in turn]  # the stream itself ends without raising
    with pytest.raises(TurnFailedError) as caught:
        await turn.run()
    assert caught.value.error == {"message": "model exploded"}
    assert "model exploded" in str(caught.value)
    stream_error, ended = events
    assert isinstance(stream_error, StreamError)
    assert stream_error.message == "stream broke"
    assert isinstance(ended, TurnFailed)
    assert ended.error == {"message": "model exploded"}


async def test_a_failed_turn_without_its_own_error_keeps_the_string_stream_error() -> None:
    turn = _turn()
    turn._feed("error", {"threadId": "t", "turnId": "u", "error": "stream broke"}, {})
    turn._feed("turn/completed", {"threadId": "t", "turn": {"id": "u", "status": "failed"}}, {})
    with pytest.raises(TurnFailedError) as caught:
        await turn.run()
    assert caught.value.error == {"message": "stream broke"}


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, "12", 1.5, None, True])
async def test_a_token_count_that_is_not_an_integer_never_breaks_the_stream(bad: Any) -> None:
    # The JSON the app-server sends may say Infinity or NaN: Python's parser accepts both.
    frame = json.loads(
        json.dumps(
            {
                "threadId": "t",
                "turnId": "u",
                "tokenUsage": {
                    "last": {"inputTokens": bad, "outputTokens": 7, "totalTokens": bad},
                    "total": {"totalTokens": bad},
                    "modelContextWindow": bad,
                },
            }
        )
    )
    turn = _turn()
    turn._feed("thread/tokenUsage/updated", frame, {})
    turn._feed("turn/completed", {"threadId": "t", "turn": {"id": "u", "status": "completed"}}, {})
    result = await turn.run()
    assert result.usage is not None
    assert result.usage.output_tokens == 7
    assert result.usage.input_tokens == result.usage.total_tokens == 0
    assert result.usage.model_context_window is None
    event = parse_event("thread/tokenUsage/updated", frame, {})
    assert isinstance(event, TokenUsageUpdated)


# -- directories that do not exist --------------------------------------------------


@pytest.mark.real
async def test_a_missing_directory_is_refused_before_anything_is_sent(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere"
    scripted_model.extend([text("made"), text("again")])
    with pytest.raises(InvalidArgumentError, match="nowhere"):
        AsyncCodex(codex_home=codex_home, cwd=missing)
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        with pytest.raises(InvalidArgumentError, match="not an existing directory"):
            await codex.start_thread(cwd=missing)
        with pytest.raises(InvalidArgumentError):
            await codex.start_thread(cwd="nowhere")  # relative: from the server's directory
        (tmp_path / "here").mkdir()
        thread = await codex.start_thread(cwd="here")
        assert thread.info["cwd"] == str(tmp_path / "here")
        with pytest.raises(InvalidArgumentError):
            await thread.turn("hi", cwd=str(missing))
        await thread.run("hi")
        with pytest.raises(InvalidArgumentError):
            await codex.resume_thread(thread.id, cwd=missing)
        with pytest.raises(InvalidArgumentError):
            await thread.fork(cwd=missing)
        assert await thread.ask("still fine?") == "again"
        threads = await codex.list_threads().to_list()
    assert [t.id for t in threads] == [thread.id]
    with pytest.raises(InvalidArgumentError):
        ExecCodex(codex_home=codex_home).start_thread(cwd=missing)


# -- output schemas -----------------------------------------------------------------


@pytest.mark.real
@pytest.mark.parametrize(
    "schema",
    [
        {"type": "banana"},
        {"type": "object", "properties": {"age": {"type": "int"}}},
        {"type": "object", "properties": ["age"]},
        {"type": "object", "required": "age"},
        {"type": "array", "items": {"$ref": "#/$defs/Missing"}},
        {"type": "string", "minLength": -1},
        {"anyOf": []},
    ],
    ids=repr,
)
async def test_an_output_schema_that_is_not_json_schema_is_refused_before_the_model(
    schema: dict[str, Any], scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(text('{"age": 3}'))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        with pytest.raises(InvalidArgumentError, match="output_schema") as caught:
            await thread.run("How old?", output_schema=schema)
        assert isinstance(caught.value, ValueError)
    assert scripted_model.requests == []
    exec_thread = ExecCodex(codex_home=codex_home).start_thread(cwd=tmp_path)
    with pytest.raises(InvalidArgumentError):
        await exec_thread.run("How old?", output_schema=schema)
    assert scripted_model.requests == []


def test_json_schemas_of_every_draft_pass_the_check() -> None:
    from codexkit._json_schema import check_json_schema

    check_json_schema(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "name": {"type": ["string", "null"], "pattern": "^\\p{L}+$"},
                "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}, "minItems": 0},
                "pair": {"type": "array", "prefixItems": [{"type": "integer"}, True]},
                "old": {"items": [{"type": "number", "minimum": 0.5}], "x-vendor": 1},
            },
            "required": ["name", "tags"],
            "additionalProperties": False,
            "$defs": {"Tag": {"enum": ["a", "b"]}},
            "definitions": {"Unused": {"const": None}},
        }
    )
