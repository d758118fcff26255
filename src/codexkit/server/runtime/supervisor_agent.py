"""The supervisor agent: what the deterministic pass leaves undecided, judged by a model.

The supervisor queues a ``supervisor_review`` job (dedupe key per approval) for an
approval it could not decide. The job runs one turn of the agent ``supervisor`` in the
worker session of the chat's owner, with three codexkit Python tools bound to that one
approval:

- ``explain(explanation, insight)`` writes both into the chat's transcript
  (``supervisor.explanation`` and ``supervisor.insight`` entries);
- ``decide(decision, risk, reason)`` accepts or declines, where the chat's settings
  allow it at that risk;
- ``steer(message, risk)`` sends the chat's running turn a message, likewise.

The tools, not the agent, enforce the settings: a call they do not allow fails with a
tool error saying why, and the request stays for a person. The agent's risk may be
lower than the rules' (they rate medium what they cannot read), never below a high
one (a high finding is a fact: a path outside the chat, a secret, a force push). A
person who decided first wins: the job then completes with ``status: "reconciled"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from ...tools import ToolRegistry, ToolResult
from .extensions import Actions
from .queue import InvalidPayload
from .services import Services
from .supervisor import LEVELS, Policy, policy_of

__all__ = ["SUPERVISOR_AGENT", "SupervisorAgent", "refusal"]

Json = dict[str, Any]
SUPERVISOR_AGENT = "supervisor"
Risk = Literal["low", "med", "high"]
#: Characters of the request (command, paths and diffs) the agent is shown.
_SUBJECT_CHARS = 8000


def refusal(policy: Policy, action: str, risk: str, rules_level: str) -> str | None:
    """Why ``policy`` does not let the agent ``accept``, ``decline`` or ``steer`` at
    ``risk`` (its own judgment, floored at high when the rules found high); None when
    it does."""
    level = "high" if rules_level == "high" else risk
    setting = {"accept": "approve", "decline": "reject", "steer": "steer"}[action]
    threshold = getattr(policy, setting)
    if threshold is None:
        return f"refused: {setting} is not enabled in this chat's supervisor settings"
    rank, limit = LEVELS.index(level), LEVELS.index(threshold)
    if action == "accept" and rank > limit:
        return (
            f"refused: accepting is allowed up to risk {threshold} (the approve threshold); "
            f"this request is risk {level}, so it stays for a person"
        )
    if action != "accept" and rank < limit:
        verb = "declining" if action == "decline" else "steering"
        return (
            f"refused: {verb} is allowed from risk {threshold} ({setting} threshold) up; "
            f"this request is risk {level}"
        )
    return None


@dataclass
class _Review:
    """One approval under review, and the tools the agent gets for it."""

    actions: Actions
    session_id: str
    approval_id: str
    turn_id: str
    kind: str
    what: str
    rules_level: str
    policy: Policy
    decided: Json | None = None
    refused: list[str] = field(default_factory=list)

    def tools(self) -> ToolRegistry:
        return ToolRegistry([self.explain, self.decide, self.steer])

    async def explain(self, explanation: str, insight: str) -> str:
        """Write your explanation of the request and your insight into the chat's transcript.

        Args:
            explanation: What the request does and why the agent asks for it, in plain words.
            insight: What a reviewer should watch for, and your judgment of its risk.
        """
        await self._write("explanation", "supervisor.explanation", explanation)
        await self._write("insight", "supervisor.insight", insight)
        return "written to the chat's transcript"

    async def decide(
        self, decision: Literal["accept", "decline"], risk: Risk, reason: str
    ) -> str | ToolResult:
        """Accept or decline the request, if the chat's settings allow it at this risk.

        Args:
            decision: accept or decline.
            risk: Your judgment of the request's risk: low, med or high.
            reason: Why, in one sentence, for the chat's transcript.
        """
        why = refusal(self.policy, decision, risk, self.rules_level)
        if why is None and self.decided is not None:
            why = f"refused: this review already decided ({self.decided['decision']})"
        if why is not None:
            self.refused.append(why)
            return ToolResult.error(why)
        answer = await self.actions.decide_approval(self.approval_id, decision)
        verb = "declined" if decision == "decline" else "accepted"
        reconciled = answer.get("status") == "reconciled"
        self.decided = {"decision": decision, "risk": risk, "reconciled": reconciled}
        if reconciled:
            text = (
                f"The supervisor agent would have {verb} the {self.what} (risk {risk}: "
                f"{reason}), but it was already decided."
            )
            await self._write("decision", "supervisor.decision", text)
            return "a person already decided this request: nothing more to do"
        text = f"The supervisor agent {verb} the {self.what}: risk {risk} ({reason})."
        await self._write("decision", "supervisor.decision", text)
        return verb

    async def steer(self, message: str, risk: Risk) -> str | ToolResult:
        """Send the chat's running turn a message (a warning, a safer way), if the chat's
        settings allow steering at this risk.

        Args:
            message: What the working agent should hear.
            risk: Your judgment of the request's risk: low, med or high.
        """
        why = refusal(self.policy, "steer", risk, self.rules_level)
        if why is not None:
            self.refused.append(why)
            return ToolResult.error(why)
        await self.actions.steer(self.session_id, self.turn_id, message)
        await self._write("agent-steer", "supervisor.steer", message)
        return "sent to the running turn"

    async def _write(self, tag: str, kind: str, text: str) -> None:
        entry = {
            "messageId": f"supervisor::{tag}::{self.approval_id}",
            "turnId": self.turn_id,
            "role": "system",
            "type": kind,
            "content": text,
            "status": "complete",
        }
        await self.actions.upsert_transcript(self.session_id, entry)


class SupervisorAgent:
    """The handler of ``supervisor_review`` jobs."""

    def __init__(self, runtime: Services) -> None:
        self._rt = runtime

    async def review(self, job: Json, actions: Actions) -> Json:
        payload = job["payload"]
        approval_id = _field(payload, "approvalId")
        row = await self._rt.store.requests.get(approval_id)
        if row is None or row.kind != "approval":
            raise InvalidPayload(f"no approval {approval_id}")
        base: Json = {"approvalId": approval_id}
        if row.status != "pending":  # decided (or expired) before the job ran
            return {**base, "status": "reconciled", "approvalStatus": row.status}
        kind = _field(payload, "kind")
        review = _Review(
            actions,
            row.session_id,
            approval_id,
            str(row.turn_id or payload.get("turnId") or "supervisor"),
            kind,
            _field(payload, "what"),
            str(payload.get("level", "med")),
            await policy_of(self._rt, row.session_id, kind),
        )
        chat = await self._rt.store.sessions.get(row.session_id)
        ran = await self._rt.orchestrator.workers.run(
            str(job["projectId"]),
            SUPERVISOR_AGENT,
            _prompt(payload, review),
            cwd=chat.cwd if chat else None,
            tools=review.tools(),
        )
        after = await self._rt.store.requests.get(approval_id)
        if review.decided is not None:
            status = "reconciled" if review.decided["reconciled"] else "decided"
        else:
            status = "left_for_person" if after and after.status == "pending" else "reconciled"
        return {
            **base,
            "status": status,
            "decision": review.decided,
            "refused": review.refused,
            "reply": ran["reply"],
            "workerSessionId": ran["sessionId"],
            "turnId": ran["turnId"],
        }


def _field(payload: Json, name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidPayload(f"{name} must be a non-empty string")
    return value


def _prompt(payload: Json, review: _Review) -> str:
    """The request for the supervisor agent: what is asked, what the rules found, and
    what the settings let it do."""
    policy = review.policy
    allowed = [
        f"accept at risk {policy.approve} or below" if policy.approve else None,
        f"decline at risk {policy.reject} or above" if policy.reject else None,
        f"steer at risk {policy.steer} or above" if policy.steer else None,
    ]
    may = "; ".join(a for a in allowed if a) or "nothing but explain"
    subject = json.dumps(payload.get("subject"), indent=1)[:_SUBJECT_CHARS]
    reasons = "; ".join(str(r) for r in payload.get("reasons") or [])
    return (
        f"Supervisor review of a {review.what} that a working agent asks approval for.\n"
        f"Request:\n{subject}\n"
        f"The rules rated it risk {review.rules_level} ({reasons}) and could not decide.\n"
        "Call explain once with what it does and your insight. Then judge its risk "
        f"(low, med, high). The settings let you: {may}. Call decide or steer only "
        "within them; otherwise leave the request to a person. End with one line."
    )
