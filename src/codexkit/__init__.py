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

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "AsyncCodex": "._client",
    "AsyncThread": "._thread",
    "AsyncTurn": "._turn",
    "PINNED_VERSION": "._binary",
    "find_codex": "._binary",
    "CodexBinary": "._binary",
    "ServerRequest": "._rpc",
    **dict.fromkeys(
        [
            "CodexError",
            "CodexNotFoundError",
            "CodexTimeoutError",
            "InternalRpcError",
            "InvalidParamsError",
            "InvalidRequestError",
            "MethodNotFoundError",
            "RpcError",
            "ServerOverloadedError",
            "TransportClosedError",
            "TurnFailedError",
        ],
        "._errors",
    ),
    **dict.fromkeys(
        [
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
        ],
        ".types",
    ),
    **dict.fromkeys(
        [
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
        ],
        ".events",
    ),
}

__all__ = sorted(_EXPORTS)


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
    from ._binary import PINNED_VERSION, CodexBinary, find_codex
    from ._client import AsyncCodex
    from ._errors import (
        CodexError,
        CodexNotFoundError,
        CodexTimeoutError,
        InternalRpcError,
        InvalidParamsError,
        InvalidRequestError,
        MethodNotFoundError,
        RpcError,
        ServerOverloadedError,
        TransportClosedError,
        TurnFailedError,
    )
    from ._rpc import ServerRequest
    from ._thread import AsyncThread
    from ._turn import AsyncTurn
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
