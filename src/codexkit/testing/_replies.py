"""Scripted replies: what the fake model answers to one request.

A `Reply` is an immutable list of *steps*: output items (an assistant message,
a function call), pauses, and at most one failure at the end. The server turns
it into the server-sent events of one Responses API stream::

    response.created
    <for each output item: output_item.added / output_text.delta... / output_item.done>
    response.completed (with usage)   | response.failed (after `failure`)

Ids (response, message, call ids) are minted each time a reply is rendered, so
replies never collide within a thread, even when the same `Reply` is sent twice.
Replies combine with ``+`` into one response: ``text("Let me look.") + shell("ls")``.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Union

from codexkit.testing._recorded import RecordedRequest

#: How a reply picks its request: a substring of the request's `last_user_text`,
#: or a predicate over the whole `RecordedRequest`.
Matcher = Union[str, Callable[[RecordedRequest], bool]]  # noqa: UP007 (runtime alias on 3.10)

#: One server-sent event: its ``event:`` name and its ``data:`` JSON object.
Event = tuple[str, dict[str, Any]]

_DEFAULT_CHUNKS = 3


class Usage(NamedTuple):
    """Token usage reported in ``response.completed``."""

    input_tokens: int = 10
    output_tokens: int = 5

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


_DEFAULT_USAGE = Usage()


@dataclass(frozen=True)
class _Message:
    text: str
    chunks: tuple[str, ...]


@dataclass(frozen=True)
class _FunctionCall:
    name: str
    arguments: str
    call_id: str | None
    namespace: str | None = None


@dataclass(frozen=True)
class _CustomCall:
    name: str
    input: str
    call_id: str | None


@dataclass(frozen=True)
class Pause:
    """Hold the stream open: for `seconds`, or until the server stops when None."""

    seconds: float | None


@dataclass(frozen=True)
class _Failure:
    message: str
    code: str


_Step = Union[_Message, _FunctionCall, _CustomCall, Pause, _Failure]  # noqa: UP007


@dataclass(frozen=True)
class Reply:
    """One scripted model response. Build it with `text`, `shell`, `tool_call`,
    `json_reply`, `failure` or `stall`, and combine replies with ``+``.

    `usage` is what ``response.completed`` reports. `match`, when set, restricts
    which request may take this reply (see `ScriptedModel.add`).
    """

    steps: tuple[_Step, ...]
    usage: Usage = _DEFAULT_USAGE
    match: Matcher | None = None

    def __add__(self, other: Reply) -> Reply:
        """One response carrying this reply's steps, then `other`'s.

        The result keeps the left usage; `match` comes from whichever side set one.
        """
        if not isinstance(other, Reply):
            return NotImplemented
        if self.steps and _is_final(self.steps[-1]):
            raise ValueError("nothing can follow failure() or stall() without seconds")
        if self.match is not None and other.match is not None and self.match != other.match:
            raise ValueError("cannot combine replies with different matches")
        match = self.match if self.match is not None else other.match
        return Reply(self.steps + other.steps, self.usage, match)

    def with_usage(self, input_tokens: int, output_tokens: int) -> Reply:
        """A copy reporting this token usage."""
        return replace(self, usage=Usage(input_tokens, output_tokens))

    def matching(self, match: Matcher | None) -> Reply:
        """A copy restricted to requests that `match` (None: any request)."""
        return replace(self, match=match)

    def matches(self, request: RecordedRequest) -> bool:
        """Whether this reply may answer `request`."""
        if self.match is None:
            return True
        if isinstance(self.match, str):
            return self.match in (request.last_user_text or "")
        return bool(self.match(request))

    def events(self) -> list[Event | Pause]:
        """The stream to send, with fresh ids; `Pause` marks where to hold it open."""
        response_id = _new_id("resp")
        out: list[Event | Pause] = [_event("response.created", response={"id": response_id})]
        for index, step in enumerate(self.steps):
            out.extend(_render(step, index, response_id))
        if not self.steps or not isinstance(self.steps[-1], (Pause, _Failure)):
            usage = {
                "input_tokens": self.usage.input_tokens,
                "input_tokens_details": None,
                "output_tokens": self.usage.output_tokens,
                "output_tokens_details": None,
                "total_tokens": self.usage.total_tokens,
            }
            response = {"id": response_id, "status": "completed", "usage": usage}
            out.append(_event("response.completed", response=response))
        return out


def text(s: str, *, chunks: int | None = None, usage: tuple[int, int] | None = None) -> Reply:
    """An assistant message saying `s`, streamed as text deltas.

    `chunks` is how many deltas to split it into (by characters); by default it
    is split at word boundaries into a few pieces, as a real model streams.
    """
    if chunks is not None and chunks < 1:
        raise ValueError("chunks must be at least 1")
    pieces = _split_chars(s, chunks) if chunks is not None else _split_words(s, _DEFAULT_CHUNKS)
    return _reply(_Message(s, pieces), usage)


def json_reply(obj: Any, *, usage: tuple[int, int] | None = None) -> Reply:
    """An assistant message whose text is ``json.dumps(obj)`` (structured output)."""
    return text(json.dumps(obj), usage=usage)


def shell(
    cmd: str,
    *,
    call_id: str | None = None,
    workdir: str | None = None,
    escalate: bool = False,
    justification: str | None = None,
    usage: tuple[int, int] | None = None,
) -> Reply:
    """A call of codex's shell tool, ``exec_command``, running `cmd`.

    The command runs without a login shell (``login: false``) so profile noise
    stays out of its output. `escalate` asks to run outside the sandbox, which
    makes codex request an approval under the ``on-request`` policy.
    """
    arguments: dict[str, Any] = {"cmd": cmd, "login": False}
    if workdir is not None:
        arguments["workdir"] = workdir
    if escalate:
        arguments["sandbox_permissions"] = "require_escalated"
    if justification is not None:
        arguments["justification"] = justification
    return tool_call("exec_command", arguments, call_id=call_id, usage=usage)


def tool_call(
    name: str,
    arguments: dict[str, Any],
    *,
    call_id: str | None = None,
    namespace: str | None = None,
    usage: tuple[int, int] | None = None,
) -> Reply:
    """A call of the tool `name` (e.g. a dynamic tool of the thread) with `arguments`.

    `namespace` names the tool's namespace when it was declared inside one.
    """
    call = _FunctionCall(name, json.dumps(arguments), call_id, namespace)
    return _reply(call, usage)


def mcp_tool_call(
    server: str,
    tool: str,
    arguments: dict[str, Any] | None = None,
    *,
    call_id: str | None = None,
    usage: tuple[int, int] | None = None,
) -> Reply:
    """A call of the tool `tool` of the MCP server `server`. The runtime offers each
    server's tools to the model in a namespace of their own, ``mcp__<server>``."""
    return tool_call(
        tool, arguments or {}, call_id=call_id, namespace=f"mcp__{server}", usage=usage
    )


def apply_patch(
    patch: str, *, call_id: str | None = None, usage: tuple[int, int] | None = None
) -> Reply:
    """A call of codex's file-editing tool, ``apply_patch``, with `patch` in its format::

        *** Begin Patch
        *** Add File: hello.txt
        +hello
        *** End Patch

    codex offers the tool only for models it knows: give the home a known slug, e.g.
    ``model.codex_home(path, extra_config={"model": "gpt-5.5"})``.
    """
    return _reply(_CustomCall("apply_patch", patch, call_id), usage)


def failure(message: str = "boom", *, code: str = "server_error") -> Reply:
    """A response that fails with `code` and `message` (``response.failed``)."""
    return Reply((_Failure(message, code),))


def stall(seconds: float | None = None) -> Reply:
    """A response that starts and then hangs, for `seconds` or until the server stops.

    When nothing follows it, the connection is dropped after `seconds` without the
    response completing. ``stall(1) + text("late")`` is a slow model instead.
    Stopping the server ends every stall at once.
    """
    if seconds is not None and seconds < 0:
        raise ValueError("seconds must not be negative")
    return Reply((Pause(seconds),))


def _reply(step: _Step, usage: tuple[int, int] | None) -> Reply:
    return Reply((step,), _DEFAULT_USAGE if usage is None else Usage(*usage))


def _is_final(step: _Step) -> bool:
    return isinstance(step, _Failure) or (isinstance(step, Pause) and step.seconds is None)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _event(kind: str, **fields: Any) -> Event:
    return kind, {"type": kind, **fields}


def _render(step: _Step, index: int, response_id: str) -> list[Event | Pause]:
    """The events of one step; `index` is its ``output_index`` in the response."""
    if isinstance(step, _Message):
        return list(_message_events(step, index))
    if isinstance(step, _FunctionCall):
        return [_function_call_event(step, index)]
    if isinstance(step, _CustomCall):
        item = {
            "type": "custom_tool_call",
            "id": _new_id("ctc"),
            "call_id": step.call_id or _new_id("call"),
            "name": step.name,
            "input": step.input,
            "status": "completed",
        }
        return [_event("response.output_item.done", output_index=index, item=item)]
    if isinstance(step, _Failure):
        error = {"code": step.code, "message": step.message}
        response = {"id": response_id, "status": "failed", "error": error}
        return [_event("response.failed", response=response)]
    return [step]


def _message_events(message: _Message, index: int) -> list[Event]:
    item_id = _new_id("msg")
    item: dict[str, Any] = {"type": "message", "role": "assistant", "id": item_id}
    events = [
        _event("response.output_item.added", output_index=index, item={**item, "content": []})
    ]
    for piece in message.chunks:
        events.append(
            _event(
                "response.output_text.delta",
                item_id=item_id,
                output_index=index,
                content_index=0,
                delta=piece,
            )
        )
    content = [{"type": "output_text", "text": message.text, "annotations": []}]
    done = {**item, "status": "completed", "content": content}
    events.append(_event("response.output_item.done", output_index=index, item=done))
    return events


def _function_call_event(call: _FunctionCall, index: int) -> Event:
    item: dict[str, Any] = {
        "type": "function_call",
        "id": _new_id("fc"),
        "call_id": call.call_id or _new_id("call"),
        "name": call.name,
        "arguments": call.arguments,
        "status": "completed",
    }
    if call.namespace is not None:
        item["namespace"] = call.namespace
    return _event("response.output_item.done", output_index=index, item=item)


def _split_chars(s: str, chunks: int) -> tuple[str, ...]:
    """`s` in `chunks` pieces of near-equal length (fewer if `s` is shorter)."""
    n = max(1, min(chunks, len(s)))
    cuts = [round(i * len(s) / n) for i in range(n + 1)]
    return tuple(s[a:b] for a, b in itertools.pairwise(cuts) if a < b)


def _split_words(s: str, chunks: int) -> tuple[str, ...]:
    """`s` in at most `chunks` pieces, each cut where a word starts."""
    starts = [m.start() for m in re.finditer(r"(?<=\s)\S", s)]
    words = len(starts) + 1
    n = min(chunks, words)
    # Cut i goes before word round(i * words / n): pieces of near-equal word counts.
    cuts = [0, *(starts[round(i * words / n) - 1] for i in range(1, n)), len(s)]
    return tuple(s[a:b] for a, b in itertools.pairwise(cuts) if a < b)
