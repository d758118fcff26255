"""Checks and translations of what clients send: dynamic tools, controls as thread
parameters, transcript entries, session directories."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from ...errors import InvalidArgumentError
from ...options import check_directory
from .errors import Invalid

__all__ = ["entry_fields", "session_directory", "thread_params", "tool_specs", "wire_policy"]

Json = dict[str, Any]
#: What the model's API takes as a function name (codex refuses others at thread start).
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def tool_specs(tools: Any) -> list[Json] | None:
    """The contract's ``dynamicTools`` as ``thread/start`` takes them."""
    if tools is None:
        return None
    if not isinstance(tools, list) or len(tools) > 128:
        raise Invalid(
            "dynamicTools must be a list of at most 128 tools", issues=[{"path": ["dynamicTools"]}]
        )
    specs = []
    for index, tool in enumerate(tools):
        if not (
            isinstance(tool, dict)
            and isinstance(tool.get("name"), str)
            and _TOOL_NAME.fullmatch(tool["name"])
            and isinstance(tool.get("inputSchema"), dict)
        ):
            raise Invalid(
                "each dynamic tool needs a name (letters, digits, _ and -), a description "
                "and an inputSchema object",
                issues=[{"path": ["dynamicTools", index]}],
            )
        specs.append(
            {
                "type": "function",
                "name": tool["name"],
                "description": str(tool.get("description", "")),
                "inputSchema": tool["inputSchema"],
            }
        )
    return specs


def wire_policy(policy: str) -> str:
    """The approval policy as codex takes it. The contract still offers ``on-failure``,
    which codex 0.163 no longer knows (it refuses the thread); its nearest policy is
    ``on-request`` (commands run in the sandbox; the agent asks to go past it)."""
    return "on-request" if policy == "on-failure" else policy


def thread_params(controls: Json) -> Json:
    """The ``thread/start``/``thread/fork`` fields of an effective controls tuple."""
    wire: Json = {
        "approvalPolicy": wire_policy(controls["approvalPolicy"]),
        "sandbox": controls["filesystemSandbox"],
    }
    if controls.get("model"):
        wire["model"] = controls["model"]
    if controls["filesystemSandbox"] == "workspace-write":
        enabled = controls["networkAccess"] == "enabled"
        wire["config"] = {"sandbox_workspace_write.network_access": enabled}
    return wire


_ROLES = ("user", "assistant", "system")
_STATUSES = ("streaming", "complete", "canceled", "error")


def entry_fields(entry: Any) -> Json:
    """The store fields of a contract ``TranscriptEntry``; ``Invalid`` with every issue."""
    if not isinstance(entry, dict):
        raise Invalid("the entry must be an object", issues=[{"path": []}])
    issues = [
        {"path": [name], "message": "a non-empty string"}
        for name in ("messageId", "turnId", "type")
        if not isinstance(entry.get(name), str) or not entry[name]
    ]
    if entry.get("role") not in _ROLES:
        issues.append({"path": ["role"], "message": "user, assistant or system"})
    if entry.get("status") not in _STATUSES:
        issues.append({"path": ["status"], "message": "streaming, complete, canceled or error"})
    if not isinstance(entry.get("content"), str):
        issues.append({"path": ["content"], "message": "a string"})
    details = entry.get("details")
    if details is not None and not isinstance(details, str):
        issues.append({"path": ["details"], "message": "a string or null"})
    times = {}
    for name, field in (("startedAt", "started_at"), ("completedAt", "completed_at")):
        value = entry.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            issues.append({"path": [name], "message": "milliseconds since the epoch"})
        elif value is not None:
            times[field] = value / 1000
    if issues:
        raise Invalid("invalid transcript entry", issues=issues)
    return {
        "message_id": entry["messageId"],
        "turn_id": entry["turnId"],
        "role": entry["role"],
        "type": entry["type"],
        "content": entry["content"],
        "status": entry["status"],
        "details": details,
        **times,
    }


def session_directory(cwd: str | None, allowed_roots: Sequence[str] = ()) -> str:
    """The absolute session directory (the server's own without ``cwd``); ``Invalid``
    unless it is absolute, exists and, when roots are given (``--allowed-root``), lies
    under one of them (symbolic links and ``..`` resolved). The only check of a working
    directory a client names: ``paths.checked_cwd`` is this, for the other routes."""
    if cwd is not None and ("\x00" in cwd or not os.path.isabs(cwd)):
        raise _bad_cwd("invalid_cwd", "cwd must be an absolute path")
    directory = os.path.abspath(cwd or os.getcwd())
    try:
        check_directory(directory)
    except InvalidArgumentError:
        raise _bad_cwd("invalid_cwd", f"cwd {directory} is not an existing directory") from None
    real = os.path.realpath(directory)
    if allowed_roots and not any(
        real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in allowed_roots
    ):
        roots = ", ".join(allowed_roots)
        raise _bad_cwd("cwd_not_allowed", f"cwd {directory} is outside the allowed roots ({roots})")
    return directory


def _bad_cwd(code: str, message: str) -> Invalid:
    issue = {"code": code, "path": ["cwd"], "in": "body", "message": message}
    return Invalid(message, code=code, issues=[issue])
