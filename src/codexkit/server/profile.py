"""The codex-manager CLI profile: where its clients find this server and its token.

``CodexManager.from_profile("local")`` (codex-manager's Python client, and codexkit's)
reads ``$XDG_CONFIG_HOME/codex-manager/cli/config.json`` (else ``~/.config/...``). On
start the server writes its base URL and token into the ``local`` profile there, and
changes nothing else in the file.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["PROFILE_NAME", "merge_local_profile", "profile_path"]

log = logging.getLogger("codexkit.server")

PROFILE_NAME = "local"


def profile_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or os.path.join(
        env.get("HOME") or os.path.expanduser("~"), ".config"
    )
    return Path(base) / "codex-manager" / "cli" / "config.json"


def _new_profile(base_url: str) -> dict[str, Any]:
    return {"baseUrl": base_url, "apiPrefix": "/api", "timeoutMs": 30000, "headers": {}}


def merge_local_profile(base_url: str, token: str, *, env: Mapping[str, str] | None = None) -> Path:
    """Set the ``local`` profile's ``baseUrl`` and ``auth.bearer``; keep everything else.

    A missing file (or profile) is made with codex-manager's defaults. A file that is not
    a JSON object is left alone: ``ValueError`` says where. The file is replaced in one
    step and is readable by its owner only (it holds the token).
    """
    path = profile_path(env)
    data: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text() or "{}")
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error}); not changing it") from error
        if not isinstance(loaded, dict):
            raise ValueError(f"{path} does not hold a JSON object; not changing it")
        data = loaded
    data.setdefault("currentProfile", PROFILE_NAME)
    profiles = data.setdefault("profiles", {})
    if not isinstance(profiles, dict):
        raise ValueError(f"{path}: 'profiles' is not an object; not changing it")
    local = profiles.setdefault(PROFILE_NAME, _new_profile(base_url))
    if not isinstance(local, dict):
        raise ValueError(f"{path}: profile '{PROFILE_NAME}' is not an object; not changing it")
    local["baseUrl"] = base_url
    auth = local.get("auth")
    local["auth"] = {**(auth if isinstance(auth, dict) else {}), "bearer": token}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=".config.", suffix=".tmp", delete=False
    ) as out:
        json.dump(data, out, indent=2)
        out.write("\n")
    os.chmod(out.name, 0o600)
    os.replace(out.name, path)
    return path
