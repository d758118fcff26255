#!/usr/bin/env python3
"""Generate ``codexkit.protocol._generated`` from the pinned codex binary.

Usage::

    python scripts/generate_protocol.py [--codex-bin PATH] [--out DIR]

The script runs ``codex app-server generate-json-schema --experimental`` into a temporary
directory and writes to ``--out`` (default ``src/codexkit/protocol/_generated``):

``models_core.py``, ``models_rest.py``
    pydantic v2 models for every type reachable from the params and results of every
    request and from every notification. The types of threads, turns, items,
    notifications and server requests go to ``models_core`` so that they load without the
    rest (importing every model costs about twice as much).
``models.py``
    both of them in one namespace.
``methods.py``
    method name -> model name tables, plain strings, cheap to import.
``__init__.py``
    a docstring.

The output depends only on the schema and on this script, so a rerun gives identical
bytes; ``tests/test_protocol.py`` fails when the committed files drift.

How JSON Schema maps to Python, chosen so that a newer server does not break an older
client:

- every object is a ``ProtocolModel``: unknown fields are kept (``model_extra``), fields
  are snake_case with the wire name as validation and serialization alias;
- a string enum is ``Literal[...] | str``: the known values are documented, new ones pass;
- a union whose members share a one-value tag (``type``, ``kind``, ...) dispatches on the
  tag, and an unknown tag gives ``UnknownVariant`` instead of an error; other unions of
  objects end with ``UnknownVariant`` too;
- a union used directly as params or result becomes a ``ProtocolRootModel``.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "src" / "codexkit" / "protocol" / "_generated"
BUNDLE = "codex_app_server_protocol.schemas.json"
SCRIPT = "scripts/generate_protocol.py"

# Requests whose result type is named after neither their params type nor their method:
# the result definitions nothing else claims, paired by name (the shapes were checked
# against the server's answers where it answers without an account).
RESPONSE_OVERRIDES: dict[str, str] = {
    "account/gatewayOAuth/cancel": "GatewayOAuthCancelResponse",
    "account/gatewayOAuth/login": "GatewayOAuthLoginResponse",
    "account/gatewayOAuth/read": "GatewayOAuthReadResponse",
    "account/logout": "LogoutAccountResponse",
    "account/workspaceMessages/read": "GetWorkspaceMessagesResponse",
    "config/batchWrite": "ConfigWriteResponse",
    "config/mcpServer/reload": "McpServerRefreshResponse",
    "config/value/write": "ConfigWriteResponse",
    "externalAgentConfig/import/readHistories": "ExternalAgentConfigImportHistoriesReadResponse",
}

# Names the generated modules define or import themselves (see CORE_PRELUDE).
EMPTY_PARAMS = "EmptyParams"
UNKNOWN_VARIANT = "UnknownVariant"
PRELUDE_NAMES = ("ProtocolModel", "ProtocolRootModel", UNKNOWN_VARIANT, EMPTY_PARAMS)
IMPORTED_NAMES = frozenset(
    {
        "Annotated", "Any", "BaseModel", "ClassVar", "ConfigDict", "Discriminator", "Field",
        "Literal", "RootModel", "Tag", "TypeAlias", "Union",
    }
)  # fmt: skip

# Field names that would shadow pydantic's BaseModel API or the names used in annotations.
RESERVED_FIELDS = frozenset(
    {
        "Any", "Annotated", "Field", "Literal", "Union", "bool", "construct", "copy", "dict",
        "float", "from_orm", "int", "json", "list", "model_computed_fields", "model_config",
        "model_construct", "model_copy", "model_dump", "model_dump_json", "model_extra",
        "model_fields", "model_fields_set", "model_json_schema", "model_parametrized_name",
        "model_post_init", "model_rebuild", "model_validate", "model_validate_json",
        "model_validate_strings", "parse_file", "parse_obj", "parse_raw", "schema",
        "schema_json", "str", "update_forward_refs", "validate",
    }
)  # fmt: skip

# Client requests whose types go to ``models_core`` with every notification and server
# request (besides all of ``turn/*``): what a client of threads and turns needs.
CORE_REQUESTS = frozenset(
    {
        "initialize", "model/list", "review/start", "thread/archive", "thread/compact/start",
        "thread/fork", "thread/list", "thread/loaded/list", "thread/name/set", "thread/read",
        "thread/resume", "thread/start", "thread/unarchive", "thread/unsubscribe",
    }
)  # fmt: skip

LINE = 100


class SchemaError(Exception):
    """The schema uses a construct this generator does not handle."""


# --------------------------------------------------------------------------- input


@dataclass
class Protocol:
    version: str
    definitions: dict[str, Any]
    client_requests: dict[str, tuple[str, str | None]]
    server_requests: dict[str, tuple[str, str | None]]
    notifications: dict[str, str]
    client_notifications: dict[str, str | None]
    params_optional: list[str]


def codex_version(codex_bin: str) -> str:
    out = subprocess.run(
        [codex_bin, "--version"], check=True, capture_output=True, text=True
    ).stdout
    match = re.search(r"(\d+\.\d+\.\d+\S*)", out)
    if match is None:
        raise SchemaError(f"cannot read a version from {out!r}")
    return match.group(1)


def dump_schema(codex_bin: str, dest: Path) -> None:
    subprocess.run(
        [codex_bin, "app-server", "generate-json-schema", "--experimental", "--out", str(dest)],
        check=True,
        capture_output=True,
    )


def ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def merged_definitions(bundle: dict[str, Any]) -> dict[str, Any]:
    """Flatten the bundle's top-level and ``v2`` definitions into one namespace."""
    top = dict(bundle["definitions"])
    v2 = top.pop("v2", {})
    merged: dict[str, Any] = {}
    for name, schema in [*top.items(), *v2.items()]:
        clean = {k: v for k, v in schema.items() if k != "$schema"}
        if name in merged:
            if strip_title(merged[name]) != strip_title(clean):
                raise SchemaError(f"two different definitions named {name}")
            continue
        merged[name] = clean
    return merged


def strip_title(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "title"}


def method_variants(definitions: dict[str, Any], union: str) -> Iterator[tuple[str, Any]]:
    for variant in definitions[union]["oneOf"]:
        props = variant["properties"]
        (method,) = props["method"]["enum"]
        yield method, props.get("params")


def params_name(params: Any) -> tuple[str | None, bool]:
    """The params type's name and whether params may be omitted or null."""
    if params is None or params.get("type") == "null":
        return None, True
    if "$ref" in params:
        return ref_name(params["$ref"]), False
    refs = [m["$ref"] for m in params.get("anyOf", []) if "$ref" in m]
    if len(refs) == 1:
        return ref_name(refs[0]), True
    raise SchemaError(f"unexpected params schema {params!r}")


def pascal(text: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+", text)
    return "".join(p[:1].upper() + (p[1:].lower() if p.isupper() else p[1:]) for p in parts)


def response_name(method: str, params: str | None, definitions: dict[str, Any]) -> str | None:
    candidates = [RESPONSE_OVERRIDES.get(method, "")]
    if params and params.endswith("Params"):
        candidates.append(params.removesuffix("Params") + "Response")
    candidates.append(pascal(method) + "Response")
    for name in candidates:
        if name in definitions:
            return name
    print(f"warning: no result type found for {method!r}", file=sys.stderr)
    return None


def load_protocol(schema_dir: Path, version: str) -> Protocol:
    bundle = json.loads((schema_dir / BUNDLE).read_text(encoding="utf-8"))
    defs = merged_definitions(bundle)
    optional: list[str] = []

    def requests(union: str) -> dict[str, tuple[str, str | None]]:
        table: dict[str, tuple[str, str | None]] = {}
        for method, params in method_variants(defs, union):
            name, may_omit = params_name(params)
            if may_omit and union == "ClientRequest":
                optional.append(method)
            table[method] = (name or EMPTY_PARAMS, response_name(method, name, defs))
        return table

    client = requests("ClientRequest")
    server = requests("ServerRequest")
    notifications: dict[str, str] = {}
    for method, params in method_variants(defs, "ServerNotification"):
        name, _ = params_name(params)
        notifications[method] = name or EMPTY_PARAMS
    client_notes = {m: params_name(p)[0] for m, p in method_variants(defs, "ClientNotification")}
    used = {name for pair in [*client.values(), *server.values()] for name in pair}
    unused = sorted(n for n in defs if n.endswith("Response") and n not in used)
    if unused != ["JSONRPCResponse"]:  # a new result type: RESPONSE_OVERRIDES may need it
        print(f"warning: result types no method uses: {unused}", file=sys.stderr)
    return Protocol(version, defs, client, server, notifications, client_notes, optional)


# --------------------------------------------------------------------------- naming


def snake(name: str) -> str:
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"[^a-z0-9_]", "_", text.lower()).strip("_") or "field"
    if text[0].isdigit():
        text = "f_" + text
    if keyword.iskeyword(text) or text in RESERVED_FIELDS:
        text += "_"
    return text


def field_names(wire_names: Iterable[str]) -> dict[str, str]:
    """Python names for an object's wire names; names already snake_case keep priority."""
    wires = list(wire_names)
    order = sorted(wires, key=lambda w: snake(w) != w)  # stable: schema order otherwise
    names: dict[str, str] = {}
    for wire in order:
        name = snake(wire)
        while name in names.values():
            name += "_"
        names[wire] = name
    return {w: names[w] for w in wires}


# --------------------------------------------------------------------------- model specs


@dataclass
class FieldSpec:
    name: str
    wire: str
    annotation: str
    default: str | None  # Python source, None when required
    doc: str | None


@dataclass
class ClassSpec:
    name: str
    doc: str | None
    fields: list[FieldSpec] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # Python names of one-value tag fields
    root: str | None = None  # set for ProtocolRootModel subclasses
    late: set[str] = field(default_factory=set)  # names used before they are defined

    def uses(self) -> list[str]:
        exprs = [self.root or "", *(f.annotation for f in self.fields)]
        return [w for e in exprs for w in names_in(e)]


@dataclass
class AliasSpec:
    name: str
    doc: str | None
    expr: str
    late: set[str] = field(default_factory=set)

    def uses(self) -> list[str]:
        return names_in(self.expr)


Spec = ClassSpec | AliasSpec


def is_string_enum(schema: Any) -> bool:
    return (
        isinstance(schema, dict)
        and isinstance(schema.get("enum"), list)
        and all(isinstance(v, str) for v in schema["enum"])
        and schema.get("type", "string") == "string"
    )


def is_tag(schema: Any) -> bool:
    return is_string_enum(schema) and len(schema["enum"]) == 1


def is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def union_members(schema: dict[str, Any]) -> list[Any] | None:
    members = schema.get("oneOf", schema.get("anyOf"))
    return list(members) if isinstance(members, list) else None


def open_literal(values: Iterable[str]) -> str:
    unique = list(dict.fromkeys(values))
    return f"Literal[{', '.join(json.dumps(v) for v in unique)}] | str"


def py_literal(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(py_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, dict):
        pairs = (f"{json.dumps(k)}: {py_literal(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise SchemaError(f"cannot write {value!r} as a Python literal")


def nullable(annotation: str) -> str:
    if annotation in ("Any", "None") or annotation.endswith("| None"):
        return annotation
    return annotation + " | None"


class ModelBuilder:
    """Turns schema definitions into class and alias specs, one block per definition."""

    def __init__(self, definitions: dict[str, Any], roots: set[str]) -> None:
        self.defs = definitions
        self.roots = roots  # definitions used directly as params or result
        clash = IMPORTED_NAMES.intersection(definitions)
        if clash:
            raise SchemaError(f"definitions shadow names the models import: {sorted(clash)}")
        self.taken: set[str] = set(definitions) | set(PRELUDE_NAMES) | IMPORTED_NAMES
        self.block: list[Spec] = []

    # ---- names

    def claim(self, *candidates: str) -> str:
        for name in candidates:
            if name.isidentifier() and name not in self.taken:
                self.taken.add(name)
                return name
        base = candidates[-1]
        n = 2
        while f"{base}{n}" in self.taken:
            n += 1
        self.taken.add(f"{base}{n}")
        return f"{base}{n}"

    def variant_name(self, member: dict[str, Any], parent: str, others: list[Any]) -> str:
        title = member.get("title", "")
        props = member.get("properties", {})
        tags = [p["enum"][0] for p in props.values() if is_tag(p)]
        if tags:
            return self.claim(title, pascal(tags[0]) + parent)
        required = member.get("required", [])
        elsewhere = {r for o in others if o is not member for r in o.get("required", [])}
        unique = [r for r in required if r not in elsewhere]
        if unique:
            return self.claim(title, pascal(unique[0]) + parent)
        return self.claim(title, parent + "Variant")

    # ---- definitions

    def build(self, name: str) -> list[Spec]:
        self.block = []
        schema = self.defs[name]
        doc = schema.get("description")
        members = union_members(schema)
        if members is not None:
            expr, null = self.union(schema, members, name)
            expr = nullable(expr) if null else expr
            if name in self.roots:
                self.block.append(ClassSpec(name, doc, root=expr))
            else:
                self.block.append(AliasSpec(name, doc, expr))
        elif self.is_model(schema) or name in self.roots:
            self.block.append(self.model(name, schema, doc))
        else:
            expr, null = self.resolve(schema, name, "")
            self.block.append(AliasSpec(name, doc, nullable(expr) if null else expr))
        return self.block

    @staticmethod
    def is_model(schema: dict[str, Any]) -> bool:
        if "properties" in schema:
            return True
        return schema.get("type") == "object" and not isinstance(
            schema.get("additionalProperties"), dict
        )

    def model(
        self,
        name: str,
        schema: dict[str, Any],
        doc: str | None,
        common: dict[str, Any] | None = None,
    ) -> ClassSpec:
        props: dict[str, Any] = {
            **(common or {}).get("properties", {}),
            **schema.get("properties", {}),
        }
        required = {*(common or {}).get("required", []), *schema.get("required", [])}
        spec = ClassSpec(name, doc)
        names = field_names(props)
        for wire, prop in props.items():
            prop = prop if isinstance(prop, dict) else {}
            fdoc = prop.get("description")
            if is_tag(prop):
                value = json.dumps(prop["enum"][0])
                spec.fields.append(FieldSpec(names[wire], wire, f"Literal[{value}]", value, fdoc))
                spec.tags.append(names[wire])
                continue
            annotation, null = self.resolve(prop, name, wire)
            default: str | None = None
            if "default" in prop and prop["default"] is not None:
                default = py_literal(prop["default"])
            elif wire not in required:
                default, null = "None", True
            annotation = nullable(annotation) if null else annotation
            spec.fields.append(FieldSpec(names[wire], wire, annotation, default, fdoc))
        return spec

    # ---- type expressions

    def resolve(self, schema: Any, owner: str, hint: str) -> tuple[str, bool]:
        """A type expression for ``schema`` and whether it admits null."""
        if not isinstance(schema, dict) or not schema:
            return "Any", False
        if "$ref" in schema:
            return ref_name(schema["$ref"]), False
        if "allOf" in schema:
            parts = schema["allOf"]
            if len(parts) != 1:
                raise SchemaError(f"allOf with {len(parts)} members in {owner}.{hint}")
            return self.resolve(parts[0], owner, hint)
        members = union_members(schema)
        if members is not None:
            return self.union(schema, members, owner + pascal(hint), hoist=True)
        if is_string_enum(schema):
            return open_literal(schema["enum"]), False
        kind = schema.get("type")
        if isinstance(kind, list):
            null = "null" in kind
            parts = [
                self.resolve({**schema, "type": k}, owner, hint)[0] for k in kind if k != "null"
            ]
            return " | ".join(parts) or "None", null
        scalar = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
        if kind in scalar:
            return scalar[kind], False
        if kind == "null":
            return "None", True
        if kind == "array":
            item, null = self.resolve(schema.get("items"), owner, hint + "Item")
            return f"list[{nullable(item) if null else item}]", False
        if kind == "object" or "properties" in schema:
            if schema.get("properties"):
                name = self.claim(schema.get("title", ""), owner + pascal(hint))
                self.block.append(self.model(name, schema, schema.get("description")))
                return name, False
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                value, null = self.resolve(extra, owner, hint + "Value")
                return f"dict[str, {nullable(value) if null else value}]", False
            return "dict[str, Any]", False
        return "Any", False

    def target(self, member: Any) -> dict[str, Any]:
        """The object schema a union member stands for (following one ``$ref``)."""
        if isinstance(member, dict) and "$ref" in member:
            return dict(self.defs.get(ref_name(member["$ref"]), {}))
        return member if isinstance(member, dict) else {}

    def object_like(self, member: Any) -> bool:
        """Whether a union member validates from a JSON object into a model."""
        shape = self.target(member)
        members = union_members(shape)
        if members is not None:
            return any(self.object_like(m) for m in members)
        return self.is_model(shape)

    def common_tag(self, members: list[Any], common: dict[str, Any]) -> str | None:
        """The property every member fixes to a distinct single value, if there is one."""
        shapes = [self.target(m) for m in members]
        if not shapes or any("properties" not in s for s in shapes):
            return None
        for key, prop in shapes[0]["properties"].items():
            values = [s["properties"].get(key) for s in shapes]
            distinct = {v["enum"][0] for v in values if is_tag(v)}
            if (
                is_tag(prop)
                and len(distinct) == len(values)
                and key not in common.get("properties", {})
            ):
                return str(key)
        return None

    def union(
        self, schema: dict[str, Any], members: list[Any], parent: str, hoist: bool = False
    ) -> tuple[str, bool]:
        """A union's type expression; with ``hoist`` a tagged union becomes a named alias."""
        null = any(is_null(m) for m in members)
        members = [m for m in members if not is_null(m)]
        common: dict[str, Any] = {k: schema[k] for k in ("properties", "required") if k in schema}
        if members and all(is_string_enum(m) for m in members):
            return open_literal(v for m in members for v in m["enum"]), null
        if len(members) == 1 and not common:  # a nullable type, not a real union
            expr, member_null = self.resolve(members[0], parent, "")
            return expr, null or member_null
        tag = self.common_tag(members, common)
        if tag is not None:
            expr = self.tagged_union(members, parent, tag, common)
            if hoist:
                name = self.claim(parent)
                self.block.append(AliasSpec(name, schema.get("description"), expr))
                expr = name
            return expr, null
        parts: list[str] = []
        literals: list[str] = []
        for member in members:
            if is_string_enum(member):
                literals.extend(member["enum"])
                continue
            if isinstance(member, dict) and member.get("properties"):
                name = self.variant_name(member, parent, members)
                self.block.append(self.model(name, member, member.get("description"), common))
                expr, member_null = name, False
            else:
                expr, member_null = self.resolve(member, parent, "")
            null = null or member_null
            parts.extend(split_union(expr))
        if literals:
            parts[:0] = split_union(open_literal(literals))
        catch_all = any(p.startswith("dict[") or p == "Any" for p in parts)
        if any(self.object_like(m) for m in members) and not catch_all:
            parts.append(UNKNOWN_VARIANT)
        return " | ".join(dict.fromkeys(parts)), null

    def tagged_union(
        self, members: list[Any], parent: str, tag: str, common: dict[str, Any]
    ) -> str:
        choices: list[str] = []
        values: list[str] = []
        for member in members:
            shape = self.target(member)
            values.append(json.dumps(shape["properties"][tag]["enum"][0]))
            if "$ref" in member:
                choices.append(ref_name(member["$ref"]))
                continue
            name = self.variant_name(member, parent, members)
            self.block.append(self.model(name, member, member.get("description"), common))
            choices.append(name)
        attr = snake(tag)  # every member names the tag field the same way
        tagged = [f"Annotated[{n}, Tag({v})]" for n, v in zip(choices, values, strict=True)]
        tagged.append(f"Annotated[{UNKNOWN_VARIANT}, Tag(_UNKNOWN_TAG)]")
        picker = f"_tagged({json.dumps(tag)}, {json.dumps(attr)}, {', '.join(values)})"
        return "Annotated[Union[" + ", ".join(tagged) + "], " + picker + "]"


def reachable(definitions: dict[str, Any], roots: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    stack = [r for r in roots if r in definitions]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        text = json.dumps(definitions[name])
        stack.extend(ref_name(r) for r in re.findall(r'"\$ref": "([^"]+)"', text))
    return seen


def names_in(expr: str) -> list[str]:
    """Identifiers in a type expression, leaving out string literals."""
    return re.findall(r"[A-Za-z_][A-Za-z0-9_]*", re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr))


def ordered(blocks: list[list[Spec]]) -> list[Spec]:
    """Specs in block order, moved so that each follows the names it uses.

    Annotations are evaluated when a class is created (no ``from __future__ import
    annotations``: evaluating hundreds of strings later is slow), so a name must exist
    before it is used. References that close a cycle are recorded in ``late`` and written
    as strings, which pydantic resolves on first use.
    """
    specs = [s for block in blocks for s in block]
    by_name = {s.name: s for s in specs}
    out: list[Spec] = []
    done: set[str] = set()
    active: set[str] = set()

    def visit(spec: Spec) -> None:
        active.add(spec.name)
        for word in dict.fromkeys(spec.uses()):
            if word == spec.name or word in active:
                if isinstance(spec, AliasSpec):
                    raise SchemaError(f"type alias {spec.name} is part of a cycle")
                spec.late.add(word)
            elif word in by_name and word not in done:
                visit(by_name[word])
        active.discard(spec.name)
        done.add(spec.name)
        out.append(spec)

    for spec in specs:
        if spec.name not in done:
            visit(spec)
    return out


# --------------------------------------------------------------------------- rendering

HEADER = (
    "# Generated by {script} from codex {version} "
    "(`codex app-server generate-json-schema --experimental`).\n"
    "# Do not edit: rerun the script instead.\n"
)

MODELS_DOC = '''\
"""Pydantic models of the codex app-server protocol (codex {version}).

Every object model keeps fields it does not know in ``model_extra``, takes snake_case or
wire (camelCase) names, and dumps wire names with ``by_alias=True``. String enums are
``Literal[...] | str`` and tagged unions fall back to ``UnknownVariant``, so payloads from a
newer server still validate.

The models live in two modules so that the common ones load alone: ``models_core`` (threads,
turns, items, every notification and server request) and ``models_rest`` (the rest).
"""
'''

CORE_PRELUDE = '''\
"""Protocol models for threads, turns, items, notifications and server requests.

Part of ``models`` (see there); loading this module alone is about half the cost.
"""

from typing import Annotated, Any, ClassVar, Literal, TypeAlias, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, RootModel, Tag

_UNKNOWN_TAG = "__unknown__"


class ProtocolModel(BaseModel):
    """Base of every protocol object."""

    model_config = ConfigDict(
        extra="allow", populate_by_name=True, defer_build=True, protected_namespaces=()
    )

    # One-value tag fields ("type", ...). They have defaults, yet belong in every dump, even
    # with exclude_unset=True: the server needs them to tell union members apart.
    __wire_tags__: ClassVar[tuple[str, ...]] = ()

    def model_post_init(self, context: Any, /) -> None:
        if self.__wire_tags__:
            self.model_fields_set.update(self.__wire_tags__)


class ProtocolRootModel(RootModel[Any]):
    """Base of the params and results that are a union rather than an object."""

    model_config = ConfigDict(defer_build=True)


class UnknownVariant(ProtocolModel):
    """A union member this version does not know; all its data is in ``model_extra``."""


class EmptyParams(ProtocolModel):
    """Params of a method that takes none: sent as ``{{}}``."""


def _tagged(wire: str, attr: str, *known: str) -> Any:
    """Dispatch a tagged union on ``wire`` (``attr`` on instances); unknown tags fall back."""
    tags = frozenset(known)

    def pick(value: Any) -> str:
        if isinstance(value, dict):
            tag = value.get(wire, value.get(attr))
        else:
            tag = getattr(value, attr, None)
        return tag if isinstance(tag, str) and tag in tags else _UNKNOWN_TAG

    return Discriminator(pick)
'''

REST_PRELUDE = '''\
"""Protocol models of the less common requests (config, plugins, apps, MCP, files, ...).

Part of ``models`` (see there); it builds on ``models_core``.
"""

from typing import Annotated, Any, Literal, TypeAlias, Union

from pydantic import Field, Tag

from .models_core import *
from .models_core import _UNKNOWN_TAG, _tagged
'''


def docstring(text: str, indent: str) -> str:
    body = text.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if body.endswith('"'):
        body = body[:-1] + '\\"'
    lines = body.splitlines()
    if len(lines) == 1:
        return f'{indent}"""{body}"""\n'
    rest = "".join(f"{indent}{line}\n".rstrip(" ") if line.strip() else "\n" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{rest}{indent}"""\n'


def split_top(text: str, sep: str) -> list[str]:
    """Split ``text`` at ``sep`` characters that are not inside brackets or parentheses."""
    parts: list[str] = []
    depth = start = 0
    for i, ch in enumerate(text):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def split_union(expr: str) -> list[str]:
    return split_top(expr, "|")


def wrap(expr: str, indent: str) -> str:
    """Lay a long type expression out over several lines."""
    inner = indent + "    "
    members = split_union(expr)
    tagged = re.fullmatch(r"Annotated\[Union\[(.*)\], (_tagged\(.*\))\]", members[0])
    if tagged:
        body = "".join(f"{inner}    {m},\n" for m in split_top(tagged.group(1), ","))
        text = f"Annotated[\n{inner}Union[\n{body}{inner}],\n{inner}{tagged.group(2)},\n{indent}]"
        return text + "".join(f" | {m}" for m in members[1:])
    if len(members) == 1:
        return expr
    lines = [wrap_literal(m, inner) for m in members]
    return "Union[\n" + "".join(f"{inner}{m},\n" for m in lines) + f"{indent}]"


def wrap_literal(expr: str, indent: str) -> str:
    """One value per line for a ``Literal[...]`` too long for one line."""
    if len(indent) + len(expr) < LINE or not expr.startswith("Literal["):
        return expr
    values = "".join(f"{indent}    {v},\n" for v in split_top(expr[len("Literal[") : -1], ","))
    return f"Literal[\n{values}{indent}]"


def annotation(expr: str, late: set[str]) -> str:
    """``expr``, quoted when it names a class defined further down."""
    return repr(expr) if late.intersection(names_in(expr)) else expr


def render_field(spec: FieldSpec, late: set[str]) -> str:
    head = f"    {spec.name}: {annotation(spec.annotation, late)}"
    if spec.name == spec.wire:
        line = head + ("" if spec.default is None else f" = {spec.default}") + "\n"
    else:
        wire = json.dumps(spec.wire)
        # default= by keyword: type checkers read a positional default as no default
        args = [] if spec.default is None else [f"default={spec.default}"]
        args += [f"validation_alias={wire}", f"serialization_alias={wire}"]
        line = f"{head} = Field({', '.join(args)})\n"
        if len(line) > LINE + 1:
            line = f"{head} = Field(\n" + "".join(f"        {a},\n" for a in args) + "    )\n"
    return line + (docstring(spec.doc, "    ") if spec.doc else "")


def render_class(spec: ClassSpec) -> str:
    base = "ProtocolModel" if spec.root is None else "ProtocolRootModel"
    sections: list[str] = []
    if spec.doc:
        sections.append(docstring(spec.doc, "    "))
    if spec.tags:
        sections.append(f"    __wire_tags__ = {py_literal(tuple(spec.tags))}\n")
    if spec.root is not None:
        root = annotation(spec.root, spec.late)
        line = f"    root: {root}\n"
        if len(line) > LINE + 1 and root == spec.root:
            line = f"    root: {wrap(spec.root, '    ')}\n"
        sections.append(line)
    fields = [render_field(f, spec.late) for f in spec.fields]
    if any(f.doc for f in spec.fields):
        sections.extend(fields)  # documented fields read better apart
    elif fields:
        sections.append("".join(fields))
    return f"class {spec.name}({base}):\n" + ("\n".join(sections) or "    pass\n")


def render_alias(spec: AliasSpec) -> str:
    line = f"{spec.name}: TypeAlias = {spec.expr}\n"
    if len(line) > LINE + 1:
        line = f"{spec.name}: TypeAlias = {wrap(spec.expr, '')}\n"
    return line + (docstring(spec.doc, "") if spec.doc else "")


def method_roots(protocol: Protocol, methods: Iterable[str] | None = None) -> set[str]:
    """Definitions used directly as params or results (of ``methods``, or of every method)."""
    requests = {**protocol.client_requests, **protocol.server_requests}
    chosen = requests if methods is None else {m: requests[m] for m in methods}
    roots = {n for pair in chosen.values() for n in pair if n}
    roots.update(protocol.notifications.values())
    roots.discard(EMPTY_PARAMS)
    return roots


def core_methods(protocol: Protocol) -> list[str]:
    client = [m for m in protocol.client_requests if m in CORE_REQUESTS or m.startswith("turn/")]
    return [*client, *protocol.server_requests]


def render_module(head: str, specs: list[Spec], names: list[str]) -> str:
    body = "".join(
        "\n\n" + (render_class(s) if isinstance(s, ClassSpec) else render_alias(s)) for s in specs
    )
    listing = "".join(f'    "{n}",\n' for n in names)
    return f"{head}\n\n__all__ = [\n{listing}]\n{body}"


def render_models(protocol: Protocol) -> tuple[dict[str, str], dict[str, str]]:
    """The model modules, and the module of every public name."""
    defs = protocol.definitions
    builder = ModelBuilder(defs, method_roots(protocol))
    core = reachable(defs, method_roots(protocol, core_methods(protocol)))
    blocks = {name: builder.build(name) for name in sorted(reachable(defs, builder.roots))}
    core_specs = ordered([b for name, b in blocks.items() if name in core])
    rest_specs = ordered([b for name, b in blocks.items() if name not in core])
    core_names = [*PRELUDE_NAMES, *(s.name for s in core_specs)]
    rest_names = [s.name for s in rest_specs]
    header = HEADER.format(script=SCRIPT, version=protocol.version)
    listing = "".join(f'    "{n}",\n' for n in [*core_names, *rest_names])
    files = {
        "models_core.py": render_module(header + CORE_PRELUDE, core_specs, core_names),
        "models_rest.py": render_module(header + REST_PRELUDE, rest_specs, rest_names),
        "models.py": header
        + MODELS_DOC.format(version=protocol.version)
        + "\nfrom .models_core import *\nfrom .models_rest import *\n"
        + f"\n__all__ = [\n{listing}]\n",
    }
    modules = {n: "models_core" for n in core_names} | {n: "models_rest" for n in rest_names}
    return files, modules


def render_table(name: str, annotation: str, table: dict[str, Any]) -> str:
    rows = "".join(f"    {py_literal(key)}: {py_literal(value)},\n" for key, value in table.items())
    return f"{name}: {annotation} = {{\n{rows}}}\n"


def render_literal(name: str, table: dict[str, Any]) -> str:
    rows = "".join(f"    {py_literal(key)},\n" for key in table)
    return f"{name} = Literal[\n{rows}]\n"


def render_methods(protocol: Protocol, modules: dict[str, str]) -> str:
    pair = "dict[str, tuple[str, str | None]]"
    optional = "".join(f"        {json.dumps(m)},\n" for m in protocol.params_optional)
    return "".join(
        [
            HEADER.format(script=SCRIPT, version=protocol.version),
            f'"""Method tables of the codex app-server protocol (codex {protocol.version}).\n\n'
            "Plain strings only, so importing this module costs next to nothing. Model names\n"
            'are classes of ``models``.\n"""\n\n'
            "from __future__ import annotations\n\n"
            "from typing import Literal\n\n",
            f'SCHEMA_VERSION = "{protocol.version}"\n',
            '"""Version of the codex binary the schema came from."""\n\n',
            "# client -> server requests: method -> (params model, result model)\n",
            render_table("CLIENT_REQUESTS", pair, protocol.client_requests),
            "\n# the name of every client -> server request, for type checkers\n",
            render_literal("ClientMethod", protocol.client_requests),
            "\n# server -> client requests: method -> (params model, result model)\n",
            render_table("SERVER_REQUESTS", pair, protocol.server_requests),
            "\n# server -> client notifications: method -> params model\n",
            render_table("NOTIFICATIONS", "dict[str, str]", protocol.notifications),
            "\n# client -> server notifications: method -> params model (None: no params)\n",
            render_table(
                "CLIENT_NOTIFICATIONS", "dict[str, str | None]", protocol.client_notifications
            ),
            "\n# client requests whose params may be left out (sending {} works too)\n",
            f"PARAMS_OPTIONAL: frozenset[str] = frozenset(\n    {{\n{optional}    }}\n)\n",
            "\n# every public name of ``models`` -> the module under ``_generated`` defining it\n",
            render_table("MODEL_MODULES", "dict[str, str]", modules),
        ]
    )


def render_package(protocol: Protocol) -> str:
    return HEADER.format(script=SCRIPT, version=protocol.version) + (
        f'"""Generated protocol code for codex {protocol.version}.\n\n'
        f"Regenerate with ``python {SCRIPT}``; do not edit by hand. Import it through\n"
        ':mod:`codexkit.protocol`.\n"""\n'
    )


def render(protocol: Protocol) -> dict[str, str]:
    models, modules = render_models(protocol)
    return {
        "__init__.py": render_package(protocol),
        "methods.py": render_methods(protocol, modules),
        **models,
    }


# --------------------------------------------------------------------------- main


def bundled_codex() -> str:
    from codex_cli_bin import bundled_codex_path

    return str(bundled_codex_path())


def generate(codex_bin: str, out: Path) -> dict[str, str]:
    version = codex_version(codex_bin)
    with tempfile.TemporaryDirectory(prefix="codex-schema-") as tmp:
        dump_schema(codex_bin, Path(tmp))
        files = render(load_protocol(Path(tmp), version))
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.py"):  # modules an earlier layout generated
        if stale.name not in files and stale.read_text(encoding="utf-8").startswith("# Generated"):
            stale.unlink()
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8", newline="\n")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--codex-bin", help="codex binary (default: the pinned bundled one)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    files = generate(args.codex_bin or bundled_codex(), args.out)
    took = time.perf_counter() - start
    sizes = ", ".join(f"{name} {len(text.encode()) // 1024} KiB" for name, text in files.items())
    print(f"wrote {args.out} ({sizes}) in {took:.2f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
