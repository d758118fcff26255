"""codexkit: run the Codex coding agent from Python.

::

    import asyncio
    from codexkit import AsyncCodex

    async def main() -> None:
        async with AsyncCodex() as codex:
            thread = await codex.start_thread()
            print(await thread.ask("Say hello"))

    asyncio.run(main())

Names are imported on first use, so ``import codexkit`` costs almost nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__

__all__ = [
    "PINNED_VERSION",
    "Account",
    "AccountInfo",
    "AgentMessageDelta",
    "AgentMessageItem",
    "ApprovalPolicy",
    "AsyncAccount",
    "AsyncChatGptLogin",
    "AsyncCodex",
    "AsyncDeviceCodeLogin",
    "AsyncSettings",
    "AsyncThread",
    "AsyncThreadListing",
    "AsyncTurn",
    "ChatGptLogin",
    "Codex",
    "CodexBinary",
    "CodexError",
    "CodexNotFoundError",
    "CodexTimeoutError",
    "CommandExecutionItem",
    "CommandOutputDelta",
    "CommandResult",
    "ConcurrentConsumerError",
    "ConfigWriteResult",
    "Connection",
    "DeviceCodeLogin",
    "DiffUpdated",
    "DynamicToolCallItem",
    "Event",
    "EventBufferFullError",
    "ExecError",
    "FileChange",
    "FileChangeItem",
    "FileChangeOutputDelta",
    "ForkedClientError",
    "ImageInput",
    "InternalRpcError",
    "InvalidArgumentError",
    "InvalidInputError",
    "InvalidParamsError",
    "InvalidRequestError",
    "Item",
    "ItemCompleted",
    "ItemStarted",
    "LocalImageInput",
    "LoginFailedError",
    "MalformedEvent",
    "McpHttpServer",
    "McpStdioServer",
    "McpToolCallItem",
    "MessageTooLargeError",
    "MethodNotFoundError",
    "ModelInfo",
    "Notification",
    "OutputParseError",
    "PlanItem",
    "PlanStep",
    "PlanUpdated",
    "ProtocolError",
    "ReasoningDelta",
    "ReasoningItem",
    "RpcError",
    "ServerInfo",
    "ServerOverloadedError",
    "ServerRequest",
    "Settings",
    "StreamError",
    "TextInput",
    "Thread",
    "ThreadHasForksError",
    "ThreadListing",
    "ThreadPage",
    "ThreadSummary",
    "TokenUsage",
    "TokenUsageUpdated",
    "Tool",
    "ToolRegistry",
    "ToolResult",
    "TransportClosedError",
    "Turn",
    "TurnCompleted",
    "TurnFailed",
    "TurnFailedError",
    "TurnResult",
    "TurnStarted",
    "UnknownItem",
    "UserMessageItem",
    "WebSearchItem",
    "allow_commands",
    "allow_file_changes_under",
    "find_codex",
    "image_content",
    "tool",
]

# module -> the public names it defines; each is imported on first use
_MODULES: dict[str, tuple[str, ...]] = {
    "._runtime.binary": ("PINNED_VERSION", "CodexBinary", "find_codex"),
    "._client.client": ("AsyncCodex",),
    ".errors": (
        "CodexError",
        "CodexNotFoundError",
        "CodexTimeoutError",
        "ExecError",
        "LoginFailedError",
        "ConcurrentConsumerError",
        "EventBufferFullError",
        "ForkedClientError",
        "InternalRpcError",
        "InvalidArgumentError",
        "InvalidInputError",
        "InvalidParamsError",
        "InvalidRequestError",
        "MessageTooLargeError",
        "MethodNotFoundError",
        "OutputParseError",
        "ProtocolError",
        "RpcError",
        "ServerOverloadedError",
        "ThreadHasForksError",
        "TransportClosedError",
        "TurnFailedError",
    ),
    "._connection.rpc": ("Connection", "ServerRequest"),
    "._client.thread": ("AsyncThread",),
    "._client.turn": ("AsyncTurn",),
    ".events": (
        "AgentMessageDelta",
        "CommandOutputDelta",
        "DiffUpdated",
        "Event",
        "FileChangeOutputDelta",
        "ItemCompleted",
        "ItemStarted",
        "MalformedEvent",
        "Notification",
        "PlanStep",
        "PlanUpdated",
        "ReasoningDelta",
        "StreamError",
        "TokenUsageUpdated",
        "TurnCompleted",
        "TurnFailed",
        "TurnStarted",
    ),
    ".types": (
        "AgentMessageItem",
        "CommandExecutionItem",
        "DynamicToolCallItem",
        "FileChange",
        "FileChangeItem",
        "ImageInput",
        "Item",
        "LocalImageInput",
        "McpToolCallItem",
        "PlanItem",
        "ReasoningItem",
        "ServerInfo",
        "TextInput",
        "TokenUsage",
        "TurnResult",
        "UnknownItem",
        "UserMessageItem",
        "WebSearchItem",
    ),
    ".approvals": ("ApprovalPolicy", "allow_commands", "allow_file_changes_under"),
    ".mcp": ("McpHttpServer", "McpStdioServer"),
    "._sync.client": ("Codex",),
    "._sync.thread": ("Thread", "Turn"),
    ".tools": ("Tool", "ToolRegistry", "ToolResult", "image_content", "tool"),
    "._client.account": (
        "AccountInfo",
        "AsyncAccount",
        "AsyncSettings",
        "AsyncChatGptLogin",
        "ConfigWriteResult",
        "AsyncDeviceCodeLogin",
    ),
    "._client.resources": (
        "CommandResult",
        "ModelInfo",
        "AsyncThreadListing",
        "ThreadPage",
        "ThreadSummary",
    ),
    "._sync.account": (
        "Account",
        "Settings",
        "ChatGptLogin",
        "DeviceCodeLogin",
        "ThreadListing",
    ),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'codexkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from ._client.account import (
        AccountInfo,
        AsyncAccount,
        AsyncChatGptLogin,
        AsyncDeviceCodeLogin,
        AsyncSettings,
        ConfigWriteResult,
    )
    from ._client.client import AsyncCodex
    from ._client.resources import (
        AsyncThreadListing,
        CommandResult,
        ModelInfo,
        ThreadPage,
        ThreadSummary,
    )
    from ._client.thread import AsyncThread
    from ._client.turn import AsyncTurn
    from ._connection.rpc import Connection, ServerRequest
    from ._runtime.binary import PINNED_VERSION, CodexBinary, find_codex
    from ._sync.account import (
        Account,
        ChatGptLogin,
        DeviceCodeLogin,
        Settings,
        ThreadListing,
    )
    from ._sync.client import Codex
    from ._sync.thread import Thread, Turn
    from .approvals import (
        ApprovalPolicy,
        allow_commands,
        allow_file_changes_under,
    )
    from .errors import (
        CodexError,
        CodexNotFoundError,
        CodexTimeoutError,
        ConcurrentConsumerError,
        EventBufferFullError,
        ExecError,
        ForkedClientError,
        InternalRpcError,
        InvalidArgumentError,
        InvalidInputError,
        InvalidParamsError,
        InvalidRequestError,
        LoginFailedError,
        MessageTooLargeError,
        MethodNotFoundError,
        OutputParseError,
        ProtocolError,
        RpcError,
        ServerOverloadedError,
        ThreadHasForksError,
        TransportClosedError,
        TurnFailedError,
    )
    from .events import (
        AgentMessageDelta,
        CommandOutputDelta,
        DiffUpdated,
        Event,
        FileChangeOutputDelta,
        ItemCompleted,
        ItemStarted,
        MalformedEvent,
        Notification,
        PlanStep,
        PlanUpdated,
        ReasoningDelta,
        StreamError,
        TokenUsageUpdated,
        TurnCompleted,
        TurnFailed,
        TurnStarted,
    )
    from .mcp import McpHttpServer, McpStdioServer
    from .tools import (
        Tool,
        ToolRegistry,
        ToolResult,
        image_content,
        tool,
    )
    from .types import (
        AgentMessageItem,
        CommandExecutionItem,
        DynamicToolCallItem,
        FileChange,
        FileChangeItem,
        ImageInput,
        Item,
        LocalImageInput,
        McpToolCallItem,
        PlanItem,
        ReasoningItem,
        ServerInfo,
        TextInput,
        TokenUsage,
        TurnResult,
        UnknownItem,
        UserMessageItem,
        WebSearchItem,
    )
