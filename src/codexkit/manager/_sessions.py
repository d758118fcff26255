"""The ``sessions`` domain: every operation on sessions, by session id."""

from __future__ import annotations

from typing import Any, Literal

from ._bridge import Bridge, body, local_path

__all__ = ["Scope", "SessionsApi"]

Scope = Literal["session", "default"]
ApprovalPolicy = Literal["untrusted", "on-failure", "on-request", "never"]
NetworkAccess = Literal["restricted", "enabled"]
FilesystemSandbox = Literal["read-only", "workspace-write", "danger-full-access"]
Tools = list[dict[str, Any]]
Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]


class SessionsApi:
    def __init__(self, bridge: Bridge) -> None:
        self._bridge = bridge
        self._call = bridge.call

    def _on(self, operation_id: str, session_id: str, **kwargs: Any) -> Any:
        return self._call(operation_id, params={"sessionId": session_id}, **kwargs)

    def list(
        self, *, archived: bool | None = None, cursor: str | None = None, limit: int | None = None
    ) -> Any:
        return self._call(
            "listSessions", query={"archived": archived, "cursor": cursor, "limit": limit}
        )

    def create(
        self,
        *,
        cwd: str | None = None,
        model: str | None = None,
        approval_policy: ApprovalPolicy | None = None,
        network_access: NetworkAccess | None = None,
        filesystem_sandbox: FilesystemSandbox | None = None,
        dynamic_tools: Tools | None = None,
    ) -> Any:
        sent = body(
            cwd=local_path(cwd),
            model=model,
            approval_policy=approval_policy,
            network_access=network_access,
            filesystem_sandbox=filesystem_sandbox,
            dynamic_tools=dynamic_tools,
        )
        return self._call("createSession", body=sent)

    def get(self, *, session_id: str) -> Any:
        return self._on("readSession", session_id)

    def delete(self, *, session_id: str) -> Any:
        return self._on("deleteSession", session_id)

    def fork(self, *, session_id: str) -> Any:
        return self._on("forkSession", session_id)

    def compact(self, *, session_id: str) -> Any:
        return self._on("compactSession", session_id)

    def rollback(self, *, session_id: str, num_turns: int = 1) -> Any:
        return self._on("rollbackSession", session_id, body=body(num_turns=num_turns))

    def clean_background_terminals(self, *, session_id: str) -> Any:
        return self._on("cleanBackgroundTerminals", session_id)

    def review(
        self,
        *,
        session_id: str,
        delivery: Literal["inline", "detached"] | None = None,
        target_type: Literal["uncommittedChanges", "baseBranch", "commit", "custom"] | None = None,
        branch: str | None = None,
        sha: str | None = None,
        title: str | None = None,
        instructions: str | None = None,
    ) -> Any:
        sent = body(
            delivery=delivery,
            target_type=target_type,
            branch=branch,
            sha=sha,
            title=title,
            instructions=instructions,
        )
        return self._on("startReview", session_id, body=sent)

    def steer(self, *, session_id: str, turn_id: str, input_text: str) -> Any:
        return self._call(
            "steerTurn",
            params={"sessionId": session_id, "turnId": turn_id},
            body={"input": input_text},
        )

    def rename(self, *, session_id: str, title: str) -> Any:
        return self._on("renameSession", session_id, body={"title": title})

    def archive(self, *, session_id: str) -> Any:
        return self._on("archiveSession", session_id)

    def unarchive(self, *, session_id: str) -> Any:
        return self._on("unarchiveSession", session_id)

    def set_project(self, *, session_id: str, project_id: str | None) -> Any:
        return self._on("setSessionProject", session_id, body={"projectId": project_id})

    def approvals(self, *, session_id: str, history: bool | None = None) -> Any:
        """Pending requests; ``history=True`` (codexkit serve) also the resolved and
        expired ones, with their reason."""
        return self._on("listSessionApprovals", session_id, query={"history": history})

    def tool_input(self, *, session_id: str, history: bool | None = None) -> Any:
        """Pending requests; ``history=True`` (codexkit serve) also the resolved and
        expired ones, with their reason."""
        return self._on("listSessionToolInput", session_id, query={"history": history})

    def tool_calls(self, *, session_id: str, history: bool | None = None) -> Any:
        """Pending requests; ``history=True`` (codexkit serve) also the resolved and
        expired ones, with their reason."""
        return self._on("listSessionToolCalls", session_id, query={"history": history})

    def controls_get(self, *, session_id: str) -> Any:
        return self._on("getSessionControls", session_id)

    def controls_apply(
        self,
        *,
        session_id: str,
        controls: dict[str, Any],
        scope: Scope = "session",
        actor: str | None = None,
        source: str | None = None,
    ) -> Any:
        """Apply the whole tuple (``model``, ``approvalPolicy``, ``networkAccess``,
        ``filesystemSandbox``, optional ``settings``); the same tuple again is
        ``unchanged``."""
        sent = body(scope=scope, controls=controls, actor=actor, source=source)
        return self._on("applySessionControls", session_id, body=sent)

    def settings_get(
        self, *, session_id: str, scope: Scope = "session", key: str | None = None
    ) -> Any:
        return self._on("getSessionSettings", session_id, query={"scope": scope, "key": key})

    def settings_set(
        self,
        *,
        session_id: str,
        scope: Scope = "session",
        settings: dict[str, Any] | None = None,
        mode: Literal["merge", "replace"] = "merge",
        key: str | None = None,
        value: Any = None,
        actor: str | None = None,
        source: str | None = None,
    ) -> Any:
        """Write ``settings`` (merged or replacing the map) or one ``key``/``value``."""
        if (settings is None) == (key is None):
            raise ValueError("settings_set takes either settings or key/value, not both")
        sent: dict[str, Any] = body(scope=scope, actor=actor, source=source)
        if settings is not None:
            sent.update(settings=settings, mode=mode)
        else:
            sent.update(key=key, value=value)
        return self._on("setSessionSettings", session_id, body=sent)

    def settings_unset(
        self,
        *,
        session_id: str,
        key: str,
        scope: Scope = "session",
        actor: str | None = None,
        source: str | None = None,
    ) -> Any:
        return self._call(
            "deleteSessionSetting",
            params={"sessionId": session_id, "key": key},
            query={"scope": scope, "actor": actor, "source": source},
        )

    def resume(self, *, session_id: str, dynamic_tools: Tools | None = None) -> Any:
        return self._on("resumeSession", session_id, body=body(dynamic_tools=dynamic_tools))

    def approval_policy(self, *, session_id: str, approval_policy: ApprovalPolicy) -> Any:
        return self._on(
            "setSessionApprovalPolicy", session_id, body={"approvalPolicy": approval_policy}
        )

    def approval_timeout(
        self,
        *,
        session_id: str,
        seconds: float | None,
        decision: Literal["accept", "decline", "cancel"] = "decline",
    ) -> Any:
        """codexkit's own operation: the session's approvals, tool-input requests and
        tool calls are decided the ``decision`` way once they waited ``seconds``
        (``None``: as long as it takes). A codex-manager server answers 404."""
        sent = {"seconds": seconds, "decision": decision}
        return self._on("setSessionApprovalTimeout", session_id, body=sent)

    def suggest_request(
        self,
        *,
        session_id: str,
        model: str | None = None,
        effort: Effort | None = None,
        draft: str | None = None,
    ) -> Any:
        sent = body(model=model, effort=effort, draft=draft)
        return self._on("suggestSessionRequest", session_id, body=sent)

    def suggest_request_enqueue(
        self,
        *,
        session_id: str,
        model: str | None = None,
        effort: Effort | None = None,
        draft: str | None = None,
    ) -> Any:
        sent = body(model=model, effort=effort, draft=draft)
        return self._on("enqueueSuggestedSessionRequest", session_id, body=sent)

    def suggest_request_upsert(
        self,
        *,
        session_id: str,
        request_key: str,
        status: Literal["streaming", "complete", "error", "canceled"],
        suggestion: str | None = None,
        error: str | None = None,
    ) -> Any:
        sent = body(request_key=request_key, status=status, suggestion=suggestion, error=error)
        return self._on("upsertSuggestedSessionRequest", session_id, body=sent)

    def transcript_upsert(
        self,
        *,
        session_id: str,
        message_id: str,
        turn_id: str,
        role: Literal["user", "assistant", "system"],
        entry_type: str,
        content: str,
        status: Literal["streaming", "complete", "canceled", "error"],
        details: str | None = None,
        started_at: int | None = None,
        completed_at: int | None = None,
    ) -> Any:
        sent = body(
            message_id=message_id,
            turn_id=turn_id,
            role=role,
            type=entry_type,
            content=content,
            status=status,
            details=details,
            started_at=started_at,
            completed_at=completed_at,
        )
        return self._on("upsertSessionTranscriptEntry", session_id, body=sent)

    def send_message(
        self,
        *,
        session_id: str,
        text: str,
        model: str | None = None,
        effort: Effort | None = None,
        approval_policy: ApprovalPolicy | None = None,
        network_access: NetworkAccess | None = None,
        filesystem_sandbox: FilesystemSandbox | None = None,
        dynamic_tools: Tools | None = None,
    ) -> Any:
        """Start a turn: 202 ``{status: "accepted", sessionId, turnId}``."""
        sent = body(
            text=text,
            model=model,
            effort=effort,
            approval_policy=approval_policy,
            network_access=network_access,
            filesystem_sandbox=filesystem_sandbox,
            dynamic_tools=dynamic_tools,
        )
        return self._on("sendSessionMessage", session_id, body=sent)

    def interrupt(self, *, session_id: str, turn_id: str | None = None) -> Any:
        return self._on("interruptSessionTurn", session_id, body=body(turn_id=turn_id))
