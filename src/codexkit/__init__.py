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

__version__ = "0.1.0"

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
    "ConfigWriteResult",
    "DeviceCodeLogin",
    "DiffUpdated",
    "DynamicToolCallItem",
    "Event",
    "FileChange",
    "FileChangeItem",
    "FileChangeOutputDelta",
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
    "McpToolCallItem",
    "MethodNotFoundError",
    "ModelInfo",
    "Notification",
    "OutputParseError",
    "PlanItem",
    "PlanStep",
    "PlanUpdated",
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
    "._binary": ("PINNED_VERSION", "CodexBinary", "find_codex"),
    "._client": ("AsyncCodex",),
    "._errors": (
        "CodexError",
        "CodexNotFoundError",
        "CodexTimeoutError",
        "InternalRpcError",
        "InvalidArgumentError",
        "InvalidInputError",
        "InvalidParamsError",
        "InvalidRequestError",
        "MethodNotFoundError",
        "OutputParseError",
        "RpcError",
        "ServerOverloadedError",
        "TransportClosedError",
        "TurnFailedError",
    ),
    "._rpc": ("ServerRequest",),
    "._thread": ("AsyncThread",),
    "._turn": ("AsyncTurn",),
    ".events": (
        "AgentMessageDelta",
        "CommandOutputDelta",
        "DiffUpdated",
        "Event",
        "FileChangeOutputDelta",
        "ItemCompleted",
        "ItemStarted",
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
    "._sync": ("Codex", "Thread", "Turn"),
    ".tools": ("Tool", "ToolRegistry", "ToolResult", "image_content", "tool"),
    "._account": (
        "AccountInfo",
        "AsyncAccount",
        "AsyncSettings",
        "AsyncChatGptLogin",
        "ConfigWriteResult",
        "AsyncDeviceCodeLogin",
        "LoginFailedError",
    ),
    "._client_ops": (
        "CommandResult",
        "ModelInfo",
        "AsyncThreadListing",
        "ThreadPage",
        "ThreadSummary",
    ),
    "._sync_account": (
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
    from ._account import (
        AccountInfo,
        AsyncAccount,
        AsyncChatGptLogin,
        AsyncDeviceCodeLogin,
        AsyncSettings,
        ConfigWriteResult,
        LoginFailedError,
    )
    from ._binary import PINNED_VERSION, CodexBinary, find_codex
    from ._client import AsyncCodex
    from ._client_ops import (
        AsyncThreadListing,
        CommandResult,
        ModelInfo,
        ThreadPage,
        ThreadSummary,
    )
    from ._errors import (
        CodexError,
        CodexNotFoundError,
        CodexTimeoutError,
        InternalRpcError,
        InvalidArgumentError,
        InvalidInputError,
        InvalidParamsError,
        InvalidRequestError,
        MethodNotFoundError,
        OutputParseError,
        RpcError,
        ServerOverloadedError,
        TransportClosedError,
        TurnFailedError,
    )
    from ._rpc import ServerRequest
    from ._sync import (
        Codex,
        Thread,
        Turn,
    )
    from ._sync_account import (
        Account,
        ChatGptLogin,
        DeviceCodeLogin,
        Settings,
        ThreadListing,
    )
    from ._thread import AsyncThread
    from ._turn import AsyncTurn
    from .approvals import (
        ApprovalPolicy,
        allow_commands,
        allow_file_changes_under,
    )
    from .events import (
        AgentMessageDelta,
        CommandOutputDelta,
        DiffUpdated,
        Event,
        FileChangeOutputDelta,
        ItemCompleted,
        ItemStarted,
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
