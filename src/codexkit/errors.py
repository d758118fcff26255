"""The exceptions codexkit raises.

Catch :class:`CodexError` for everything, or a subclass at the depth you need::

    CodexError
    ├── CodexNotFoundError      no codex binary could be found
    ├── TransportClosedError    the app-server went away (exit code, stderr tail)
    │   └── MessageTooLargeError    it sent a message over ``max_message_size``
    ├── RpcError                the app-server answered a request with an error
    │   ├── InvalidRequestError / MethodNotFoundError / InvalidParamsError
    │   │   └── ThreadHasForksError   (InvalidRequestError) delete refused: forks remain
    │   ├── InternalRpcError
    │   └── ServerOverloadedError
    ├── TurnFailedError         a turn ended with status "failed"
    ├── ForkedClientError       a client was used in a process forked from its owner
    ├── OutputParseError        a structured answer did not parse (``raw_text`` kept)
    ├── ProtocolError           a message that should end a turn made no sense (``raw``)
    ├── EventBufferFullError    a turn buffered ``max_buffered_events`` unread events
    ├── ConcurrentConsumerError a second consumer asked for a turn's events at once
    ├── CodexTimeoutError       a wait ran out of time (also a ``TimeoutError``)
    ├── InvalidArgumentError    an argument refused before sending (also a ``ValueError``)
    ├── InvalidInputError       a turn input of no known shape (also a ``TypeError``)
    ├── LoginFailedError        a browser or device-code login did not complete
    └── ExecError               ``codex exec`` ended without finishing its turn
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .types import TurnResult

__all__ = [
    "CodexError",
    "CodexNotFoundError",
    "CodexTimeoutError",
    "ConcurrentConsumerError",
    "EventBufferFullError",
    "ExecError",
    "ForkedClientError",
    "InternalRpcError",
    "InvalidArgumentError",
    "InvalidInputError",
    "InvalidParamsError",
    "InvalidRequestError",
    "LoginFailedError",
    "MessageTooLargeError",
    "MethodNotFoundError",
    "OutputParseError",
    "ProtocolError",
    "RpcError",
    "ServerOverloadedError",
    "ThreadHasForksError",
    "TransportClosedError",
    "TurnFailedError",
    "error_object",
]


def error_object(value: Any) -> dict[str, Any] | None:
    """A codex error as the object the protocol describes: a dict as it is, a bare
    message (a string, or anything else) as ``{"message": ...}``; ``None`` for none."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        return value
    return {"message": value if isinstance(value, str) else repr(value)}


class CodexError(Exception):
    """Base class of every error codexkit raises on purpose."""


class CodexNotFoundError(CodexError):
    """No usable ``codex`` binary was found; ``tried`` lists every place looked at."""

    def __init__(self, tried: Sequence[str]) -> None:
        self.tried = list(tried)
        lines = "\n".join(f"  - {place}" for place in self.tried)
        super().__init__(
            "could not find the codex binary. Looked at:\n"
            f"{lines}\n"
            "Install codexkit with its bundled runtime (pip install codexkit), pass codex_bin=, "
            "or set CODEXKIT_CODEX_BIN."
        )


class TransportClosedError(CodexError):
    """The connection to the app-server closed while something still waited on it."""

    def __init__(
        self, message: str, *, exit_code: int | None = None, stderr_tail: str = ""
    ) -> None:
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail
        detail = message if exit_code is None else f"{message} (exit code {exit_code})"
        if stderr_tail:
            detail = f"{detail}\n--- app-server stderr (tail) ---\n{stderr_tail}"
        super().__init__(detail)


class MessageTooLargeError(TransportClosedError):
    """The app-server sent a message longer than ``max_message_size`` bytes (``limit``).

    It is not read into memory: the connection is closed instead, and everything that
    waits on it fails with this error.
    """

    def __init__(self, limit: int, *, stderr_tail: str = "") -> None:
        self.limit = limit
        super().__init__(
            f"the app-server sent a message over the {limit}-byte limit (max_message_size); "
            "the connection was closed",
            stderr_tail=stderr_tail,
        )


class RpcError(CodexError):
    """The app-server answered a request with a JSON-RPC error."""

    code: int

    def __init__(self, code: int, message: str, data: Any = None, *, method: str = "") -> None:
        self.code = code
        self.message = message
        self.data = data
        self.method = method
        where = f"{method}: " if method else ""
        super().__init__(f"{where}{message} (code {code})")

    @staticmethod
    def from_error(error: dict[str, Any], *, method: str = "") -> RpcError:
        """Build the most specific subclass for a JSON-RPC ``error`` object."""
        code = error.get("code")
        code = code if isinstance(code, int) else -32603
        cls = _BY_CODE.get(code, RpcError)
        return cls(code, str(error.get("message", "")), error.get("data"), method=method)


class InvalidRequestError(RpcError):
    """JSON-RPC -32600: the request was not valid."""


class ThreadHasForksError(InvalidRequestError):
    """``thread.delete()`` was refused because threads forked from this one still use its
    history. Delete those forks first (their ``forkedFromId`` is this thread's id); the
    thread and its forks are left as they were."""

    FORKED_HISTORY = "forked history still references it"


class MethodNotFoundError(RpcError):
    """JSON-RPC -32601: the app-server does not know the method."""


class InvalidParamsError(RpcError):
    """JSON-RPC -32602: the params did not match the method's schema."""


class InternalRpcError(RpcError):
    """JSON-RPC -32603: the app-server failed while handling the request."""


class ServerOverloadedError(RpcError):
    """JSON-RPC -32001: the app-server is busy; retrying later may succeed."""


_BY_CODE: dict[int, type[RpcError]] = {
    -32600: InvalidRequestError,
    -32601: MethodNotFoundError,
    -32602: InvalidParamsError,
    -32603: InternalRpcError,
    -32001: ServerOverloadedError,
}


class TurnFailedError(CodexError):
    """A turn ended with status ``failed``.

    ``error`` is the codex error object of the turn (``message``, ``codexErrorInfo``,
    ``additionalDetails``) and ``result`` the partial :class:`TurnResult`, with every
    item that completed before the failure.
    """

    def __init__(self, result: TurnResult) -> None:
        self.result = result
        self.error: dict[str, Any] = dict(error_object(result.error) or {})
        message = self.error.get("message") or "the turn failed"
        super().__init__(f"turn {result.turn_id} failed: {message}")


class OutputParseError(CodexError):
    """The final answer of a structured-output turn did not parse into the requested type.

    ``raw_text`` is the answer as the agent wrote it; ``result`` the turn's result, when
    the error comes from a finished turn.
    """

    def __init__(self, message: str, *, raw_text: str, result: TurnResult | None = None) -> None:
        self.raw_text = raw_text
        self.result = result
        super().__init__(message)


class CodexTimeoutError(CodexError, TimeoutError):
    """A request, a turn or an idle stream ran out of time."""


class ProtocolError(CodexError):
    """The app-server sent a message codexkit cannot make sense of where it matters: the
    ``turn/completed`` of a turn without a usable ``turn``. ``raw`` is the message."""

    def __init__(self, message: str, *, raw: dict[str, Any]) -> None:
        self.raw = raw
        super().__init__(message)


class EventBufferFullError(CodexError):
    """A turn's unread events reached ``max_buffered_events`` (``limit``): its consumer
    started too late or reads too slowly. The events buffered so far are still
    delivered; then the stream raises this, and the turn is interrupted. Also raised by
    a raw reader of ``Connection.messages()`` that fell ``limit`` messages behind."""

    def __init__(self, turn_id: str | None, limit: int, *, message: str | None = None) -> None:
        self.turn_id = turn_id
        self.limit = limit
        super().__init__(
            message
            or f"turn {turn_id}: {limit} events waited unread (max_buffered_events); "
            "the turn was interrupted"
        )


class ConcurrentConsumerError(CodexError):
    """A turn's events were asked for while another consumer was already waiting for
    them. A turn has one consumer at a time: each event goes to one reader."""


class ForkedClientError(CodexError):
    """A client was used in a process forked from the one that started it.

    The app-server belongs to the process that spawned it (``owner_pid``); a forked
    child (``pid``) shares its pipes but not its event loop, so the inherited client
    cannot work there. Create a new client in the child instead.
    """

    def __init__(self, owner_pid: int, pid: int) -> None:
        self.owner_pid = owner_pid
        self.pid = pid
        super().__init__(
            f"this codexkit client was started by process {owner_pid} and cannot be used "
            f"in process {pid}, forked from it; create a new client in the child"
        )


class LoginFailedError(CodexError):
    """A browser or device-code login ended without success (cancelled, refused, or the
    login server gave up). ``error`` is codex's message, ``login_id`` the login."""

    def __init__(self, login_id: str, error: str | None) -> None:
        self.login_id = login_id
        self.error = error
        super().__init__(f"login {login_id} did not complete: {error or 'no reason given'}")


class ExecError(CodexError):
    """``codex exec`` ended without finishing the turn (it crashed, or refused its
    command line or config), or wrote a line that is not a JSON object.

    ``exit_code`` is its exit status (negative: the signal that ended it; ``None`` if it
    had not exited), ``stderr_tail`` its last lines on stderr, ``line`` the offending
    output line, if that was the trouble.
    """

    def __init__(
        self,
        message: str,
        *,
        exit_code: int | None = None,
        stderr_tail: str = "",
        line: str | None = None,
    ) -> None:
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail
        self.line = line
        detail = message if exit_code is None else f"{message} (exit code {exit_code})"
        if line is not None:
            detail = f"{detail}: {line[:200]!r}"
        if stderr_tail:
            detail = f"{detail}\n--- codex exec stderr (tail) ---\n{stderr_tail}"
        super().__init__(detail)


class InvalidArgumentError(CodexError, ValueError):
    """An argument codexkit checks before sending anything was refused: a ``cwd`` that is
    not an existing directory, an ``output_schema`` that is not a JSON Schema, an empty
    turn input. Nothing reached the app-server."""


class InvalidInputError(CodexError, TypeError):
    """A turn input of no known shape: not a string, an input object (``TextInput``,
    ``ImageInput``, ``LocalImageInput``), a protocol ``UserInput`` dict, or a list of
    them. Nothing reached the app-server."""
