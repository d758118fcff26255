"""Writing TOML: the values of ``-c key=value`` overrides and whole ``config.toml`` files."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["toml_document", "toml_key", "toml_value"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_key(key: str) -> str:
    """A key, quoted when it is not a bare key."""
    return key if _BARE_KEY.fullmatch(key) else toml_value(key)


def toml_value(value: Any) -> str:
    """One Python value as a TOML value (mappings as inline tables)."""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        # JSON's escapes are TOML basic-string escapes; TOML also wants DEL escaped and
        # cannot hold surrogate pairs (hence ensure_ascii=False).
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, Mapping):
        inner = ", ".join(f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{" + inner + "}" if inner else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if value is None:
        raise ValueError("TOML has no null: leave the key out instead")
    raise TypeError(f"cannot express {type(value).__name__} as a TOML value: {value!r}")


def toml_document(table: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> str:
    """A TOML document: plain values first, then one ``[section]`` per nested mapping."""
    lines = [
        f"{toml_key(str(k))} = {toml_value(v)}"
        for k, v in table.items()
        if not isinstance(v, Mapping)
    ]
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, value in table.items():
        if isinstance(value, Mapping):
            path = (*prefix, str(key))
            out += f"\n[{'.'.join(map(toml_key, path))}]\n" + toml_document(value, path)
    return out
