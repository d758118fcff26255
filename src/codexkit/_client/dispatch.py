"""Routing the app-server's requests to the right policy, tool or default answer.

Each request is answered by the policy of its thread (set on ``start_thread``), else the
client's, and dynamic tool calls by the thread's tools layered over the client's. Every
answer has the shape its request kind expects; a callback that fails or takes longer
than the policy's ``timeout`` gets the fail-closed default instead, and is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._connection.rpc import ServerRequest
from .._workers import DEFAULT_CALLBACK_WORKERS, CallbackPool, reset_pool, using_pool
from ..approvals import (
    ApprovalPolicy,
    CommandApprovalRequest,
    DynamicToolCallRequest,
    ElicitationRequest,
    FileChangeApprovalRequest,
    McpToolCallApprovalRequest,
    PermissionsRequest,
    UserInputQuestion,
    UserInputRequest,
    call_maybe_async,
)
from .server_requests import default_response

if TYPE_CHECKING:
    from ..tools import Tool, ToolRegistry

__all__ = ["Dispatcher", "ThreadHandlers", "thread_handlers"]

_log = logging.getLogger("codexkit")
Json = dict[str, Any]

_LEGACY_DECISIONS = {
    "accept": "approved",
    "acceptForSession": "approved_for_session",
    "decline": "denied",
    "cancel": "abort",
}


@dataclass
class ThreadHandlers:
    """What answers one thread's requests."""

    policy: ApprovalPolicy | None = None
    tools: ToolRegistry | None = None


def thread_handlers(
    approval_policy: str | ApprovalPolicy | None, tools: Iterable[Tool] | None = None
) -> ThreadHandlers:
    """The handlers of a client's or a thread's arguments: its policy if it gave an
    :class:`ApprovalPolicy` (a mode string only asks codex to ask), its tools if any."""
    policy = approval_policy if isinstance(approval_policy, ApprovalPolicy) else None
    if tools is None:
        return ThreadHandlers(policy)
    from ..tools import ToolRegistry

    return ThreadHandlers(policy, ToolRegistry(tools))


class Dispatcher:
    """The request handler of one :class:`AsyncCodex` (a ``RequestHandler``): answers
    with ``client``'s handlers where a thread has none of its own (and declines what no
    policy answers)."""

    def __init__(self, client: ThreadHandlers, *, workers: int = DEFAULT_CALLBACK_WORKERS) -> None:
        self.policy = client.policy or ApprovalPolicy.auto_decline()
        self.tools = client.tools
        # Plain callbacks and tools of this client run here (see _workers for why).
        self.pool = CallbackPool(workers)
        self.threads: dict[str, ThreadHandlers] = {}
        # Paths of file changes in flight, by item id: approval requests name only the item.
        self._changes: dict[str, list[str]] = {}
        # MCP tool-call items in flight, by item id: their approvals do not name the tool.
        self._mcp_calls: dict[str, Json] = {}
        self._kinds: dict[str, Callable[[ServerRequest, Json, ApprovalPolicy], Awaitable[Any]]] = {
            "item/commandExecution/requestApproval": self._command,
            "execCommandApproval": self._legacy_command,
            "item/fileChange/requestApproval": self._file_change,
            "applyPatchApproval": self._legacy_file_change,
            "item/permissions/requestApproval": self._permissions,
            "item/tool/requestUserInput": self._user_input,
            "mcpServer/elicitation/request": self._elicitation,
            "item/tool/call": self._tool_call,
        }

    async def __call__(self, request: ServerRequest) -> Any:
        handler = self._kinds.get(request.method)
        params = request.params if isinstance(request.params, dict) else {}
        if handler is None:
            return await default_response(request)
        policy = self._policy_for(params)
        token = using_pool(self.pool)  # this request's task only: each has its own context
        try:
            return await asyncio.wait_for(handler(request, params, policy), policy.timeout)
        except asyncio.TimeoutError:
            # A plain callback still running goes on in its thread; its answer is dropped.
            _log.warning("no answer to %s within %s s; declining", request.method, policy.timeout)
        except Exception:
            _log.exception("answering %s failed; declining", request.method)
        finally:
            reset_pool(token)
        return await default_response(request)

    def note_item(self, method: str, params: Json) -> None:
        """Keep what approvals name only by reference: the paths of file-change items,
        the tool of MCP tool calls in flight."""
        item = params.get("item")
        if not isinstance(item, dict):
            return
        item_id = str(item.get("id"))
        if item.get("type") == "fileChange":
            if method == "item/started":
                changes = item.get("changes")
                changes = changes if isinstance(changes, list) else []
                paths = [str(c.get("path", "")) for c in changes if isinstance(c, dict)]
                self._changes[item_id] = paths
            else:
                self._changes.pop(item_id, None)
        elif item.get("type") == "mcpToolCall":
            if method == "item/started":
                self._mcp_calls[item_id] = {**item, "threadId": params.get("threadId")}
            else:
                self._mcp_calls.pop(item_id, None)

    def _policy_for(self, params: Json) -> ApprovalPolicy:
        thread_id = params.get("threadId") or params.get("conversationId")
        handlers = self.threads.get(str(thread_id))
        return handlers.policy if handlers and handlers.policy else self.policy

    def _tools_for(self, thread_id: str) -> ToolRegistry | None:
        handlers = self.threads.get(thread_id)
        local = handlers.tools if handlers else None
        if self.tools is None or local is None:
            return local or self.tools
        return self.tools.merged(local)

    # -- each request kind -------------------------------------------------------------

    async def _command(self, request: ServerRequest, p: Json, policy: ApprovalPolicy) -> Json:
        typed = CommandApprovalRequest(
            thread_id=str(p.get("threadId")),
            turn_id=p.get("turnId"),
            item_id=p.get("itemId"),
            command=str(p.get("command") or ""),
            cwd=p.get("cwd"),
            reason=p.get("reason"),
            available_decisions=p.get("availableDecisions"),
            raw=p,
        )
        return {"decision": await _decide(policy.on_command_execution, typed)}

    async def _legacy_command(
        self, request: ServerRequest, p: Json, policy: ApprovalPolicy
    ) -> Json:
        command = p.get("command")
        typed = CommandApprovalRequest(
            thread_id=str(p.get("conversationId")),
            turn_id=None,
            item_id=p.get("callId"),
            command=" ".join(command) if isinstance(command, list) else str(command or ""),
            cwd=p.get("cwd"),
            reason=p.get("reason"),
            available_decisions=None,
            raw=p,
        )
        return {"decision": _legacy(await _decide(policy.on_command_execution, typed))}

    async def _file_change(self, request: ServerRequest, p: Json, policy: ApprovalPolicy) -> Json:
        typed = FileChangeApprovalRequest(
            thread_id=str(p.get("threadId")),
            turn_id=p.get("turnId"),
            item_id=p.get("itemId"),
            paths=list(self._changes.get(str(p.get("itemId")), [])),
            reason=p.get("reason"),
            grant_root=p.get("grantRoot"),
            raw=p,
        )
        return {"decision": await _decide(policy.on_file_change, typed)}

    async def _legacy_file_change(
        self, request: ServerRequest, p: Json, policy: ApprovalPolicy
    ) -> Json:
        changes = p.get("fileChanges")
        typed = FileChangeApprovalRequest(
            thread_id=str(p.get("conversationId")),
            turn_id=None,
            item_id=p.get("callId"),
            paths=list(changes) if isinstance(changes, dict) else [],
            reason=p.get("reason"),
            grant_root=p.get("grantRoot"),
            raw=p,
        )
        return {"decision": _legacy(await _decide(policy.on_file_change, typed))}

    async def _permissions(self, request: ServerRequest, p: Json, policy: ApprovalPolicy) -> Json:
        asked = p.get("permissions") if isinstance(p.get("permissions"), dict) else {}
        typed = PermissionsRequest(
            thread_id=str(p.get("threadId")),
            turn_id=str(p.get("turnId")),
            permissions=dict(asked or {}),
            reason=p.get("reason"),
            cwd=p.get("cwd"),
            raw=p,
        )
        answer = None
        if policy.on_permissions is not None:
            answer = await call_maybe_async(policy.on_permissions, typed)
        if answer is True:
            granted: Json = dict(asked or {})
        elif isinstance(answer, Mapping):
            granted = dict(answer)
        else:
            granted = {}
        return {"permissions": granted, "scope": "turn"}

    async def _user_input(self, request: ServerRequest, p: Json, policy: ApprovalPolicy) -> Json:
        questions = [
            UserInputQuestion(
                id=str(q.get("id")),
                header=str(q.get("header", "")),
                question=str(q.get("question", "")),
                options=[str(o.get("label", "")) for o in q.get("options") or []],
                is_secret=bool(q.get("isSecret")),
            )
            for q in p.get("questions") or []
        ]
        typed = UserInputRequest(str(p.get("threadId")), str(p.get("turnId")), questions, p)
        answers = None
        if policy.on_user_input is not None:
            answers = await call_maybe_async(policy.on_user_input, typed)
        wire: Json = {}
        for question_id, value in (answers or {}).items():
            values = [value] if isinstance(value, str) else [str(v) for v in value]
            wire[str(question_id)] = {"answers": values}
        return {"answers": wire}

    async def _elicitation(self, request: ServerRequest, p: Json, policy: ApprovalPolicy) -> Json:
        meta = p.get("_meta")
        if isinstance(meta, dict) and meta.get("codex_approval_kind") == "mcp_tool_call":
            return await self._mcp_tool_call(p, meta, policy)
        typed = ElicitationRequest(
            thread_id=str(p.get("threadId")),
            turn_id=p.get("turnId"),
            server_name=str(p.get("serverName", "")),
            mode=str(p.get("mode", "")),
            message=str(p.get("message", "")),
            requested_schema=p.get("requestedSchema"),
            url=p.get("url"),
            raw=p,
        )
        answer = None
        if policy.on_elicitation is not None:
            answer = await call_maybe_async(policy.on_elicitation, typed)
        if isinstance(answer, Mapping):
            return {"action": "accept", "content": dict(answer)}
        if answer in ("accept", "decline", "cancel"):
            return {"action": answer, "content": None}
        return {"action": "decline", "content": None}

    async def _mcp_tool_call(self, p: Json, meta: Json, policy: ApprovalPolicy) -> Json:
        """The runtime asks before an MCP tool call, as an elicitation of its own kind;
        it is answered as an approval."""
        remember = meta.get("persist")
        server, arguments = str(p.get("serverName", "")), meta.get("tool_params")
        item = next(
            (
                item
                for item in self._mcp_calls.values()
                if item.get("threadId") == p.get("threadId")
                and item.get("server") == server
                and item.get("arguments") == arguments
            ),
            {},
        )
        typed = McpToolCallApprovalRequest(
            thread_id=str(p.get("threadId")),
            turn_id=p.get("turnId"),
            item_id=item.get("id"),
            server=server,
            tool=str(item.get("tool") or _quoted_tool(str(p.get("message", "")))),
            arguments=arguments,
            description=meta.get("tool_description"),
            message=str(p.get("message", "")),
            remember=[str(r) for r in remember] if isinstance(remember, list) else [],
            raw=p,
        )
        decision = await _decide(policy.on_mcp_tool_call, typed)
        if isinstance(decision, Mapping):
            return dict(decision)  # a raw answer, as the runtime takes it
        if decision == "acceptForSession" and "session" in typed.remember:
            return {"action": "accept", "content": None, "_meta": {"persist": "session"}}
        if decision in ("accept", "acceptForSession"):
            return {"action": "accept", "content": None}
        if decision == "cancel":
            return {"action": "cancel", "content": None}
        return {"action": "decline", "content": None}

    async def _tool_call(self, request: ServerRequest, p: Json, policy: ApprovalPolicy) -> Json:
        tools = self._tools_for(str(p.get("threadId")))
        name = str(p.get("tool", ""))
        if tools is not None and tools.get(name) is not None:
            return await tools.call(p)
        if policy.on_dynamic_tool_call is None:
            return await default_response(request)
        typed = DynamicToolCallRequest(
            thread_id=str(p.get("threadId")),
            turn_id=str(p.get("turnId")),
            call_id=str(p.get("callId")),
            tool=name,
            namespace=p.get("namespace"),
            arguments=p.get("arguments"),
            raw=p,
        )
        from ..tools import ToolResult

        try:
            result = ToolResult.from_value(
                await call_maybe_async(policy.on_dynamic_tool_call, typed)
            )
        except Exception as exc:  # the agent sees the failure; the client goes on
            _log.warning("tool callback for %s raised", name, exc_info=True)
            result = ToolResult.error(f"{type(exc).__name__}: {exc}")
        return result.to_wire()


def _quoted_tool(message: str) -> str:
    """The tool's name from the runtime's question (``... run tool "add"?``), for a
    call whose item was not seen."""
    start, end = message.find('"'), message.rfind('"')
    return message[start + 1 : end] if 0 <= start < end else ""


async def _decide(callback: Callable[[Any], Any] | None, request: Any) -> Any:
    if callback is None:
        return "decline"
    decision = await call_maybe_async(callback, request)
    if decision is True:
        return "accept"
    if decision is False or decision is None:
        return "decline"
    return decision


def _legacy(decision: Any) -> Any:
    return _LEGACY_DECISIONS.get(decision, decision) if isinstance(decision, str) else decision
