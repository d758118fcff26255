"""Structured output and turn inputs, with the real binary and the scripted model."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import BaseModel

from codexkit import (
    AsyncCodex,
    ImageInput,
    InvalidRequestError,
    LocalImageInput,
    OutputParseError,
    TextInput,
)
from codexkit._structured import strict_schema
from codexkit.testing import ScriptedModel, json_reply, text

pytestmark = pytest.mark.real

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


class Step(BaseModel):
    title: str
    done: bool = False


class Plan(BaseModel):
    goal: str
    steps: list[Step]
    owner: str | None = None


async def test_output_type_is_sent_as_a_strict_schema_and_parsed(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    answer = {"goal": "ship", "steps": [{"title": "test", "done": True}], "owner": None}
    scripted_model.add(json_reply(answer))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        result = await thread.run("Plan the release", output_type=Plan)
    assert isinstance(result.output, Plan)
    assert result.output == Plan(goal="ship", steps=[Step(title="test", done=True)])
    sent = scripted_model.requests[0].output_schema
    assert sent == strict_schema(Plan)
    assert sent is not None
    assert sent["additionalProperties"] is False
    assert sent["required"] == ["goal", "steps", "owner"]


async def test_an_answer_that_does_not_parse_raises_with_the_raw_text(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(text("Sorry, no JSON today."))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        with pytest.raises(OutputParseError) as caught:
            await thread.run("Plan", output_type=Plan)
    assert caught.value.raw_text == "Sorry, no JSON today."
    assert caught.value.result is not None
    assert caught.value.result.status == "completed"


async def test_a_raw_output_schema_gives_parsed_json(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
    }
    scripted_model.add(json_reply({"n": 7}))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        result = await thread.run("Pick a number", output_schema=schema)
    assert result.output == {"n": 7}
    assert scripted_model.requests[0].output_schema == schema


async def test_text_and_images_in_one_turn_reach_the_model(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    picture = tmp_path / "dot.png"
    picture.write_bytes(PNG)
    inline = ImageInput.from_bytes(PNG)
    scripted_model.add(text("I see them."))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        await thread.run([TextInput("What are these?"), inline, LocalImageInput(picture)])
    request = scripted_model.requests[0]
    images = request.images()
    assert len(images) == 2
    assert inline.url in images
    assert all(url.startswith("data:image/png;base64,") for url in images)
    assert "What are these?" in request.user_texts()


async def test_a_remote_image_url_is_refused_with_a_typed_error(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.add(text("still here"))
    async with AsyncCodex(codex_home=codex_home, cwd=tmp_path) as codex:
        thread = await codex.start_thread()
        with pytest.raises(InvalidRequestError, match="remote image URLs are not supported"):
            await thread.turn(["Look", ImageInput("https://example.com/cat.png")])
        assert await thread.ask("still usable?") == "still here"  # the thread is not stuck


def test_strict_schema_closes_every_object_and_keeps_optional_fields_nullable() -> None:
    schema = strict_schema(Plan)
    step = schema["$defs"]["Step"]
    assert step["additionalProperties"] is False
    assert step["required"] == ["title", "done"]
    assert "default" not in step["properties"]["done"]
    owner = schema["properties"]["owner"]
    assert {"type": "null"} in owner["anyOf"]
