"""Write a ``CODEX_HOME`` whose ``config.toml`` sends the agent to a scripted model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codexkit._runtime.toml import toml_document

#: The provider id and model slug written into config.toml.
PROVIDER_ID = "codexkit-scripted"
MODEL = "mock-model"


def write_codex_home(
    path: str | Path,
    base_url: str,
    *,
    approval_policy: str = "never",
    sandbox_mode: str = "read-only",
    extra_config: Mapping[str, Any] | None = None,
) -> Path:
    """Create `path` with a ``config.toml`` pointing codex at `base_url`; return `path`.

    The config selects a custom Responses-API provider at `base_url` (e.g.
    ``ScriptedModel.url``) with retries off, so a scripted failure fails the turn
    at once instead of being retried. `extra_config` is merged over the generated
    settings (nested mappings become TOML tables), e.g.
    ``{"model": "gpt-5.4", "features": {"web_search": False}}``.
    Use the directory as the agent's ``CODEX_HOME``.
    """
    config: dict[str, Any] = {
        "model": MODEL,
        "model_provider": PROVIDER_ID,
        "approval_policy": approval_policy,
        "sandbox_mode": sandbox_mode,
        "model_providers": {
            PROVIDER_ID: {
                "name": "codexkit scripted model",
                "base_url": base_url,
                "wire_api": "responses",
                "request_max_retries": 0,
                "stream_max_retries": 0,
            }
        },
    }
    home = Path(path)
    home.mkdir(parents=True, exist_ok=True)
    text = toml_document(_merge(config, extra_config or {}))
    (home / "config.toml").write_text(text, encoding="utf-8")
    return home


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """`base` updated by `extra`, merging nested mappings key by key."""
    merged = dict(base)
    for key, value in extra.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge(old, value)
        else:
            merged[key] = value
    return merged
