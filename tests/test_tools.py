"""Dynamic tools: schemas from signatures and docstrings, validation, results, registry."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime
import enum
import functools
import json
import logging
import threading
from typing import Annotated, Any, Literal, Optional

import pytest
from pydantic import BaseModel, Field, TypeAdapter, field_validator

from codexkit.protocol import (
    DynamicToolCallParams,
    DynamicToolCallResponse,
    DynamicToolSpec,
    FunctionDynamicToolSpec,
    InputImageDynamicToolCallOutputContentItem,
    InputTextDynamicToolCallOutputContentItem,
    to_wire,
)
from codexkit.tools import ImageContent, Tool, ToolRegistry, ToolResult, image_content, tool

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@tool
def add(a: int, b: int = 2) -> int:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


class Point(BaseModel):
    """A point on the plane."""

    x: int
    y: int = 0


class Tree(BaseModel):
    value: int
    children: list[Tree] = []


class Picky(BaseModel):
    v: int

    @field_validator("v")
    @classmethod
    def odd(cls, v: int) -> int:
        raise LookupError("picky")


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def _walk(node: Any) -> list[dict[str, Any]]:
    """Every schema object under ``node`` (property maps are looked through)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, list):
        for item in node:
            found += _walk(item)
    elif isinstance(node, dict):
        found.append(node)
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for sub in value.values():
                    found += _walk(sub)
            elif key not in ("default", "enum", "required"):
                found += _walk(value)
    return found


# -- schema ---------------------------------------------------------------------------


def test_google_docstring_schema_and_spec() -> None:
    assert add.name == "add"
    assert add.description == "Add two numbers."
    assert add.input_schema == {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "description": "The first number."},
            "b": {"type": "integer", "description": "The second number.", "default": 2},
        },
        "required": ["a"],
        "additionalProperties": False,
    }
    assert add.spec() == {
        "type": "function",
        "name": "add",
        "description": "Add two numbers.",
        "inputSchema": add.input_schema,
    }
    add.input_schema["properties"].clear()  # a copy: the tool is unaffected
    assert add.input_schema["properties"]


def test_google_docstring_keeps_other_sections() -> None:
    @tool
    def search(query: str, limit: int = 10) -> list[str]:
        """Search the notes.

        Matches are case-insensitive.

        Args:
            query (str): What to look for,
                across several lines.
            limit (int, optional): At most this many hits.

        Returns:
            The matching note titles.

        Raises:
            ValueError: never.
        """
        return []

    assert search.description == (
        "Search the notes.\n\nMatches are case-insensitive.\n\n"
        "Returns:\n    The matching note titles."
    )
    props = search.input_schema["properties"]
    assert props["query"]["description"] == "What to look for, across several lines."
    assert props["limit"]["description"] == "At most this many hits."


def test_numpy_docstring_schema() -> None:
    @tool
    def scale(value: float, factor: float = 2.0, *, lo: int = 0, hi: int = 9) -> float:
        """Scale a value.

        Parameters
        ----------
        value : float
            The value to scale.
        factor : float, optional
            The multiplier,
            default two.
        lo, hi : int
            The clamp bounds.

        Returns
        -------
        float
            The scaled value.
        """
        return value * factor

    props = scale.input_schema["properties"]
    assert props["value"] == {"type": "number", "description": "The value to scale."}
    assert props["factor"]["description"] == "The multiplier, default two."
    assert props["lo"]["description"] == props["hi"]["description"] == "The clamp bounds."
    assert scale.description.startswith("Scale a value.\n\nReturns\n-------")
    assert "Parameters" not in scale.description


def test_rest_docstring_schema() -> None:
    @tool
    def move(src: str, dst: str) -> None:
        """Move a file.

        :param src: Where it is.
        :param str dst: Where it
            goes.
        :type src: str
        :raises OSError: on failure.
        :returns: nothing.
        """

    props = move.input_schema["properties"]
    assert props["src"]["description"] == "Where it is."
    assert props["dst"]["description"] == "Where it goes."
    assert move.description == "Move a file.\n\n:returns: nothing."


def test_no_docstring_and_explicit_description() -> None:
    def bare(x: int) -> int:
        return x

    assert Tool.from_function(bare).description == ""
    named = Tool.from_function(bare, name="other", description="Explicit.")
    assert (named.name, named.description) == ("other", "Explicit.")
    assert named(4) == 4


def test_annotated_descriptions_and_constraints() -> None:
    @tool
    def pick(
        count: Annotated[int, Field(ge=0, le=5, description="How many.")],
        label: Annotated[str, "A label."] = "x",
        note: Annotated[str, "From the hint."] = "",
        size: int = Field(3, description="From Field().", gt=0),
    ) -> str:
        """Pick things.

        Args:
            count: Ignored: the hint's description wins.
            note: Ignored too.
        """
        return f"{count}{label}{note}{size}"

    props = pick.input_schema["properties"]
    assert props["count"] == {
        "type": "integer",
        "description": "How many.",
        "minimum": 0,
        "maximum": 5,
    }
    assert props["label"] == {"type": "string", "description": "A label.", "default": "x"}
    assert props["note"]["description"] == "From the hint."
    assert props["size"] == {
        "type": "integer",
        "description": "From Field().",
        "default": 3,
        "exclusiveMinimum": 0,
    }
    assert pick.input_schema["required"] == ["count"]


async def test_field_default_is_passed_to_the_function() -> None:
    @tool
    def sized(size: int = Field(3, gt=0)) -> int:
        return size

    assert (await sized.invoke({})).text == "3"
    assert (await sized.invoke({"size": 7})).text == "7"
    assert not (await sized.invoke({"size": 0})).success


def test_literal_enum_optional_and_containers() -> None:
    @tool
    def kinds(
        unit: Literal["c", "f"],
        color: Color,
        maybe: Optional[int] = None,  # noqa: UP045 - the spelling under test
        either: int | None = None,
        tags: list[str] | None = None,
        weights: dict[str, float] | None = None,
        pair: tuple[int, str] = (1, "a"),
        same: tuple[int, int] = (0, 0),
    ) -> None:
        pass

    props = kinds.input_schema["properties"]
    assert props["unit"] == {"type": "string", "enum": ["c", "f"]}
    assert props["color"] == {"type": "string", "enum": ["red", "blue"]}
    assert props["maybe"] == {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}
    assert props["either"] == props["maybe"]
    assert props["tags"]["anyOf"][0] == {"type": "array", "items": {"type": "string"}}
    assert props["weights"]["anyOf"][0] == {
        "type": "object",
        "additionalProperties": {"type": "number"},
    }
    assert props["pair"]["prefixItems"] == [{"type": "integer"}, {"type": "string"}]
    assert props["pair"]["items"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert props["same"]["items"] == {"type": "integer"}
    assert kinds.input_schema["required"] == ["unit", "color"]
    assert "$defs" not in kinds.input_schema


def test_model_parameter_is_inlined() -> None:
    @tool
    def place(where: Point, extra: list[Point] | None = None) -> str:
        """Place it.

        Args:
            where: The spot.
        """
        return ""

    schema = place.input_schema
    assert schema["properties"]["where"] == {
        "type": "object",
        "description": "The spot.",
        "properties": {"x": {"type": "integer"}, "y": {"type": "integer", "default": 0}},
        "required": ["x"],
    }
    assert schema["properties"]["extra"]["anyOf"][0]["items"]["properties"]["x"] == {
        "type": "integer"
    }
    nodes = _walk(schema)
    assert not any("$ref" in node or "$defs" in node or "title" in node for node in nodes)


def test_recursive_model_keeps_its_definition() -> None:
    @tool
    def grow(tree: Tree) -> int:
        return tree.value

    schema = grow.input_schema
    assert schema["properties"]["tree"]["properties"]["children"]["items"] == {
        "$ref": "#/$defs/Tree"
    }
    assert schema["$defs"]["Tree"]["properties"]["value"] == {"type": "integer"}


def test_untyped_and_awkward_names() -> None:
    @tool
    def odd(title, schema: str, json: int = 0, model_config: bool = False):  # type: ignore[no-untyped-def]
        return [title, schema, json, model_config]

    props = odd.input_schema["properties"]
    assert props["title"] == {}
    assert list(props) == ["title", "schema", "json", "model_config"]
    assert odd.input_schema["required"] == ["title", "schema"]


async def test_untyped_parameter_accepts_any_json() -> None:
    @tool
    def echo(value):  # type: ignore[no-untyped-def]
        return value

    for value in ({"a": [1, None]}, [1, "x"], "s", 2.5, None):
        expected = value if isinstance(value, str) else json.dumps(value)
        assert (await echo.invoke({"value": value})).text == expected


def test_zero_parameter_tool() -> None:
    @tool
    def ping() -> str:
        return "pong"

    assert ping.input_schema == {"type": "object", "properties": {}, "additionalProperties": False}


# -- decoration errors ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "has space", "dots.no", "x" * 65, "mcp", "mcp__x", "é"])
def test_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match="tool name"):
        Tool.from_function(add.fn, name=name)


def test_good_names_and_lambda() -> None:
    assert Tool.from_function(add.fn, name="x" * 64).name == "x" * 64
    assert tool(name="Read-File_2")(add.fn).name == "Read-File_2"
    with pytest.raises(ValueError, match="name="):
        tool(lambda x: x)
    assert tool(name="ident")(lambda x: x)(3) == 3


def test_rejected_signatures() -> None:
    def star(*args: int) -> None: ...
    def kw(a: int, **kwargs: int) -> None: ...
    def method(self: object, a: int) -> None: ...
    def gen(a: int) -> Any:
        yield a

    with pytest.raises(TypeError, match=r"\*args"):
        tool(star)
    with pytest.raises(TypeError, match=r"\*\*kwargs"):
        tool(kw)
    with pytest.raises(TypeError, match="'self'"):
        tool(method)
    with pytest.raises(TypeError, match="generator"):
        tool(gen)


def test_unusable_hints_raise_type_error() -> None:
    def unresolved(a: NoSuchType) -> None: ...  # type: ignore[name-defined]  # noqa: F821
    def unsupported(a: threading.Lock) -> None: ...

    with pytest.raises(TypeError, match="cannot resolve the type hint 'NoSuchType'"):
        tool(unresolved)
    with pytest.raises(TypeError, match="JSON schema"):
        tool(unsupported)


def test_unresolvable_return_hint_is_ignored() -> None:
    def later(a: int) -> NotYetDefined:  # type: ignore[name-defined]  # noqa: F821
        return a

    assert tool(later).input_schema["properties"] == {"a": {"type": "integer"}}


def test_bound_method_and_partial() -> None:
    class Counter:
        def __init__(self) -> None:
            self.total = 0

        def bump(self, by: int = 1) -> int:
            """Bump the counter."""
            self.total += by
            return self.total

    counter = Counter()
    bump = Tool.from_function(counter.bump)
    assert bump.name == "bump"
    assert bump.description == "Bump the counter."
    assert list(bump.input_schema["properties"]) == ["by"]
    assert bump(2) == 2

    plus_ten = Tool.from_function(functools.partial(add.fn, b=10), name="plus_ten")
    assert plus_ten.description == "Add two numbers."
    assert plus_ten(1) == 11


# -- validation -------------------------------------------------------------------------


async def test_lax_coercion() -> None:
    result = await add.invoke({"a": "40", "b": 2.0})
    assert result == ToolResult(True, [{"type": "inputText", "text": "42"}])


async def test_invalid_arguments_are_reported_and_not_called() -> None:
    calls: list[int] = []

    @tool
    def record(n: int, where: Point | None = None) -> None:
        calls.append(n)

    bad = await record.invoke({"n": "three", "where": {"x": "a"}, "bogus": 1})
    assert not bad.success
    not_int = "Input should be a valid integer, unable to parse string as an integer"
    assert bad.text.splitlines() == [
        "Invalid arguments for tool 'record':",
        f'- n: {not_int} (got "three")',
        f'- where.x: {not_int} (got "a")',
        "- bogus: unexpected argument (accepted: n, where)",
    ]
    missing = await record.invoke({})
    assert missing.text.endswith("- n: missing required argument")
    not_object = await record.invoke(["n"])  # type: ignore[arg-type]
    assert not_object.text == (
        "Invalid arguments for tool 'record': expected a JSON object, got list [\"n\"]"
    )
    assert calls == []
    assert (await record.invoke({"n": 1.0})).success
    assert calls == [1]


async def test_model_argument_arrives_as_model() -> None:
    @tool
    def norm(p: Point, ps: list[Point]) -> int:
        assert isinstance(p, Point)
        assert all(isinstance(q, Point) for q in ps)
        return p.x + p.y + len(ps)

    assert (await norm.invoke({"p": {"x": 3, "y": 4}, "ps": [{"x": 1}]})).text == "8"


async def test_positional_only_and_keyword_only() -> None:
    @tool
    def mix(a: int, /, b: int = 1, *, c: int = 2) -> list[int]:
        return [a, b, c]

    assert (await mix.invoke({"a": 5, "c": 7})).text == "[5, 1, 7]"
    assert mix.input_schema["required"] == ["a"]


async def test_omitted_arguments_use_the_functions_own_defaults() -> None:
    sentinel: list[int] = []

    @tool
    def keep(items: list[int] = sentinel) -> bool:
        return items is sentinel

    assert (await keep.invoke({})).text == "true"


async def test_none_arguments_mean_no_arguments() -> None:
    @tool
    def ping() -> str:
        return "pong"

    assert (await ping.invoke(None)).text == "pong"
    assert (await ping.invoke()).text == "pong"
    assert (await add.invoke('{"a": 1}')).text == "3"  # type: ignore[arg-type]  # JSON text
    assert not (await add.invoke("{not json")).success  # type: ignore[arg-type]


async def test_many_errors_are_capped() -> None:
    @tool
    def wide(items: list[int]) -> None: ...

    result = await wide.invoke({"items": ["x"] * 15})
    lines = result.text.splitlines()
    assert lines[1].startswith("- items[0]: Input should be a valid integer")
    assert lines[-1] == "- ... and 5 more"
    assert len(lines) == 12


# -- calling ------------------------------------------------------------------------------


async def test_sync_tool_runs_off_the_loop_thread() -> None:
    @tool
    def where() -> int:
        return threading.get_ident()

    assert where() == threading.get_ident()
    result = await where.invoke({})
    assert int(result.text) != threading.get_ident()


async def test_async_tool_is_awaited_on_the_loop() -> None:
    @tool(name="weather", description="Current weather for a city")
    async def get_weather(city: str, unit: Literal["c", "f"] = "c") -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"city": city, "unit": unit, "thread": threading.get_ident()}

    assert get_weather.name == "weather"
    assert get_weather.description == "Current weather for a city"
    assert get_weather.is_async
    assert (await get_weather("Oslo"))["unit"] == "c"  # still a coroutine function
    result = await get_weather.invoke({"city": "Paris", "unit": "f"})
    assert result.text == (f'{{"city": "Paris", "unit": "f", "thread": {threading.get_ident()}}}')


async def test_async_callable_object_and_partial() -> None:
    class Doubler:
        async def __call__(self, n: int) -> int:
            return n * 2

    async def triple(n: int, k: int = 3) -> int:
        return n * k

    assert (await Tool.from_function(Doubler(), name="double").invoke({"n": 4})).text == "8"
    part = Tool.from_function(functools.partial(triple, k=5), name="five")
    assert part.is_async
    assert (await part.invoke({"n": 2})).text == "10"


async def test_raising_tool_fails_softly(caplog: pytest.LogCaptureFixture) -> None:
    @tool
    def boom(n: int) -> int:
        raise ValueError(f"bad n {n}")

    @tool
    async def silent() -> None:
        raise RuntimeError

    with caplog.at_level(logging.WARNING, logger="codexkit.tools"):
        result = await boom.invoke({"n": 3})
    assert result.to_wire() == {
        "success": False,
        "contentItems": [{"type": "inputText", "text": "ValueError: bad n 3"}],
    }
    [record] = [r for r in caplog.records if r.name == "codexkit.tools"]
    assert record.levelno == logging.WARNING
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)
    assert (await silent.invoke({})).text == "RuntimeError"


async def test_validator_raising_odd_exception_fails_softly() -> None:
    @tool
    def fussy(p: Picky) -> None: ...

    assert (await fussy.invoke({"p": {"v": 1}})).text == "LookupError: picky"


async def test_cancellation_propagates() -> None:
    @tool
    async def cancelled() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await cancelled.invoke({})


async def test_tool_can_return_its_own_result() -> None:
    @tool
    def lookup(city: str) -> ToolResult:
        return ToolResult.error(f"no such city: {city}")

    result = await lookup.invoke({"city": "Atlantis"})
    assert result == ToolResult(False, [{"type": "inputText", "text": "no such city: Atlantis"}])


# -- return values ------------------------------------------------------------------------


@dataclasses.dataclass
class Row:
    id: int
    when: datetime.date


class Opaque:
    def __str__(self) -> str:
        return "opaque!"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        ("", ""),
        (None, "null"),
        (3, "3"),
        (2.5, "2.5"),
        (True, "true"),
        ({"a": [1, "é"]}, '{"a": [1, "é"]}'),
        ([1, 2], "[1, 2]"),
        (["a", "b"], '["a", "b"]'),
        ((1, None), "[1, null]"),
        (Point(x=1), '{"x":1,"y":0}'),
        ({"p": Point(x=2)}, '{"p": {"x": 2, "y": 0}}'),
        (Row(1, datetime.date(2024, 5, 1)), '{"id": 1, "when": "2024-05-01"}'),
        (Color.RED, '"red"'),
        (b"caf\xc3\xa9", "café"),
        (Opaque(), "opaque!"),
    ],
)
def test_text_conversions(value: object, text: str) -> None:
    result = ToolResult.from_value(value)
    assert result.success
    assert result.content_items == [{"type": "inputText", "text": text}]


def test_image_conversions() -> None:
    png_url = f"data:image/png;base64,{_b64(PNG)}"
    assert ToolResult.from_value(PNG).content_items == [{"type": "inputImage", "imageUrl": png_url}]
    assert (
        ToolResult.from_value(bytearray(JPEG))
        .content_items[0]["imageUrl"]
        .startswith("data:image/jpeg;base64,")
    )
    assert image_content(PNG) == ImageContent(png_url)
    assert image_content(b"raw").image_url == f"data:image/png;base64,{_b64(b'raw')}"
    assert image_content(PNG, mime="image/webp").image_url.startswith("data:image/webp;")
    webp = b"RIFF\x00\x00\x00\x00WEBPVP8 "
    assert image_content(webp).image_url.startswith("data:image/webp;")
    assert image_content(b"GIF89a...").image_url.startswith("data:image/gif;")
    remote = image_content(url="https://example.com/a.png")
    assert ToolResult.from_value(remote).content_items == [
        {"type": "inputImage", "imageUrl": "https://example.com/a.png"}
    ]
    mixed = ToolResult.from_value(["Here it is:", image_content(PNG), {"w": 2}])
    assert mixed.content_items == [
        {"type": "inputText", "text": "Here it is:"},
        {"type": "inputImage", "imageUrl": png_url},
        {"type": "inputText", "text": '{"w": 2}'},
    ]
    assert mixed.text == 'Here it is:\n{"w": 2}'


def test_image_content_errors() -> None:
    with pytest.raises(ValueError, match="not both"):
        image_content(PNG, url="https://x.test/a.png")
    with pytest.raises(ValueError, match="not both"):
        image_content()
    with pytest.raises(ValueError, match="https://"):
        image_content(url="file:///etc/passwd")
    with pytest.raises(ValueError, match="MIME"):
        image_content(PNG, mime="text/plain")


async def test_unconvertible_bytes_fail_the_call() -> None:
    @tool
    def blob() -> bytes:
        return b"\xff\xfe\x00garbage"

    result = await blob.invoke({})
    assert not result.success
    assert result.text.startswith("TypeError: the tool returned 10 bytes")


async def test_tool_returning_images() -> None:
    @tool
    async def shot(label: str) -> list[Any]:
        return [label, image_content(PNG)]

    result = await shot.invoke({"label": "plot"})
    assert [item["type"] for item in result.content_items] == ["inputText", "inputImage"]


# -- registry -----------------------------------------------------------------------------


def _double(n: int) -> int:
    """Double it."""
    return n * 2


async def test_registry_basics() -> None:
    registry = ToolRegistry([add])
    double = registry.add(_double)
    assert isinstance(double, Tool)
    assert len(registry) == 2
    assert [t.name for t in registry] == ["add", "_double"]
    assert "add" in registry
    assert add in registry
    assert "nope" not in registry
    assert Tool.from_function(add.fn) not in registry  # same name, another tool
    assert double.fn is _double
    assert registry.get("add") is add
    assert registry.get("missing") is None
    assert registry.specs() == [add.spec(), double.spec()]
    with pytest.raises(ValueError, match="already registered"):
        registry.add(Tool.from_function(_double))
    assert repr(registry) == "ToolRegistry([add, _double])"


def test_registry_merge_right_side_wins() -> None:
    base = ToolRegistry([add, _double])
    other_add = Tool.from_function(_double, name="add")
    merged = base.merged([other_add, Tool.from_function(_double, name="extra")])
    assert [t.name for t in merged] == ["add", "_double", "extra"]
    assert merged.get("add") is other_add
    assert base.get("add") is add  # the left side is untouched
    assert len(base) == 2
    assert ToolRegistry([add]).merged(ToolRegistry([other_add])).get("add") is other_add


async def test_registry_call_with_protocol_params() -> None:
    registry = ToolRegistry([add])
    params = DynamicToolCallParams(
        thread_id="t1", turn_id="u1", call_id="c1", namespace=None, tool="add", arguments={"a": 5}
    )
    response = await registry.call(to_wire(params))
    assert response == {"success": True, "contentItems": [{"type": "inputText", "text": "7"}]}
    bad = await registry.call({"tool": "add", "arguments": {"a": "x"}, "callId": "c2"})
    assert bad["success"] is False
    assert "- a: Input should be a valid integer" in bad["contentItems"][0]["text"]


async def test_registry_unknown_tool(caplog: pytest.LogCaptureFixture) -> None:
    registry = ToolRegistry([add, _double])
    response = await registry.call({"tool": "nope", "arguments": {}})
    assert response == {
        "success": False,
        "contentItems": [
            {"type": "inputText", "text": "Unknown tool 'nope'. Available tools: add, _double."}
        ],
    }
    empty = await ToolRegistry().call({"arguments": {}})
    assert empty["contentItems"][0]["text"] == "Unknown tool None. Available tools: none."
    assert (await registry.call("junk"))["success"] is False  # type: ignore[arg-type]


# -- protocol -----------------------------------------------------------------------------


def test_spec_validates_against_protocol_model() -> None:
    @tool
    def rich(where: Point, unit: Literal["c", "f"] = "c", tags: list[str] | None = None) -> None:
        """Rich signature."""

    adapter: TypeAdapter[Any] = TypeAdapter(DynamicToolSpec)
    for spec in (add.spec(), rich.spec(), *ToolRegistry([_double]).specs()):
        model = adapter.validate_python(spec)
        assert isinstance(model, FunctionDynamicToolSpec)
        assert not model.model_extra
        assert to_wire(model) == spec


def test_results_validate_against_protocol_model() -> None:
    result = ToolResult.from_value(["text", image_content(PNG)])
    response = DynamicToolCallResponse.model_validate(result.to_wire())
    assert response.success is True
    text, image = response.content_items
    assert isinstance(text, InputTextDynamicToolCallOutputContentItem)
    assert isinstance(image, InputImageDynamicToolCallOutputContentItem)
    assert to_wire(response) == result.to_wire()
    failed = DynamicToolCallResponse.model_validate(ToolResult.error("nope").to_wire())
    assert failed.success is False
