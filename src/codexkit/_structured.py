"""Structured output: a pydantic model as the turn's output schema, and its parsing."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import TYPE_CHECKING, Any

from ._json_schema import check_json_schema
from .errors import OutputParseError

if TYPE_CHECKING:
    from .types import TurnResult

__all__ = ["OutputSpec", "strict_schema"]

Json = dict[str, Any]

# Keywords the API's strict mode rejects; descriptions and titles stay.
_UNSUPPORTED = ("default", "examples", "discriminator")


def strict_schema(output_type: type[Any]) -> Json:
    """The JSON schema of a pydantic model, made acceptable to strict structured output:
    every object closed (``additionalProperties: false``) with every property required
    (optional fields stay nullable), references kept in ``$defs``."""
    from pydantic import TypeAdapter

    schema = copy.deepcopy(TypeAdapter(output_type).json_schema())
    _tighten(schema)
    return schema


def _tighten(node: Any) -> None:
    if isinstance(node, list):
        for child in node:
            _tighten(child)
        return
    if not isinstance(node, dict):
        return
    for key in _UNSUPPORTED:
        node.pop(key, None)
    if "properties" in node or (
        node.get("type") == "object" and "additionalProperties" not in node
    ):
        # A closed object with every property required; a mapping-typed field (an
        # object whose additionalProperties is a schema) is left as it is.
        properties = node.setdefault("properties", {})
        node["required"] = list(properties)
        node["additionalProperties"] = False
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            for child in value.values():
                _tighten(child)
        elif isinstance(value, (dict, list)):
            _tighten(value)


class OutputSpec:
    """What a turn's final answer must be: a model type, or a raw JSON schema."""

    def __init__(self, output_type: type[Any] | None, schema: Json | None) -> None:
        if output_type is not None and schema is not None:
            raise TypeError("pass output_type or output_schema, not both")
        if schema is not None:
            check_json_schema(schema)  # a bad schema fails here, not at the model
        self.output_type = output_type
        self.schema = strict_schema(output_type) if output_type is not None else schema

    def apply(self, result: TurnResult) -> tuple[TurnResult, OutputParseError | None]:
        """``result`` with ``output`` parsed from its final answer, or the unchanged result
        and the parse error (which carries it). A turn that did not complete is left
        alone: it has no answer to parse."""
        if result.status != "completed":
            return result, None
        try:
            return dataclasses.replace(result, output=self.parse(result.final_response)), None
        except OutputParseError as exc:
            exc.result = result
            return result, exc

    def parse(self, text: str | None) -> Any:
        """The final answer as an instance of the model (or as JSON for a raw schema)."""
        if text is None:
            raise OutputParseError("the turn produced no answer to parse", raw_text="")
        if self.output_type is None:
            try:
                return json.loads(text)
            except ValueError as exc:
                raise OutputParseError(f"the answer is not JSON: {exc}", raw_text=text) from exc
        from pydantic import TypeAdapter, ValidationError

        try:
            return TypeAdapter(self.output_type).validate_json(text)
        except ValidationError as exc:
            name = getattr(self.output_type, "__name__", str(self.output_type))
            raise OutputParseError(
                f"the answer does not match {name}: {exc}", raw_text=text
            ) from exc
