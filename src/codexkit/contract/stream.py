"""The websocket ``/api/stream``: the frames the server sends and the commands it takes.

Every event is a frame ``{type, threadId, payload}``; ``threadId`` is ``None`` for events
that belong to no thread (account, apps, MCP login), which every socket receives. A socket
that subscribed to a thread receives that thread's events and those.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter

from ._base import ContractModel

__all__ = [
    "AppServerEnvelope",
    "EnvelopeContext",
    "PingCommand",
    "PongFrame",
    "ReadyFrame",
    "StreamCommand",
    "StreamErrorFrame",
    "StreamFrame",
    "SubscribeCommand",
    "UnsubscribeCommand",
    "app_server_event_type",
    "parse_stream_command",
]


class StreamFrame(ContractModel):
    """One event: ``type`` names it (``approval``, ``app_server.turn.completed``, ...)."""

    type: str
    thread_id: str | None
    payload: Any = None


class ReadyFrame(ContractModel):
    """Sent first on every socket; ``threadId`` is the filter from ``?threadId=``."""

    type: Literal["ready"] = "ready"
    thread_id: str | None = None


class PongFrame(ContractModel):
    type: Literal["pong"] = "pong"


class StreamErrorFrame(ContractModel):
    """The answer to a command the server could not read; the socket stays open."""

    type: Literal["error"] = "error"
    message: str


class SubscribeCommand(ContractModel):
    type: Literal["subscribe"]
    thread_id: str = Field(min_length=1)


class UnsubscribeCommand(ContractModel):
    type: Literal["unsubscribe"]


class PingCommand(ContractModel):
    type: Literal["ping"]


StreamCommand = Annotated[
    SubscribeCommand | UnsubscribeCommand | PingCommand, Field(discriminator="type")
]
_COMMAND: TypeAdapter[SubscribeCommand | UnsubscribeCommand | PingCommand] = TypeAdapter(
    StreamCommand
)


def parse_stream_command(text: str | bytes) -> SubscribeCommand | UnsubscribeCommand | PingCommand:
    """A client's command; raises ``pydantic.ValidationError`` for anything else."""
    return _COMMAND.validate_json(text)


class EnvelopeContext(ContractModel):
    thread_id: str | None
    turn_id: str | None


class AppServerEnvelope(ContractModel):
    """The payload of an ``app_server.*`` frame: one app-server message and its context.

    ``signalType`` is ``notification`` or ``request``; ``requestId`` (requests only) is the
    id the REST lists show, so a client can answer the signal over REST.
    """

    model_config = ConfigDict(extra="allow")
    source: str
    signal_type: Literal["notification", "request"]
    event_type: str
    method: str
    received_at: str
    context: EnvelopeContext
    params: Any
    session: Any = None
    request_id: str | None = None


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def app_server_event_type(method: str, *, request: bool = False) -> str:
    """The frame type of an app-server message: each ``/`` part of the method in
    snake_case, joined with ``.``, after ``app_server.`` (``app_server.request.`` for a
    server request): ``item/fileChange/requestApproval`` ->
    ``app_server.request.item.file_change.request_approval``."""
    parts = [_CAMEL_BOUNDARY.sub("_", part).lower() for part in method.split("/")]
    prefix = "app_server.request." if request else "app_server."
    return prefix + ".".join(parts)
