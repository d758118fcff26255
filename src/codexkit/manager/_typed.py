"""``cm.typed``: every contract operation with the server's own pydantic models.

``cm.typed.sessions.create(CreateSessionRequest(cwd="."))`` sends the model's wire form
and answers ``CreateSessionResponse``. Keyword arguments work too (path and query
parameters always go as keywords: ``session_id=...``). ``validate=False`` (or
``validation_mode="off"``) sends and returns plain dicts.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel, to_snake

from ..contract import OPERATIONS, Operation, to_wire
from ._bridge import Bridge, body
from ._core import already_handled, validate_answer
from .errors import ValidationError

__all__ = ["TYPED_OPERATIONS", "TypedApi", "TypedDomain", "TypedOperation"]

#: Domain, then method, to the contract's operation: the same names as the dict domains.
TYPED_OPERATIONS: dict[str, dict[str, str]] = {
    "system": {
        "health": "getHealth",
        "info": "getApiInfo",
        "capabilities": "getCapabilities",
        "experimental_features": "listExperimentalFeatures",
        "collaboration_modes": "listCollaborationModes",
    },
    "models": {"list": "listModels"},
    "apps": {"list": "listApps"},
    "skills": {
        "list": "listSkills",
        "set_config": "writeSkillConfig",
        "remote_get": "readRemoteSkills",
        "remote_set": "writeRemoteSkills",
    },
    "mcp": {
        "reload": "reloadMcpConfig",
        "servers": "listMcpServers",
        "oauth_login": "startMcpOauthLogin",
    },
    "account": {
        "get": "readAccount",
        "login_start": "startAccountLogin",
        "login_cancel": "cancelAccountLogin",
        "logout": "logoutAccount",
        "rate_limits": "readAccountRateLimits",
    },
    "config": {
        "get": "readConfig",
        "requirements": "readConfigRequirements",
        "set": "writeConfigValue",
        "batch_set": "writeConfigBatch",
    },
    "runtime": {"exec": "executeCommand"},
    "feedback": {"submit": "uploadFeedback"},
    "extensions": {"list": "listAgentExtensions", "reload": "reloadAgentExtensions"},
    "orchestrator": {
        "get": "getOrchestratorJob",
        "list": "listProjectOrchestratorJobs",
        "cancel": "cancelOrchestratorJob",
    },
    "projects": {
        "list": "listProjects",
        "create": "createProject",
        "rename": "renameProject",
        "delete": "deleteProject",
        "list_agent_sessions": "listProjectAgentSessions",
        "move_all_chats": "moveProjectChats",
        "delete_all_chats": "deleteProjectChats",
        "orchestrator_jobs": "listProjectOrchestratorJobs",
    },
    "sessions": {
        "list": "listSessions",
        "create": "createSession",
        "get": "readSession",
        "delete": "deleteSession",
        "fork": "forkSession",
        "compact": "compactSession",
        "rollback": "rollbackSession",
        "clean_background_terminals": "cleanBackgroundTerminals",
        "review": "startReview",
        "steer": "steerTurn",
        "rename": "renameSession",
        "archive": "archiveSession",
        "unarchive": "unarchiveSession",
        "set_project": "setSessionProject",
        "approvals": "listSessionApprovals",
        "tool_input": "listSessionToolInput",
        "tool_calls": "listSessionToolCalls",
        "controls_get": "getSessionControls",
        "controls_apply": "applySessionControls",
        "settings_get": "getSessionSettings",
        "settings_set": "setSessionSettings",
        "settings_unset": "deleteSessionSetting",
        "resume": "resumeSession",
        "approval_policy": "setSessionApprovalPolicy",
        "suggest_request": "suggestSessionRequest",
        "suggest_request_enqueue": "enqueueSuggestedSessionRequest",
        "suggest_request_upsert": "upsertSuggestedSessionRequest",
        "transcript_upsert": "upsertSessionTranscriptEntry",
        "send_message": "sendSessionMessage",
        "interrupt": "interruptSessionTurn",
    },
    "approvals": {"decide": "decideApproval"},
    "tool_input": {"decide": "decideToolInput"},
    "tool_calls": {"respond": "respondToolCall"},
}

_PATH_PARAM = re.compile(r"\{(\w+)\}")
_DECISIONS = frozenset({"decideApproval", "decideToolInput", "respondToolCall"})


@cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def _wire(value: Any) -> Any:
    return to_wire(value) if isinstance(value, BaseModel) else value


def _checked(model: Any, value: Any, what: str, operation_id: str) -> Any:
    """``value`` validated as ``model`` and back to its wire form."""
    try:
        parsed = _adapter(model).validate_python(_wire(value))
    except PydanticValidationError as error:
        raise ValidationError(
            f"{operation_id}: invalid {what}: {error}", operation=operation_id
        ) from error
    return _wire(parsed)


class TypedOperation:
    """One operation: call it with a payload model (or keywords) and path/query keywords."""

    def __init__(self, bridge: Bridge, operation: Operation) -> None:
        self._bridge = bridge
        self.operation = operation

    def __call__(
        self, payload: Any = None, /, *, validate: bool | None = None, **kwargs: Any
    ) -> Any:
        op = self.operation
        checking = validate if validate is not None else self._bridge.core.validation_mode != "off"
        payload = kwargs.pop("payload", payload)
        params = {name: str(kwargs.pop(to_snake(name))) for name in _PATH_PARAM.findall(op.path)}
        query = self._query(kwargs, checking)
        sent = self._body(payload, kwargs, checking)
        return self._bridge.run(self._send(params, query, sent, checking))

    def _query(self, kwargs: dict[str, Any], checking: bool) -> dict[str, Any] | None:
        model = self.operation.query
        if model is None:
            return None
        names = {to_snake(field) for field in model.model_fields}
        picked = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
        if checking:
            checked: dict[str, Any] = _checked(model, picked, "query", self.operation.operation_id)
            return checked
        return {to_camel(k): v for k, v in picked.items()}

    def _body(self, payload: Any, kwargs: dict[str, Any], checking: bool) -> Any:
        op = self.operation
        if payload is None and kwargs and op.body is not None:
            payload, kwargs = (kwargs if checking else body(**kwargs)), {}
        if kwargs:
            raise TypeError(f"{op.operation_id}: unexpected arguments {sorted(kwargs)}")
        if payload is None:
            return None
        if checking and op.body is not None:
            return _checked(op.body, payload, "request body", op.operation_id)
        return _wire(payload)

    async def _send(
        self, params: dict[str, str], query: dict[str, Any] | None, sent: Any, checking: bool
    ) -> Any:
        op = self.operation
        answer = await self._bridge.core.call_raw(
            op.operation_id,
            params=params,
            query=query,
            body=sent,
            idempotent_decision=op.operation_id in _DECISIONS,
        )
        if not checking or (
            op.operation_id in _DECISIONS and already_handled(answer.status, answer.body)
        ):
            return answer.body
        model = validate_answer(op, answer)
        return answer.body if model is None else model


class TypedDomain:
    def __init__(self, bridge: Bridge, methods: dict[str, str]) -> None:
        for name, operation_id in methods.items():
            setattr(self, name, TypedOperation(bridge, OPERATIONS[operation_id]))

    def __getattr__(self, name: str) -> TypedOperation:  # for the type checker
        raise AttributeError(name)


class TypedApi:
    """``cm.typed``: the dict domains' names, with typed requests and answers."""

    def __init__(self, bridge: Bridge) -> None:
        for domain, methods in TYPED_OPERATIONS.items():
            setattr(self, domain, TypedDomain(bridge, methods))

    def __getattr__(self, name: str) -> TypedDomain:  # for the type checker
        raise AttributeError(name)
