"""Turning a nested ``config`` dict into ``-c key=value`` overrides with TOML values."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["config_overrides", "flatten_config", "toml_value"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def config_overrides(config: Mapping[str, Any] | None) -> list[str]:
    """Flatten ``config`` into command-line arguments: ``["-c", "a.b=1", ...]``.

    Nested mappings become dotted keys, so ``{"features": {"x": True}}`` only sets
    ``features.x`` and leaves the rest of ``features`` as configured.
    """
    args: list[str] = []
    for key, value in flatten_config(config or {}).items():
        args += ["-c", f"{key}={toml_value(value)}"]
    return args


def flatten_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``: settings as dotted keys, as codex takes them."""
    return dict(_flatten(config, ()))


def _flatten(mapping: Mapping[str, Any], prefix: tuple[str, ...]) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"config keys must be non-empty strings, got {key!r}")
        path = (*prefix, key)
        if isinstance(value, Mapping) and value:
            pairs += _flatten(value, path)
        else:
            pairs.append((".".join(_toml_key(part) for part in path), value))
    return pairs


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def toml_value(value: Any) -> str:
    """Render one Python value as a TOML value (inline tables for nested mappings)."""
    if isinstance(value, bool):
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
        # JSON's escapes (\" \\ \n \t \uXXXX ...) are all valid in a TOML basic string.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_toml_key(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{" + inner + "}" if inner else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot express {type(value).__name__} as a TOML value: {value!r}")
