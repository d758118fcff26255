"""Answering what the agent asks: approvals, permissions, questions, elicitations.

An :class:`ApprovalPolicy` is the handler that answers the app-server's requests for one
client or one thread. It also names the approval *mode* codex runs in (when codex asks):
``on-request`` unless you say otherwise.

::

    policy = ApprovalPolicy.custom(
        on_command_execution=allow_commands("git status", "ls", regex=r"^pytest\\b"),
        on_file_change=allow_file_changes_under("/repo/src"),
    )
    async with AsyncCodex(approval_policy=policy) as codex: ...

Callbacks may be plain or ``async`` functions. Whatever they do not answer, and anything
unanswered after ``timeout`` seconds, is declined: the policy fails closed.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ._workers import run_plain
from .types import unwrap_shell

__all__ = [
    "ApprovalPolicy",
    "CommandApprovalRequest",
    "Decision",
    "DynamicToolCallRequest",
    "ElicitationRequest",
    "FileChangeApprovalRequest",
    "McpToolCallApprovalRequest",
    "PermissionsRequest",
    "UserInputQuestion",
    "UserInputRequest",
    "allow_commands",
    "allow_file_changes_under",
]

Json = dict[str, Any]
#: What an approval callback returns: a decision name (``"accept"``,
#: ``"acceptForSession"``, ``"decline"``, ``"cancel"``), ``True`` (accept) / ``False`` or
#: ``None`` (decline), or a raw decision object such as an execpolicy amendment.
Decision = str | bool | None | Json

_R = TypeVar("_R")
Callback = Callable[[Any], _R | Awaitable[_R]]

# -- typed requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class CommandApprovalRequest:
    """The agent wants to run a command outside what the sandbox allows."""

    thread_id: str
    turn_id: str | None
    item_id: str | None
    command: str
    cwd: str | None
    reason: str | None
    available_decisions: list[Any] | None
    raw: Json = field(repr=False)


@dataclass(frozen=True)
class FileChangeApprovalRequest:
    """The agent wants to change files; ``paths`` lists the files of the change."""

    thread_id: str
    turn_id: str | None
    item_id: str | None
    paths: list[str]
    reason: str | None
    grant_root: str | None
    raw: Json = field(repr=False)


@dataclass(frozen=True)
class PermissionsRequest:
    """The agent asks for extra permissions (``permissions``: file system, network)."""

    thread_id: str
    turn_id: str
    permissions: Json
    reason: str | None
    cwd: str | None
    raw: Json = field(repr=False)


@dataclass(frozen=True)
class UserInputQuestion:
    id: str
    header: str
    question: str
    options: list[str]
    is_secret: bool


@dataclass(frozen=True)
class UserInputRequest:
    """The agent asks the user questions; answer with ``{question_id: answer(s)}``."""

    thread_id: str
    turn_id: str
    questions: list[UserInputQuestion]
    raw: Json = field(repr=False)


@dataclass(frozen=True)
class ElicitationRequest:
    """An MCP server asks the user for input: ``mode`` ``"form"`` with the
    ``requested_schema`` of the answer, or ``"url"`` to send the user to ``url``.

    The callback answers ``"accept"``, ``"decline"`` or ``"cancel"``, or the form's
    content (a dict), which accepts; ``None`` declines."""

    thread_id: str
    turn_id: str | None
    server_name: str
    mode: str
    message: str
    requested_schema: Any
    url: str | None
    raw: Json = field(repr=False)


@dataclass(frozen=True)
class McpToolCallApprovalRequest:
    """The agent wants to call a tool of an MCP server, and the runtime asks first
    (tools not marked read-only, unless the server's ``tool_approval`` says otherwise).

    ``"acceptForSession"`` accepts and lets the rest of the thread call the same tool
    without asking again, where the runtime offers it (``"session"`` in ``remember``).
    """

    thread_id: str
    turn_id: str | None
    item_id: str | None
    server: str
    tool: str
    arguments: Any
    description: str | None
    message: str
    remember: list[str]
    raw: Json = field(repr=False)


@dataclass(frozen=True)
class DynamicToolCallRequest:
    """The agent calls a dynamic tool that no registered Python tool answers."""

    thread_id: str
    turn_id: str
    call_id: str
    tool: str
    namespace: str | None
    arguments: Any
    raw: Json = field(repr=False)


# -- the policy ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalPolicy:
    """How a client (or a thread) answers the agent's requests.

    Build one with :meth:`auto_decline` (the default), :meth:`auto_accept`,
    :meth:`commands_only` or :meth:`custom`. ``mode`` is the approval mode codex runs in;
    ``timeout`` bounds how long a callback may take before the request is declined.
    """

    mode: str = "on-request"
    on_command_execution: Callback[Decision] | None = None
    on_file_change: Callback[Decision] | None = None
    on_permissions: Callback[bool | Json | None] | None = None
    on_user_input: Callback[Mapping[str, str | Sequence[str]] | None] | None = None
    on_elicitation: Callback[str | Json | None] | None = None
    on_dynamic_tool_call: Callback[Any] | None = None
    on_mcp_tool_call: Callback[Decision] | None = None
    timeout: float | None = 300.0

    @classmethod
    def auto_decline(cls, *, mode: str = "on-request") -> ApprovalPolicy:
        """Decline everything (fail closed). The default."""
        return cls(mode=mode)

    @classmethod
    def auto_accept(cls, *, mode: str = "on-request") -> ApprovalPolicy:
        """Accept every command, file change and MCP tool call, and grant requested
        permissions."""
        return cls(
            mode=mode,
            on_command_execution=_always("accept"),
            on_file_change=_always("accept"),
            on_permissions=_always(True),
            on_mcp_tool_call=_always("accept"),
        )

    @classmethod
    def commands_only(cls, *, mode: str = "on-request") -> ApprovalPolicy:
        """Accept commands; decline file changes, permissions and everything else."""
        return cls(mode=mode, on_command_execution=_always("accept"))

    @classmethod
    def custom(
        cls,
        *,
        on_command_execution: Callback[Decision] | None = None,
        on_file_change: Callback[Decision] | None = None,
        on_permissions: Callback[bool | Json | None] | None = None,
        on_user_input: Callback[Mapping[str, str | Sequence[str]] | None] | None = None,
        on_elicitation: Callback[str | Json | None] | None = None,
        on_dynamic_tool_call: Callback[Any] | None = None,
        on_mcp_tool_call: Callback[Decision] | None = None,
        mode: str = "on-request",
        timeout: float | None = 300.0,
    ) -> ApprovalPolicy:
        """Answer with your callbacks; kinds without one are declined."""
        return cls(
            mode=mode,
            on_command_execution=on_command_execution,
            on_file_change=on_file_change,
            on_permissions=on_permissions,
            on_user_input=on_user_input,
            on_elicitation=on_elicitation,
            on_dynamic_tool_call=on_dynamic_tool_call,
            on_mcp_tool_call=on_mcp_tool_call,
            timeout=timeout,
        )


def _always(value: _R) -> Callable[[Any], _R]:
    def answer(request: Any) -> _R:
        return value

    return answer


async def call_maybe_async(callback: Callable[[Any], Any], request: Any) -> Any:
    """Call a callback and return its result: ``async`` ones on the event loop, plain ones
    on the client's callback threads, so a callback that blocks (a prompt, say) stalls
    nothing else and never keeps the program from exiting."""
    if inspect.iscoroutinefunction(callback):
        return await callback(request)
    result = await run_plain(callback, request)
    if inspect.isawaitable(result):  # a plain function that returned a coroutine
        result = await result
    return result


# -- rule helpers ----------------------------------------------------------------------------


def allow_commands(
    *prefixes: str, regex: str | re.Pattern[str] | Sequence[str | re.Pattern[str]] = ()
) -> Callable[[CommandApprovalRequest], Decision]:
    """A command callback accepting commands that start with one of ``prefixes`` (a whole
    word: ``"git status"`` allows ``git status -s`` but not ``git statusx``) or match one
    of ``regex``; it declines the rest.

    Commands are compared after unwrapping a ``bash -lc '…'`` shell wrapper. A prefix never
    accepts a command that chains or redirects (``;``, ``&&``, ``|``, ``>``, ``$(`` …), so
    ``"git status"`` does not let ``git status; rm -rf ~`` through; a regex is taken as
    written, so anchor it and mind those characters yourself.
    """
    patterns = [re.compile(p) for p in ([regex] if isinstance(regex, (str, re.Pattern)) else regex)]

    def decide(request: CommandApprovalRequest) -> Decision:
        command = unwrap_shell(request.command)
        simple = _SHELL_CONTROL.search(command) is None
        for prefix in prefixes:
            if simple and (command == prefix or command.startswith(prefix + " ")):
                return "accept"
        if any(pattern.search(command) for pattern in patterns):
            return "accept"
        return "decline"

    return decide


def allow_file_changes_under(
    *roots: str | os.PathLike[str],
) -> Callable[[FileChangeApprovalRequest], Decision]:
    """A file-change callback accepting changes whose every path lies under one of
    ``roots``; it declines the rest (and changes whose paths are unknown)."""
    resolved = [os.path.realpath(os.fspath(root)) for root in roots]

    def decide(request: FileChangeApprovalRequest) -> Decision:
        if not request.paths:
            return "decline"
        for path in request.paths:
            real = os.path.realpath(path)
            if not any(real == root or real.startswith(root + os.sep) for root in resolved):
                return "decline"
        return "accept"

    return decide


_SHELL_CONTROL = re.compile(r"[;&|<>`\n]|\$\(")
