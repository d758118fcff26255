"""One remote skill and one call of it: the skill's ``dynamicTools`` entry, its handler
run under its timeout, and the records a call leaves (:class:`SkillDispatch`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from ..tools import ArgumentsError, Tool, ToolResult

__all__ = [
    "DEFAULT_HANDLER_TIMEOUT",
    "RemoteSkillError",
    "Skill",
    "SkillDispatch",
    "SkillRunResult",
    "check_timeout",
]

log = logging.getLogger("codexkit.manager")

DEFAULT_HANDLER_TIMEOUT = 60.0


class RemoteSkillError(Exception):
    """A remote-skill run ended without what it required (an assistant reply)."""


@dataclass(frozen=True)
class SkillDispatch:
    """One tool call and how it was answered.

    ``result`` is what the handler returned (``None`` when it failed); ``error`` the
    text the model saw when it failed (it raised, ran past its timeout, got arguments
    its signature refused, or named no registered skill); ``duration`` the handler's
    seconds. ``answered`` is false when the server had the call answered already (by
    another worker, or expired): this answer did not reach the agent."""

    request_id: str
    tool: str
    arguments: Any
    result: Any
    error: str | None
    duration: float
    answered: bool
    turn_id: str | None
    call_id: str | None
    output: ToolResult

    @property
    def success(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class SkillRunResult:
    """What ``send_and_handle`` saw: the turn's end, its reply and the calls served."""

    session_id: str
    turn_id: str
    status: str
    assistant_reply: str | None
    dispatches: list[SkillDispatch]


@dataclass
class Skill:
    """A registered skill: its tool (the ``@tool`` machinery), an explicit input schema
    if one was given, and its own timeout (``None``: the session's)."""

    tool: Tool[..., Any]
    input_schema: dict[str, Any] | None
    timeout: float | None

    def spec(self) -> dict[str, Any]:
        """The contract's ``dynamicTools`` entry (its description may not be empty)."""
        schema = self.tool.input_schema if self.input_schema is None else self.input_schema
        return {
            "name": self.tool.name,
            "description": self.tool.description or f"The {self.tool.name} skill.",
            "inputSchema": dict(schema),
        }

    async def call(self, arguments: Any, default_timeout: float | None) -> tuple[Any, ToolResult]:
        """The handler's value and what the model is sent. Never raises but for
        cancellation: bad arguments, an exception or the timeout become a failed
        result saying so."""
        name = self.tool.name
        timeout = self.timeout if self.timeout is not None else default_timeout
        task = asyncio.ensure_future(self.tool.run(arguments))
        finished, _ = await asyncio.wait({task}, timeout=timeout)
        if not finished:
            # A sync handler's thread cannot be stopped: it finishes unheard.
            task.cancel()
            log.warning("remote skill %s ran past its timeout of %s s", name, timeout)
            return None, ToolResult.error(f"skill {name!r} did not finish within {timeout:g} s")
        try:
            value = task.result()
            return value, ToolResult.from_value(value)
        except ArgumentsError as exc:
            return None, ToolResult.error(str(exc))
        except Exception as exc:
            log.warning("remote skill %s failed", name, exc_info=exc)
            return None, ToolResult.from_exception(exc)


def check_timeout(seconds: float | None) -> None:
    if seconds is not None and (isinstance(seconds, bool) or not seconds > 0):
        raise ValueError(f"a handler timeout must be a positive number of seconds, not {seconds!r}")
