"""The small interface every transport implements."""

from __future__ import annotations

import abc
import collections
import logging
import os
from typing import Any, Protocol

from .._defaults import DEFAULT_MAX_MESSAGE_SIZE
from ..errors import TransportClosedError

__all__ = ["DEFAULT_MAX_MESSAGE_SIZE", "LineSink", "MessageSink", "StderrTail", "Transport"]


class LineSink(Protocol):
    """Where messages read off a stream go. Called on the event loop."""

    def on_message(self, data: bytes) -> None:
        """One complete JSON message, without its framing, still to be parsed."""

    def on_parsed(self, message: Any) -> None:
        """One message the transport has already parsed (any JSON value)."""


class MessageSink(LineSink, Protocol):
    """Where a transport delivers what it reads, and that it closed."""

    def on_closed(self, error: TransportClosedError) -> None:
        """The peer went away; called once, after the last ``on_message``."""


class Transport(abc.ABC):
    """A connection to one app-server. Messages are JSON documents without newlines."""

    #: The pid of the process that opened the connection (set by ``start``). A forked
    #: child inherits the transport; it must leave the parent's connection alone.
    _owner: int | None = None

    def _inherited(self) -> bool:
        """Whether this is a forked copy, in a process that did not open the connection."""
        return self._owner is not None and self._owner != os.getpid()

    @abc.abstractmethod
    async def start(self, sink: MessageSink) -> None:
        """Open the connection and begin delivering messages to ``sink``."""

    @abc.abstractmethod
    def send(self, data: bytes) -> None:
        """Queue one message for writing. Raises :class:`TransportClosedError` when closed."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Shut down, releasing every process and descriptor. Safe to call twice."""

    def stderr_tail(self) -> str:
        """The last lines the peer wrote to stderr, if the transport can see them."""
        return ""

    def abandon(self) -> bool:
        """End the connection at once, from any thread, without the event loop (its
        client was garbage-collected unclosed). Returns whether there was anything to
        end; a no-op in a process forked from the one that opened the connection."""
        return False


class StderrTail:
    """A bounded ring of stderr lines, each also sent to the ``codexkit.stderr`` logger."""

    def __init__(self, max_lines: int = 200, max_line: int = 4096) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=max_lines)
        self._partial = b""
        self._max_line = max_line
        self._log = logging.getLogger("codexkit.stderr")

    def feed(self, data: bytes) -> None:
        chunk = self._partial + data
        *complete, self._partial = chunk.split(b"\n")
        if len(self._partial) > self._max_line:  # a runaway line without newline
            complete.append(self._partial)
            self._partial = b""
        for raw in complete:
            self._add(raw)

    def flush(self) -> None:
        if self._partial:
            self._add(self._partial)
            self._partial = b""

    def _add(self, raw: bytes) -> None:
        line = raw[: self._max_line].decode("utf-8", "replace").rstrip("\r")
        if line:
            self._lines.append(line)
            self._log.debug("%s", line)

    def text(self, lines: int = 20) -> str:
        return "\n".join(list(self._lines)[-lines:])
