"""Load replies from a JSON script file (``python -m codexkit.testing --script``).

A script is a JSON list; each entry is one reply::

    [
      {"text": "Hello"},
      {"shell": "echo hi", "match": "run it"},
      {"tool": "add", "arguments": {"a": 1}},
      {"json": {"answer": 42}},
      {"fail": "boom", "code": "server_error"},
      {"stall": 5},
      [{"text": "Let me check."}, {"shell": "ls"}]
    ]

A nested list combines its entries into one reply. Options per kind: ``text``
takes ``chunks``; ``shell`` takes ``call_id``, ``workdir``, ``escalate``,
``justification``; ``tool`` takes ``arguments``, ``call_id``, ``namespace``;
``fail`` takes ``code``. Every entry may carry ``match`` (a substring of the
user's latest message) and ``usage`` (``[input_tokens, output_tokens]``).
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from codexkit.testing._replies import Reply, failure, json_reply, shell, stall, text, tool_call

_T = TypeVar("_T")
_Entry = dict[str, Any]


def load_script(path: str | Path) -> list[Reply]:
    """Read the replies of the JSON script at `path`, in order.

    Raises `ValueError` naming the bad entry's index when the file is malformed.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, list):
        raise ValueError(f"{path}: a script must be a JSON list of replies")
    return [_reply(entry, f"{path}: entry {index}") for index, entry in enumerate(data)]


def _reply(entry: object, where: str) -> Reply:
    """The reply for one entry; `where` names it in error messages."""
    if isinstance(entry, list):
        if not entry:
            raise ValueError(f"{where}: an empty list is not a reply")
        parts = [_reply(part, f"{where}[{i}]") for i, part in enumerate(entry)]
        try:
            return functools.reduce(operator.add, parts)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from exc
    if not isinstance(entry, dict):
        raise ValueError(f'{where}: expected an object like {{"text": "..."}}')
    try:
        return _from_object(entry)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc


def _from_object(entry: _Entry) -> Reply:
    kinds = [kind for kind in _BUILDERS if kind in entry]
    if len(kinds) != 1:
        raise ValueError(f"needs exactly one of {', '.join(_BUILDERS)}; got {sorted(entry)}")
    build, options = _BUILDERS[kinds[0]]
    unknown = set(entry) - {kinds[0], "match", "usage", *options}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} for a {kinds[0]!r} entry")
    reply = build(entry)
    usage = _get(entry, "usage", list)
    if usage is not None:
        if len(usage) != 2 or not all(type(n) is int for n in usage):
            raise ValueError("'usage' must be [input_tokens, output_tokens]")
        reply = reply.with_usage(*usage)
    return reply.matching(_get(entry, "match", str))


def _get(entry: _Entry, key: str, kind: type[_T]) -> _T | None:
    """`entry[key]` checked to be a `kind`, or None when absent."""
    value = entry.get(key)
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"{key!r} must be a {kind.__name__}, not {type(value).__name__}")
    return value


def _need(entry: _Entry, key: str, kind: type[_T]) -> _T:
    value = _get(entry, key, kind)
    if value is None:
        raise TypeError(f"{key!r} must be a {kind.__name__}")
    return value


def _text(entry: _Entry) -> Reply:
    return text(_need(entry, "text", str), chunks=_get(entry, "chunks", int))


def _shell(entry: _Entry) -> Reply:
    return shell(
        _need(entry, "shell", str),
        call_id=_get(entry, "call_id", str),
        workdir=_get(entry, "workdir", str),
        escalate=_get(entry, "escalate", bool) or False,
        justification=_get(entry, "justification", str),
    )


def _tool(entry: _Entry) -> Reply:
    return tool_call(
        _need(entry, "tool", str),
        _get(entry, "arguments", dict) or {},
        call_id=_get(entry, "call_id", str),
        namespace=_get(entry, "namespace", str),
    )


def _fail(entry: _Entry) -> Reply:
    return failure(_need(entry, "fail", str), code=_get(entry, "code", str) or "server_error")


def _stall(entry: _Entry) -> Reply:
    seconds = entry["stall"]
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int | float)):
        raise TypeError("'stall' must be a number of seconds or null")
    return stall(seconds)


#: Entry kind -> (builder, the options it accepts besides match and usage).
_BUILDERS: dict[str, tuple[Callable[[_Entry], Reply], tuple[str, ...]]] = {
    "text": (_text, ("chunks",)),
    "shell": (_shell, ("call_id", "workdir", "escalate", "justification")),
    "tool": (_tool, ("arguments", "call_id", "namespace")),
    "json": (lambda entry: json_reply(entry["json"]), ()),
    "fail": (_fail, ("code",)),
    "stall": (_stall, ()),
}
