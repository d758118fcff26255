"""A small docstring parser: the tool description and per-parameter descriptions.

Understands the three common styles:

* Google: ``Args:`` (or ``Arguments:``, ``Parameters:``, ...) with ``name (type): text``
  entries indented under it;
* NumPy: a ``Parameters`` header underlined with dashes, ``name : type`` lines followed by
  indented text;
* reST / Sphinx: ``:param name: text`` (or ``:param type name: text``) fields.

The description is the docstring without its parameter and ``Raises`` sections; other
sections (``Returns``, ``Examples``, ...) stay, as they help the model use the tool.
"""

from __future__ import annotations

import inspect
import re

__all__ = ["parse_docstring"]

_PARAM_SECTIONS = frozenset(
    {
        "args",
        "arguments",
        "parameters",
        "params",
        "keyword args",
        "keyword arguments",
        "kwargs",
        "other parameters",
        "other params",
    }
)
_DROPPED_SECTIONS = frozenset({"raises", "raise", "exceptions", "except"})
_KNOWN_SECTIONS = (
    _PARAM_SECTIONS
    | _DROPPED_SECTIONS
    | {
        "attributes",
        "example",
        "examples",
        "methods",
        "note",
        "notes",
        "receives",
        "references",
        "return",
        "returns",
        "see also",
        "todo",
        "warning",
        "warnings",
        "warns",
        "yield",
        "yields",
    }
)
_REST_PARAM_FIELDS = frozenset({"param", "parameter", "arg", "argument", "key", "keyword"})
_REST_DROPPED_FIELDS = frozenset(
    {"type", "raises", "raise", "except", "exception", "rtype", "vartype", "kwtype"}
)

_GOOGLE_HEADER = re.compile(r"^([A-Za-z][A-Za-z ]*):\s*$")
_NUMPY_RULE = re.compile(r"^-{3,}\s*$")
_GOOGLE_ENTRY = re.compile(r"^\**(\w+)\s*(?:\([^)]*\))?\s*:(.*)$")
_NUMPY_ENTRY = re.compile(r"^(\**\w+(?:\s*,\s*\**\w+)*)\s*(?::.*)?$")
_REST_FIELD = re.compile(r"^:(\w+)((?:\s+[^:]+)?):(.*)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _join(parts: list[str]) -> str:
    return " ".join(" ".join(part.split()) for part in parts if part.strip())


def _google_params(body: list[str], out: dict[str, str]) -> None:
    base = min((_indent(line) for line in body if line.strip()), default=0)
    name: str | None = None
    parts: list[str] = []
    for line in [*body, "\0"]:
        if not line.strip():
            continue
        if _indent(line) <= base:
            if name is not None:
                out.setdefault(name, _join(parts))
            match = _GOOGLE_ENTRY.match(line.strip())
            name, parts = (match.group(1), [match.group(2)]) if match else (None, [])
        elif name is not None:
            parts.append(line)


def _numpy_params(body: list[str], out: dict[str, str]) -> None:
    base = min((_indent(line) for line in body if line.strip()), default=0)
    names: list[str] = []
    parts: list[str] = []

    def flush() -> None:
        for name in names:
            out.setdefault(name, _join(parts))

    for line in body:
        if not line.strip():
            continue
        if _indent(line) == base:
            flush()
            match = _NUMPY_ENTRY.match(line.strip())
            names = [n.strip().lstrip("*") for n in match.group(1).split(",")] if match else []
            parts = []
        elif names:
            parts.append(line)
    flush()


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split ``doc`` into the tool description and ``{parameter: description}``."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    kept: list[str] = []
    params: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        header = stripped.rstrip(":").strip().lower()
        numpy = (
            header in _KNOWN_SECTIONS
            and not stripped.endswith(":")
            and i + 1 < len(lines)
            and _NUMPY_RULE.match(lines[i + 1].strip()) is not None
        )
        google = not numpy and header in _KNOWN_SECTIONS and _GOOGLE_HEADER.match(stripped)
        rest = _REST_FIELD.match(stripped) if _indent(line) == 0 else None
        if numpy or google:
            start = i + 2 if numpy else i + 1
            end = start
            while end < len(lines):
                nxt = lines[end]
                if numpy and end + 1 < len(lines) and _NUMPY_RULE.match(lines[end + 1].strip()):
                    break
                if google and nxt.strip() and _indent(nxt) <= _indent(line):
                    break
                end += 1
            body = lines[start:end]
            if header in _PARAM_SECTIONS:
                (_numpy_params if numpy else _google_params)(body, params)
            elif header not in _DROPPED_SECTIONS:
                kept.extend(lines[i:end])
            i = end
        elif rest:
            end = i + 1
            while end < len(lines) and lines[end].strip() and _indent(lines[end]) > 0:
                end += 1
            field, middle = rest.group(1).lower(), rest.group(2).split()
            if field in _REST_PARAM_FIELDS and middle:
                params.setdefault(
                    middle[-1].lstrip("*"), _join([rest.group(3), *lines[i + 1 : end]])
                )
            elif field not in _REST_PARAM_FIELDS | _REST_DROPPED_FIELDS:
                kept.extend(lines[i:end])
            i = end
        else:
            kept.append(line)
            i += 1
    description = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return description, params
