"""Turning a nested ``config`` dict into ``-c key=value`` overrides with TOML values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .toml import toml_key, toml_value

__all__ = ["config_overrides", "flatten_config"]


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
            pairs.append((".".join(toml_key(part) for part in path), value))
    return pairs
