"""Where a manager client connects: base URL, API prefix, timeout, headers and token.

Three sources, as codex-manager's client has them: the CLI profile that ``codexkit
serve`` writes (``$XDG_CONFIG_HOME/codex-manager/cli/config.json``, else
``~/.config/...``), ``CODEX_MANAGER_*`` variables (each with a ``CODEXKIT_MANAGER_*``
twin that wins), and the default ``http://127.0.0.1:3001``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_BASE_URL", "ManagerConfig", "profile_path"]

DEFAULT_BASE_URL = "http://127.0.0.1:3001"
DEFAULT_PREFIX = "/api"
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class ManagerConfig:
    """How to reach one control plane. ``timeout`` is in seconds."""

    base_url: str = DEFAULT_BASE_URL
    api_prefix: str = DEFAULT_PREFIX
    timeout: float = DEFAULT_TIMEOUT
    headers: Mapping[str, str] = field(default_factory=dict)
    bearer_token: str | None = None
    #: The websocket's URL when it is not ``/stream`` under the API (a separate proxy).
    websocket_url: str | None = None

    @property
    def api_url(self) -> str:
        return self.base_url.rstrip("/") + "/" + self.api_prefix.strip("/")

    @property
    def stream_url(self) -> str:
        """The websocket ``/stream`` URL (``ws``/``wss`` after ``http``/``https``)."""
        if self.websocket_url:
            return self.websocket_url
        url = self.api_url + "/stream"
        return "ws" + url[4:] if url.startswith("http") else url

    def with_overrides(self, **changes: Any) -> ManagerConfig:
        """A copy with the given fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_profile(
        cls, name: str | None = None, *, env: Mapping[str, str] | None = None
    ) -> ManagerConfig:
        """The named CLI profile (``None``: the file's ``currentProfile``).

        Raises ``FileNotFoundError`` when there is no profile file and ``KeyError`` when
        the file has no such profile.
        """
        path = profile_path(env)
        data = json.loads(path.read_text())
        profiles = data.get("profiles") if isinstance(data, dict) else None
        chosen = name or (data.get("currentProfile") if isinstance(data, dict) else None)
        if not isinstance(profiles, dict) or not isinstance(profiles.get(chosen), dict):
            raise KeyError(f"{path} has no profile {chosen!r}")
        return cls._from_profile_dict(profiles[chosen])

    @classmethod
    def _from_profile_dict(cls, profile: dict[str, Any]) -> ManagerConfig:
        auth = profile.get("auth")
        bearer = auth.get("bearer") if isinstance(auth, dict) else None
        headers = profile.get("headers")
        timeout_ms = profile.get("timeoutMs")
        return cls(
            base_url=str(profile.get("baseUrl") or DEFAULT_BASE_URL),
            api_prefix=str(profile.get("apiPrefix") or DEFAULT_PREFIX),
            timeout=timeout_ms / 1000 if isinstance(timeout_ms, (int, float)) else DEFAULT_TIMEOUT,
            headers={str(k): str(v) for k, v in headers.items()}
            if isinstance(headers, dict)
            else {},
            bearer_token=bearer if isinstance(bearer, str) and bearer else None,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ManagerConfig:
        """``CODEX_MANAGER_API_BASE``, ``_API_PREFIX``, ``_TIMEOUT_MS``, ``_BEARER_TOKEN``
        (``CODEXKIT_MANAGER_*`` twins win); what is unset keeps the default."""
        env = os.environ if env is None else env

        def read(suffix: str) -> str | None:
            return env.get("CODEXKIT_MANAGER_" + suffix) or env.get("CODEX_MANAGER_" + suffix)

        timeout_ms = read("TIMEOUT_MS")
        return cls(
            base_url=read("API_BASE") or DEFAULT_BASE_URL,
            api_prefix=read("API_PREFIX") or DEFAULT_PREFIX,
            timeout=float(timeout_ms) / 1000 if timeout_ms else DEFAULT_TIMEOUT,
            bearer_token=read("BEARER_TOKEN") or None,
        )

    @classmethod
    def default(cls, env: Mapping[str, str] | None = None) -> ManagerConfig:
        """The ``local`` profile when it exists (so a bare ``CodexManager()`` reaches a
        ``codexkit serve`` with its token), else ``127.0.0.1:3001``."""
        try:
            return cls.from_profile("local", env=env)
        except (OSError, KeyError, ValueError):
            return cls()


def profile_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/codex-manager/cli/config.json`` (else under ``~/.config``)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or os.path.join(
        env.get("HOME") or os.path.expanduser("~"), ".config"
    )
    return Path(base) / "codex-manager" / "cli" / "config.json"
