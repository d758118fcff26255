"""Byte transports that carry newline-free JSON-RPC messages to and from an app-server."""

from ._base import DEFAULT_MAX_MESSAGE_SIZE, MessageSink, Transport
from ._stdio import StdioTransport
from ._unix import UnixSocketTransport

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "MessageSink",
    "StdioTransport",
    "Transport",
    "UnixSocketTransport",
]
