"""Safe default answers to the requests the app-server sends us.

Every known kind gets a response of its own shape that fails closed: approvals are
declined, tool calls fail with a message the agent can read, questions go unanswered.
An unknown kind gets a JSON-RPC "method not found" error, never an empty object.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from .._connection.rpc import ServerRequest
from ..errors import RpcError

__all__ = ["SERVER_REQUEST_METHODS", "default_response"]

_log = logging.getLogger("codexkit")
Json = dict[str, Any]


def _decline(request: ServerRequest) -> Json:
    return {"decision": "decline"}


def _deny_legacy(request: ServerRequest) -> Json:
    return {"decision": "denied"}


def _grant_nothing(request: ServerRequest) -> Json:
    return {"permissions": {}, "scope": "turn"}


def _no_answers(request: ServerRequest) -> Json:
    return {"answers": {}}


def _decline_elicitation(request: ServerRequest) -> Json:
    return {"action": "decline", "content": None}


def _unknown_tool(request: ServerRequest) -> Json:
    params = request.params if isinstance(request.params, dict) else {}
    message = f"no tool named {params.get('tool')!r} is registered with this client"
    return {"success": False, "contentItems": [{"type": "inputText", "text": message}]}


def _current_time(request: ServerRequest) -> Json:
    return {"currentTimeAt": int(time.time())}


def _unavailable(request: ServerRequest) -> Json:
    raise RpcError(-32000, f"{request.method} is not available from this client")


_DEFAULTS: dict[str, Callable[[ServerRequest], Json]] = {
    "item/commandExecution/requestApproval": _decline,
    "item/fileChange/requestApproval": _decline,
    "item/permissions/requestApproval": _grant_nothing,
    "item/tool/requestUserInput": _no_answers,
    "mcpServer/elicitation/request": _decline_elicitation,
    "item/tool/call": _unknown_tool,
    "account/chatgptAuthTokens/refresh": _unavailable,
    "attestation/generate": _unavailable,
    "currentTime/read": _current_time,
    "applyPatchApproval": _deny_legacy,
    "execCommandApproval": _deny_legacy,
}

#: Every server request kind of the pinned runtime.
SERVER_REQUEST_METHODS = frozenset(_DEFAULTS)


async def default_response(request: ServerRequest) -> Json:
    """The fail-closed answer for ``request``; raises :class:`RpcError` for unknown kinds."""
    answer = _DEFAULTS.get(request.method)
    if answer is None:
        _log.warning("unknown server request %s; answering method-not-found", request.method)
        raise RpcError(-32601, f"unsupported server request {request.method!r}")
    result = answer(request)
    _log.info("answered %s with the default %s", request.method, result)
    return result
