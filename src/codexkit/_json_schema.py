"""A light check that a dict is a JSON Schema, before it is sent as a turn's output schema.

It checks the shape of the keywords JSON Schema defines (drafts 7 to 2020-12): ``type``
names real types, subschemas are schemas, ``required`` lists strings, bounds are numbers,
local ``$ref``s point somewhere. Unknown keywords are allowed, as JSON Schema allows them;
nothing is fetched. It stands in for a full meta-schema validator (``jsonschema``), which
codexkit does not depend on, and validates no instance: the model's answer is parsed later.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeGuard

from .errors import InvalidArgumentError

__all__ = ["check_json_schema"]

Json = dict[str, Any]

_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
# Keywords whose value is one schema, a map of schemas, a list of schemas.
_SCHEMA = (
    *("additionalProperties", "additionalItems", "not", "contains", "propertyNames", "items"),
    *("if", "then", "else", "unevaluatedProperties", "unevaluatedItems"),
)
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_COUNTS = (
    *("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"),
    *("minContains", "maxContains"),
)
_NUMBERS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
# ``pattern`` is an ECMA-262 regex, which Python's ``re`` does not fully read: only its type
# is checked.
_STRINGS = (
    *("title", "description", "format", "pattern", "$id", "$schema", "$comment", "$anchor"),
    *("contentMediaType", "contentEncoding"),
)
_FLAGS = ("uniqueItems", "readOnly", "writeOnly", "deprecated")


def check_json_schema(schema: Any, *, name: str = "output_schema") -> None:
    """Raise :class:`InvalidArgumentError` unless ``schema`` is a JSON Schema object."""
    if not isinstance(schema, dict):
        raise InvalidArgumentError(f"{name} must be a JSON Schema object, not {_kind(schema)}")
    try:
        problem = _problem(schema, schema, ())
    except RecursionError:
        raise InvalidArgumentError(f"{name} is nested too deeply (or contains itself)") from None
    if problem is not None:
        where, what = problem
        at = f" at {'/'.join(where)}" if where else ""
        raise InvalidArgumentError(f"{name} is not a valid JSON Schema{at}: {what}")


Problem = tuple[tuple[str, ...], str]


def _problem(node: Any, root: Json, path: tuple[str, ...]) -> Problem | None:
    """The first thing wrong with the subschema ``node`` (at ``path``), or ``None``."""
    if isinstance(node, bool):  # true / false are schemas too
        return None
    if not isinstance(node, dict):
        return path, f"a schema must be an object or a boolean, not {_kind(node)}"
    for check in _CHECKS:
        problem = check(node, root, path)
        if problem is not None:
            return problem
    return None


def _type(node: Json, root: Json, path: tuple[str, ...]) -> Problem | None:
    if "type" not in node:
        return None
    value = node["type"]
    names = value if isinstance(value, list) else [value]
    for name in names:
        if not isinstance(name, str) or name not in _TYPES:
            known = ", ".join(sorted(_TYPES))
            return (*path, "type"), f"{name!r} is not a JSON Schema type ({known})"
    if isinstance(value, list) and (not value or len(set(value)) != len(value)):
        return (*path, "type"), "a list of types must be non-empty and without repeats"
    return None


def _subschemas(node: Json, root: Json, path: tuple[str, ...]) -> Problem | None:
    for key in _SCHEMA:
        if key in node:
            value = node[key]
            if key == "items" and isinstance(value, list):  # draft 7's tuple form
                problem = _each(value, root, (*path, key))
            else:
                problem = _problem(value, root, (*path, key))
            if problem is not None:
                return problem
    for key in _SCHEMA_MAPS:
        if key in node:
            value = node[key]
            if not isinstance(value, dict):
                return (*path, key), f"must map names to schemas, not {_kind(value)}"
            for child, schema in value.items():
                problem = _problem(schema, root, (*path, key, str(child)))
                if problem is not None:
                    return problem
    for key in _SCHEMA_LISTS:
        if key in node:
            value = node[key]
            if not isinstance(value, list) or not value:
                return (*path, key), f"must be a non-empty list of schemas, not {_kind(value)}"
            problem = _each(value, root, (*path, key))
            if problem is not None:
                return problem
    return None


def _each(schemas: Sequence[Any], root: Json, path: tuple[str, ...]) -> Problem | None:
    for index, schema in enumerate(schemas):
        problem = _problem(schema, root, (*path, str(index)))
        if problem is not None:
            return problem
    return None


def _values(node: Json, root: Json, path: tuple[str, ...]) -> Problem | None:
    for key in _COUNTS:
        value = node.get(key)
        if key in node and not (_is_int(value) and value >= 0):
            return (*path, key), f"must be a non-negative integer, not {value!r}"
    for key in _NUMBERS:
        value = node.get(key)
        if key in node and not _is_number(value):
            return (*path, key), f"must be a number, not {value!r}"
    if "multipleOf" in node and node["multipleOf"] <= 0:
        return (*path, "multipleOf"), "must be greater than 0"
    for key in _STRINGS:
        if key in node and not isinstance(node[key], str):
            return (*path, key), f"must be a string, not {_kind(node[key])}"
    for key in _FLAGS:
        if key in node and not isinstance(node[key], bool):
            return (*path, key), f"must be true or false, not {node[key]!r}"
    return None


def _lists(node: Json, root: Json, path: tuple[str, ...]) -> Problem | None:
    required = node.get("required")
    if "required" in node and not (
        isinstance(required, list)
        and all(isinstance(name, str) for name in required)
        and len(set(required)) == len(required)
    ):
        return (*path, "required"), "must be a list of distinct property names"
    if "enum" in node and (not isinstance(node["enum"], list) or not node["enum"]):
        return (*path, "enum"), "must be a non-empty list"
    return None


def _ref(node: Json, root: Json, path: tuple[str, ...]) -> Problem | None:
    ref = node.get("$ref")
    if "$ref" not in node:
        return None
    if not isinstance(ref, str):
        return (*path, "$ref"), f"must be a string, not {_kind(ref)}"
    if ref.startswith("#") and not _resolves(root, ref[1:]):
        return (*path, "$ref"), f"{ref!r} points nowhere in the schema"
    return None


def _resolves(root: Json, pointer: str) -> bool:
    """Whether the JSON pointer (the part of a ``$ref`` after ``#``) names a node."""
    if not pointer:
        return True
    if not pointer.startswith("/"):
        return True  # an anchor name (``#foo``): not followed
    node: Any = root
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


_CHECKS: tuple[Callable[[Json, Json, tuple[str, ...]], Problem | None], ...] = (
    _type,
    _values,
    _lists,
    _ref,
    _subschemas,
)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
