"""A function's parameters as a pydantic model: the JSON Schema and argument validation."""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, ValidationError, create_model
from pydantic.fields import FieldInfo

__all__ = ["Arguments", "ArgumentsError", "build_arguments", "inline_schema"]

Json = dict[str, Any]

# Keywords whose value is data, not a schema: never rewritten.
_DATA_KEYWORDS = frozenset({"const", "default", "enum", "example", "examples", "required"})
# Keywords whose value maps names to schemas.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas", "$defs"})
_MAX_ERRORS = 10


class ArgumentsError(ValueError):
    """The model's arguments do not fit the tool; the message is meant for the model."""


@dataclass(frozen=True)
class _Param:
    name: str
    field: str
    positional: bool  # positional-only: always passed, by position
    always: bool  # passed even when the model left it out (its default is a FieldInfo)


@dataclass(frozen=True)
class Arguments:
    """Validates a tool's JSON arguments and turns them into a call's ``args, kwargs``."""

    tool_name: str
    model: type[BaseModel]
    params: tuple[_Param, ...]
    schema: Json

    def bind(self, arguments: object) -> tuple[list[Any], dict[str, Any]]:
        if arguments is None:
            arguments = {}
        elif isinstance(arguments, str):  # the raw JSON text rather than the parsed object
            with contextlib.suppress(ValueError):
                arguments = json.loads(arguments or "{}")
        if not isinstance(arguments, Mapping):
            raise ArgumentsError(
                f"Invalid arguments for tool {self.tool_name!r}: expected a JSON object, "
                f"got {type(arguments).__name__} {_short(arguments)}"
            )
        try:
            values = self.model.model_validate(arguments)
        except ValidationError as exc:
            raise ArgumentsError(self._describe(exc)) from None
        given = values.model_fields_set
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param in self.params:
            if param.positional:
                args.append(getattr(values, param.field))
            elif param.always or param.field in given:
                kwargs[param.name] = getattr(values, param.field)
        return args, kwargs

    def _describe(self, exc: ValidationError) -> str:
        errors = exc.errors(include_url=False)
        names = ", ".join(p.name for p in self.params) or "(none)"
        lines = [f"Invalid arguments for tool {self.tool_name!r}:"]
        for error in errors[:_MAX_ERRORS]:
            loc = error["loc"]
            top = len(loc) == 1
            if error["type"] == "missing":
                message = "missing required argument" if top else "missing required field"
            elif error["type"] == "extra_forbidden":
                message = f"unexpected argument (accepted: {names})" if top else "unexpected field"
            else:
                message = f"{error['msg']} (got {_short(error['input'])})"
            lines.append(f"- {_location(loc)}: {message}")
        if len(errors) > _MAX_ERRORS:
            lines.append(f"- ... and {len(errors) - _MAX_ERRORS} more")
        return "\n".join(lines)


def _location(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "arguments"


def _short(value: object, limit: int = 80) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _annotated_description(annotation: object) -> str | None:
    """The description an ``Annotated[...]`` hint carries, if any."""
    if get_origin(annotation) is not Annotated:
        return None
    for meta in reversed(get_args(annotation)[1:]):
        if isinstance(meta, FieldInfo) and meta.description:
            return meta.description
        if isinstance(meta, str):
            return meta
    return None


def _signature(fn: Callable[..., Any], tool_name: str) -> inspect.Signature:
    """``fn``'s signature with string hints resolved; the return hint is not needed."""
    try:
        return inspect.signature(fn, eval_str=True)
    except Exception:
        pass  # perhaps only the return hint fails (a TYPE_CHECKING import): try per parameter
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"tool {tool_name!r}: cannot read the signature of {fn!r}") from exc
    target: Any = inspect.unwrap(fn.func if isinstance(fn, functools.partial) else fn)
    namespace = dict(getattr(target, "__globals__", {}))
    params = []
    for param in signature.parameters.values():
        if isinstance(param.annotation, str):
            try:
                param = param.replace(annotation=eval(param.annotation, namespace))
            except Exception as exc:
                raise TypeError(
                    f"tool {tool_name!r}: cannot resolve the type hint {param.annotation!r} "
                    f"of parameter {param.name!r}: {exc}"
                ) from exc
        params.append(param)
    return signature.replace(parameters=params, return_annotation=signature.empty)


def build_arguments(
    fn: Callable[..., Any], tool_name: str, param_docs: Mapping[str, str]
) -> Arguments:
    """Build the argument model and schema of ``fn``; ``TypeError`` if it can't be a tool."""
    fields: dict[str, Any] = {}
    params: list[_Param] = []
    for index, parameter in enumerate(_signature(fn, tool_name).parameters.values()):
        name = parameter.name
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            star = "*" if parameter.kind is parameter.VAR_POSITIONAL else "**"
            raise TypeError(
                f"tool {tool_name!r}: parameter {star}{name} is not supported; "
                "a tool takes a fixed set of named parameters"
            )
        if index == 0 and name in ("self", "cls"):
            raise TypeError(
                f"tool {tool_name!r}: parameter {name!r} is not supported; decorate a plain "
                "function, or pass a bound method to Tool.from_function(obj.method)"
            )
        annotation: Any = parameter.annotation
        if annotation is parameter.empty:
            annotation = Any
        default = parameter.default
        always = isinstance(default, FieldInfo)
        if always:
            # ``x: int = Field(3, description=...)``: the FieldInfo rides in the hint.
            annotation = Annotated[annotation, default]
            default = parameter.empty
        options: dict[str, Any] = {"alias": name}
        description = _annotated_description(annotation) or param_docs.get(name)
        if description:
            options["description"] = description
        if default is not parameter.empty:
            options["default"] = default
        field = f"p{index}"
        fields[field] = (annotation, Field(**options))
        positional = parameter.kind is parameter.POSITIONAL_ONLY
        params.append(_Param(name=name, field=field, positional=positional, always=always))
    try:
        model = create_model(
            f"{tool_name}_arguments",
            __config__=ConfigDict(extra="forbid"),
            **fields,
        )
        schema = inline_schema(model.model_json_schema())
    except PydanticUserError as exc:
        raise TypeError(f"tool {tool_name!r}: cannot build a JSON schema: {exc}") from exc
    return Arguments(tool_name=tool_name, model=model, params=tuple(params), schema=schema)


def inline_schema(schema: Json) -> Json:
    """Inline ``$defs`` references and drop ``title`` keywords.

    Function-calling schemas are best self-contained: some consumers don't resolve ``$ref``.
    Only recursive definitions, which can't be inlined, stay in ``$defs``. Tuples get an
    ``items`` next to their ``prefixItems``, which codex's schema subset drops.
    """
    defs: Json = schema.get("$defs", {})
    kept: Json = {}

    def walk(node: Any, active: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [walk(item, active) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        all_of = node.get("allOf")
        siblings = {k: v for k, v in node.items() if k not in ("$ref", "allOf")}
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            key = ref.removeprefix("#/$defs/")
            if key in active or key not in defs:
                if key in defs and key not in kept:
                    kept[key] = {}
                    kept[key] = walk(defs[key], active | {key})
                return {"$ref": ref, **walk(siblings, active)}
            return {**walk(defs[key], active | {key}), **walk(siblings, active)}
        if isinstance(all_of, list) and len(all_of) == 1 and ref is None:
            return {**walk(all_of[0], active), **walk(siblings, active)}
        out: Json = {}
        for key, value in node.items():
            if key == "title" or key == "$defs":
                continue
            if key in _DATA_KEYWORDS:
                out[key] = value
            elif key in _SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {name: walk(sub, active) for name, sub in value.items()}
            else:
                out[key] = walk(value, active)
        prefix = out.get("prefixItems")
        if isinstance(prefix, list) and prefix and "items" not in out:
            # A tuple: also say what its items can be, for consumers that skip prefixItems.
            kinds = [item for i, item in enumerate(prefix) if item not in prefix[:i]]
            out["items"] = kinds[0] if len(kinds) == 1 else {"anyOf": kinds}
        return out

    body = walk(schema, frozenset())
    result: Json = {"type": "object", "properties": body.get("properties", {})}
    if body.get("required"):
        result["required"] = body["required"]
    result["additionalProperties"] = body.get("additionalProperties", False)
    if kept:
        result["$defs"] = kept
    return result
