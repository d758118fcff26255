"""Byte transports that carry newline-free JSON-RPC messages to and from an app-server."""

from ._base import MessageSink, Transport
from ._stdio import StdioTransport
from ._unix import UnixSocketTransport

__all__ = ["MessageSink", "StdioTransport", "Transport", "UnixSocketTransport"]
