"""``codexkit.manager``: the Python client of the control plane (``codexkit serve``, or a
codex-manager server), with codex-manager's client's names::

    from codexkit.manager import CodexManager

    with CodexManager() as cm:  # the `local` profile that `codexkit serve` writes
        session = cm.sessions.create(cwd=".")
        reply = cm.wait.send_message_and_wait_reply(
            session_id=session["session"]["sessionId"], text="hello"
        )
        print(reply.assistant_reply)

Needs the ``manager`` extra (httpx, websockets). See ``docs/manager.md``.
"""

from __future__ import annotations

from ._client import AsyncCodexManager, CodexManager
from ._config import ManagerConfig
from ._core import ValidationMode
from ._extend import (
    HookRegistry,
    ManagerRequest,
    ManagerResponse,
    RequestContext,
    RequestExecutor,
    RetryPolicy,
)
from ._session_handle import SessionHandle, SettingsNamespace
from ._skills import (
    RemoteSkillError,
    RemoteSkillsApi,
    SessionSkills,
    SkillDispatch,
    SkillLifecycle,
    SkillRunResult,
    SkillSession,
)
from ._socket import (
    RAW_FALLBACKS,
    AppServerSignal,
    Backoff,
    StreamConnection,
    StreamContext,
    StreamEvent,
)
from ._stream import EventStream, StreamRouter
from ._typed import TYPED_OPERATIONS
from ._wait import WaitReply
from .errors import (
    AuthError,
    ConflictError,
    GoneError,
    LockedError,
    ManagerError,
    NotFoundError,
    ServerError,
    TransportError,
    ValidationError,
)

__all__ = [
    "RAW_FALLBACKS",
    "TYPED_OPERATIONS",
    "AppServerSignal",
    "AsyncCodexManager",
    "AuthError",
    "Backoff",
    "CodexManager",
    "ConflictError",
    "EventStream",
    "GoneError",
    "HookRegistry",
    "LockedError",
    "ManagerConfig",
    "ManagerError",
    "ManagerRequest",
    "ManagerResponse",
    "NotFoundError",
    "RemoteSkillError",
    "RemoteSkillsApi",
    "RequestContext",
    "RequestExecutor",
    "RetryPolicy",
    "ServerError",
    "SessionHandle",
    "SessionSkills",
    "SettingsNamespace",
    "SkillDispatch",
    "SkillLifecycle",
    "SkillRunResult",
    "SkillSession",
    "StreamConnection",
    "StreamContext",
    "StreamEvent",
    "StreamRouter",
    "TransportError",
    "ValidationError",
    "ValidationMode",
    "WaitReply",
]
