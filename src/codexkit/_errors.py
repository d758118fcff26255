"""The exceptions codexkit raises.

Catch :class:`CodexError` for everything, or a subclass at the depth you need::

    CodexError
    ├── CodexNotFoundError      no codex binary could be found
    ├── TransportClosedError    the app-server went away (exit code, stderr tail)
    ├── RpcError                the app-server answered a request with an error
    │   ├── InvalidRequestError / MethodNotFoundError / InvalidParamsError
    │   ├── InternalRpcError
    │   └── ServerOverloadedError
    ├── TurnFailedError         a turn ended with status "failed"
    ├── OutputParseError        a structured answer did not parse (``raw_text`` kept)
    ├── CodexTimeoutError       a wait ran out of time (also a ``TimeoutError``)
    ├── InvalidArgumentError    an argument refused before sending (also a ``ValueError``)
    └── InvalidInputError       a turn input of no known shape (also a ``TypeError``)
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
]


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
        from .types import error_object

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


class InvalidArgumentError(CodexError, ValueError):
    """An argument codexkit checks before sending anything was refused: a ``cwd`` that is
    not an existing directory, an ``output_schema`` that is not a JSON Schema, an empty
    turn input. Nothing reached the app-server."""


class InvalidInputError(CodexError, TypeError):
    """A turn input of no known shape: not a string, an input object (``TextInput``,
    ``ImageInput``, ``LocalImageInput``), a protocol ``UserInput`` dict, or a list of
    them. Nothing reached the app-server."""
