"""The supervisor's deterministic pass: risk from what an approval asks, no model call.

A command's risk comes from its patterns (``rm -rf``, ``sudo``, a download piped to a
shell: high; installs, pushes, deletions, chained commands: medium; read-only commands:
low); a file change's from its paths (outside the session's directory, ``.git``, CI
workflows, secrets: high; build and dependency files: medium) and the size of its
diff. Per session, the settings ``supervisor.command`` and ``supervisor.fileChange``
say what it may do with that::

    {"diffExplainability": true,
     "autoActions": {"approve": {"enabled": true, "threshold": "low"},
                     "reject": {"enabled": false, "threshold": "high"},
                     "steer": {"enabled": false, "threshold": "high"}}}

``reject`` declines a request at or above its threshold, ``approve`` accepts one at or
below its threshold, ``steer`` tells the running turn why a request at or above its
threshold is risky. Each is off by default; ``diffExplainability`` (on by default)
writes what a file change does into the transcript. Whatever it does, it writes why
(``supervisor.decision`` entries); what it leaves alone waits for a person. A person
who decided first wins: the supervisor's decision then counts as reconciled.

What the rules leave undecided while the settings enable an action (the risk between
the thresholds), or a file change whose files they cannot see, becomes a
``supervisor_review`` job: the supervisor agent (``supervisor_agent.py``) judges it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ...types import unwrap_shell
from .extensions import Actions, Extension, ExtensionEvent
from .services import Services

__all__ = [
    "LEVELS",
    "REVIEW_JOB",
    "Policy",
    "command_risk",
    "file_change_risk",
    "policy_of",
    "supervisor_extension",
]

Json = dict[str, Any]
LEVELS = ("low", "med", "high")
#: The job type of the supervisor agent's review of one approval.
REVIEW_JOB = "supervisor_review"

_HIGH_COMMANDS = [
    (re.compile(r"\brm\s+(-\w*[rf]\w*\s+)*-\w*[rf]"), "deletes recursively or by force"),
    (re.compile(r"\bsudo\b|\bsu\s"), "runs as another user"),
    (re.compile(r"\b(curl|wget)\b[^|]*\|\s*(ba|z)?sh\b"), "runs a downloaded script"),
    (re.compile(r"\bgit\s+push\b.*(--force|-f\b)"), "force-pushes"),
    (re.compile(r"\b(mkfs|dd\s+if=|shutdown|reboot)\b"), "touches disks or the machine"),
    (re.compile(r"\bchmod\s+(-R\s+)?[0-7]*777\b"), "opens permissions to everyone"),
]
_MEDIUM_COMMANDS = [
    (re.compile(r"\b(pip|npm|pnpm|yarn|apt(-get)?|brew|cargo)\s+(install|add)\b"), "installs"),
    (re.compile(r"\bgit\s+(push|reset|clean|checkout)\b"), "rewrites git state"),
    (re.compile(r"\b(curl|wget|ssh|scp|nc)\b"), "uses the network"),
    (re.compile(r"\b(rm|mv|chmod|chown)\b"), "moves, deletes or changes permissions"),
]
_LOW_COMMANDS = re.compile(
    r"^(ls|pwd|cat|head|tail|wc|echo|grep|rg|find|stat|file|which|git\s+"
    r"(status|diff|log|show|branch))(\s|$)"
)
_CHAINED = re.compile(r"[;&|<>`\n]|\$\(")
_HIGH_PATHS = re.compile(r"(^|/)(\.git/|\.github/workflows/|\.env$|\.env\.|id_rsa|.*\.pem$)")
_MEDIUM_PATHS = re.compile(
    r"(^|/)(pyproject\.toml|setup\.py|package\.json|Dockerfile|Makefile|.*\.lock|"
    r"requirements.*\.txt)$"
)
#: Changed lines of a diff from which its size alone makes it medium, then high risk.
MEDIUM_LINES, HIGH_LINES = 80, 400


def _worst(found: list[tuple[str, str]]) -> tuple[str, list[str]]:
    level = max((lvl for lvl, _ in found), key=LEVELS.index, default="low")
    return level, [reason for _, reason in found]


def command_risk(command: str) -> tuple[str, list[str]]:
    """``(level, reasons)`` of a shell command."""
    body = unwrap_shell(command)
    found = [("high", why) for pattern, why in _HIGH_COMMANDS if pattern.search(body)]
    found += [("med", why) for pattern, why in _MEDIUM_COMMANDS if pattern.search(body)]
    if _CHAINED.search(body):
        found.append(("med", "chains, pipes or redirects"))
    if not found and not _LOW_COMMANDS.match(body):
        found.append(("med", "not a known read-only command"))
    if not found:
        found.append(("low", "a read-only command"))
    return _worst(found)


def file_change_risk(changes: list[Json], cwd: str) -> tuple[str, list[str]]:
    """``(level, reasons)`` of a file change (``changes``: ``[{path, kind, diff}]``)."""
    found: list[tuple[str, str]] = []
    lines = 0
    root = os.path.realpath(cwd)
    for change in changes:
        path = str(change.get("path", ""))
        real = os.path.realpath(os.path.join(cwd, path))
        relative = os.path.relpath(real, root)
        if relative.startswith(".."):
            found.append(("high", f"{path} is outside the session's directory"))
        if _HIGH_PATHS.search(relative):
            found.append(("high", f"{relative} is sensitive"))
        elif _MEDIUM_PATHS.search(relative):
            found.append(("med", f"{relative} is a build or dependency file"))
        kind = change.get("kind")
        if (kind.get("type") if isinstance(kind, dict) else kind) == "delete":
            found.append(("med", f"{relative} is deleted"))
        diff = str(change.get("diff") or "")
        lines += sum(1 for line in diff.splitlines() if line[:1] in "+-")
    if lines >= HIGH_LINES:
        found.append(("high", f"{lines} changed lines"))
    elif lines >= MEDIUM_LINES:
        found.append(("med", f"{lines} changed lines"))
    if not changes:
        found.append(("med", "the files it changes are unknown"))
    if not found:
        found.append(("low", f"{len(changes)} file(s), {lines} changed lines, inside the session"))
    return _worst(found)


@dataclass(frozen=True)
class Policy:
    """One of ``supervisor.fileChange`` / ``supervisor.command``, normalized."""

    explain: bool = True
    approve: str | None = None  # the threshold, when enabled
    reject: str | None = None
    steer: str | None = None

    @classmethod
    def of(cls, settings: Json, kind: str) -> Policy:
        """From a session's settings: ``{"supervisor": {kind: ...}}`` or the dotted key
        ``"supervisor.<kind>"``."""
        nested = settings.get("supervisor")
        given = nested.get(kind) if isinstance(nested, dict) else None
        if not isinstance(given, dict):
            given = settings.get(f"supervisor.{kind}")
        if not isinstance(given, dict):
            return cls()
        found = given.get("autoActions")
        actions: Json = found if isinstance(found, dict) else {}
        return cls(
            explain=given.get("diffExplainability", True) is not False,
            approve=_threshold(actions.get("approve"), "low"),
            reject=_threshold(actions.get("reject"), "high"),
            steer=_threshold(actions.get("steer"), "high"),
        )

    def decision(self, level: str) -> str | None:
        """``decline``, ``accept``, or None (left to a person)."""
        rank = LEVELS.index(level)
        if self.reject is not None and rank >= LEVELS.index(self.reject):
            return "decline"
        if self.approve is not None and rank <= LEVELS.index(self.approve):
            return "accept"
        return None

    def steers(self, level: str) -> bool:
        return self.steer is not None and LEVELS.index(level) >= LEVELS.index(self.steer)


def _threshold(action: Any, default: str) -> str | None:
    if not isinstance(action, dict) or action.get("enabled") is not True:
        return None
    value = str(action.get("threshold", default)).lower()
    value = {"medium": "med", "none": "low"}.get(value, value)
    return value if value in LEVELS else default


async def policy_of(runtime: Services, session_id: str, kind: str) -> Policy:
    """The session's policy for ``kind`` (``fileChange``, ``command``) as its effective
    settings (the defaults, then its own) say now."""
    row = await runtime.store.sessions.get(session_id)
    if row is None:
        return Policy()
    controls = await runtime.controls.effective(row)
    return Policy.of(controls.get("settings") or {}, kind)


class _Supervisor:
    def __init__(self, runtime: Services) -> None:
        self._rt = runtime

    async def command(self, event: ExtensionEvent, actions: Actions) -> None:
        params = _params(event)
        command = params.get("command")
        if isinstance(command, list):
            command = " ".join(str(part) for part in command)
        body = unwrap_shell(str(command or ""))
        level, reasons = command_risk(body)
        subject = {"command": body, "cwd": params.get("cwd"), "reason": params.get("reason")}
        await self._act(
            event, actions, "command", level, reasons, f"command `{body}`", subject=subject
        )

    async def file_change(self, event: ExtensionEvent, actions: Actions) -> None:
        session_id = str(event.session_id)
        row = await self._rt.store.sessions.get(session_id)
        changes = await self._changes(session_id, event.payload.get("itemId"))
        level, reasons = file_change_risk(changes, row.cwd if row else os.getcwd())
        policy = await self._policy(session_id, "fileChange")
        if policy.explain:
            paths = ", ".join(str(c.get("path")) for c in changes) or "unknown files"
            await self._write(
                actions,
                event,
                "fileChange.explainability",
                "explain",
                f"This change touches {paths}: risk {level} ({'; '.join(reasons)}).",
            )
        subject = {"changes": changes, "reason": _params(event).get("reason")}
        await self._act(
            event,
            actions,
            "fileChange",
            level,
            reasons,
            "file change",
            policy,
            subject=subject,
            unexplained=policy.explain and not changes,
        )

    async def _act(
        self,
        event: ExtensionEvent,
        actions: Actions,
        kind: str,
        level: str,
        reasons: list[str],
        what: str,
        policy: Policy | None = None,
        *,
        subject: Json,
        unexplained: bool = False,
    ) -> None:
        policy = policy or await self._policy(str(event.session_id), kind)
        decision = policy.decision(level)
        why = "; ".join(reasons)
        if decision is not None:
            answer = await actions.decide_approval(str(event.payload["approvalId"]), decision)
            verb = "declined" if decision == "decline" else "accepted"
            text = f"The supervisor {verb} the {what}: risk {level} ({why})."
            if answer.get("status") == "reconciled":  # a person (or another) came first
                text = (
                    f"The supervisor would have {verb} the {what} (risk {level}: {why}), "
                    "but it was already decided."
                )
            await self._write(actions, event, "supervisor.decision", "decision", text)
        if policy.steers(level) and decision != "decline" and event.payload.get("turnId"):
            steer = f"Careful: the {what} is risky ({why}). Prefer a safer way."
            try:
                await actions.steer(str(event.session_id), str(event.payload["turnId"]), steer)
            except Exception as exc:  # the turn ended meanwhile: nothing to steer
                steer = f"could not steer: {exc}"
            await self._write(actions, event, "supervisor.steer", "steer", steer)
        # Something left for the agent: an enabled action the rules did not take.
        can_act = bool(
            policy.approve or policy.reject or (policy.steer and not policy.steers(level))
        )
        if decision is None and (can_act or unexplained):
            await self._review(event, actions, kind, level, reasons, what, subject)

    async def _review(
        self,
        event: ExtensionEvent,
        actions: Actions,
        kind: str,
        level: str,
        reasons: list[str],
        what: str,
        subject: Json,
    ) -> None:
        """Leave the request to the supervisor agent: a job, one per approval."""
        approval = str(event.payload["approvalId"])
        payload = {
            "approvalId": approval,
            "kind": kind,
            "what": what,
            "level": level,
            "reasons": reasons,
            "turnId": event.payload.get("turnId"),
            "subject": _bounded(subject),
        }
        await actions.enqueue(
            REVIEW_JOB,
            payload,
            session_id=str(event.session_id),
            dedupe_key=f"{REVIEW_JOB}:{approval}",
        )

    async def _policy(self, session_id: str, kind: str) -> Policy:
        return await policy_of(self._rt, session_id, kind)

    async def _changes(self, session_id: str, item_id: Any) -> list[Json]:
        """The file-change item's changes, as the transcript recorded the item."""
        await self._rt.jobs.settled(session_id)
        for entry in await self._rt.store.transcript.list(session_id):
            if entry.message_id == item_id and entry.details:
                try:
                    item = json.loads(entry.details)
                except ValueError:
                    return []
                changes = item.get("changes") if isinstance(item, dict) else None
                return [c for c in changes or [] if isinstance(c, dict)]
        return []

    async def _write(
        self, actions: Actions, event: ExtensionEvent, kind: str, tag: str, text: str
    ) -> None:
        approval = str(event.payload.get("approvalId"))
        entry = {
            "messageId": f"supervisor::{tag}::{approval}",
            "turnId": str(event.payload.get("turnId") or "supervisor"),
            "role": "system",
            "type": kind,
            "content": text,
            "status": "complete",
        }
        await actions.upsert_transcript(str(event.session_id), entry)


#: What of a file change the review job keeps: its first changes, the start of each diff.
_REVIEW_CHANGES, _REVIEW_DIFF_CHARS = 50, 2000


def _bounded(subject: Json) -> Json:
    """``subject`` with at most ``_REVIEW_CHANGES`` changes, each diff cut to
    ``_REVIEW_DIFF_CHARS``: a job's payload stays small whatever the change."""
    changes = subject.get("changes")
    if not isinstance(changes, list):
        return subject
    kept = [
        {**change, "diff": str(change.get("diff") or "")[:_REVIEW_DIFF_CHARS]}
        for change in changes[:_REVIEW_CHANGES]
    ]
    return {**subject, "changes": kept, "changesOmitted": max(0, len(changes) - len(kept))}


def _params(event: ExtensionEvent) -> Json:
    details = event.payload.get("details")
    return details if isinstance(details, dict) else {}


Review = Callable[[Json, Actions], Awaitable[Json]]


def supervisor_extension(runtime: Services, review: Review) -> Extension:
    """The built-in supervisor, as an extension of ``runtime``; ``review`` runs its
    ``supervisor_review`` jobs (the supervisor agent)."""
    supervisor = _Supervisor(runtime)
    return Extension(
        "supervisor",
        events={
            "command.approval_requested": supervisor.command,
            "file_change.approval_requested": supervisor.file_change,
        },
        jobs={REVIEW_JOB: review},
        timeout=30.0,
    )
