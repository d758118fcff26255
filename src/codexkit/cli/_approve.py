"""Answering the agent's approval requests: asking the person at the terminal, or
answering automatically and saying so.

``--approval`` picks both codex's approval mode (when codex asks) and who answers:

========================  ==============  ==================================================
``--approval``            codex mode      answer
========================  ==============  ==================================================
``never``                 never           codex never asks; what the sandbox refuses fails
``on-request`` (default)  on-request      asked at the terminal, else declined
``untrusted``             untrusted       asked at the terminal, else declined
``auto-accept``           on-request      accepted (``ApprovalPolicy.auto_accept()``)
``auto-decline``          on-request      declined (``ApprovalPolicy.auto_decline()``)
========================  ==============  ==================================================

The callbacks are coroutines, so they run on the event loop next to the renderer: the
prompt pauses the live display, and reading the answer never blocks the loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, Literal, get_args

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from ..approvals import (
    ApprovalPolicy,
    CommandApprovalRequest,
    Decision,
    FileChangeApprovalRequest,
    McpToolCallApprovalRequest,
    PermissionsRequest,
)
from ..types import FileChangeItem, parse_item
from ._common import ApprovalChoice
from ._render import TurnView, command_text

__all__ = ["APPROVAL_CHOICES", "ApprovalChoice", "Approvals"]

APPROVAL_CHOICES: tuple[str, ...] = get_args(ApprovalChoice)
Answer = Literal["ask", "accept", "decline"]
Json = dict[str, Any]

_ANSWERS = {
    "y": "accept",
    "yes": "accept",
    "n": "decline",
    "no": "decline",
    "": "decline",
    "a": "acceptForSession",
    "always": "acceptForSession",
}
_OUTCOMES = {
    "accept": ("✓ approved", "green"),
    "acceptForSession": ("✓ approved for the rest of this session", "green"),
    "decline": ("✗ declined", "yellow"),
}


class Approvals:
    """The CLI's answers to approval requests, shown in ``view``.

    ``answer`` is ``"ask"`` (prompt on the terminal), ``"accept"`` or ``"decline"``;
    ``why`` says, next to an automatic answer, what made it automatic.
    """

    def __init__(self, mode: str, answer: Answer, view: TurnView, *, why: str = "") -> None:
        self.mode = mode
        self.answer = answer
        self.view = view
        self.why = why
        self._asking = asyncio.Lock()
        self._changes: dict[str, FileChangeItem] = {}

    @classmethod
    def from_choice(
        cls, choice: str, view: TurnView, *, interactive: bool, why: str | None = None
    ) -> Approvals:
        """The approvals for an ``--approval`` value; ``interactive`` when a person can
        answer at this terminal."""
        if choice == "auto-accept":
            return cls("on-request", "accept", view, why=why or "--approval auto-accept")
        if choice == "auto-decline":
            return cls("on-request", "decline", view, why=why or "--approval auto-decline")
        if choice not in APPROVAL_CHOICES:
            raise ValueError(f"unknown approval choice {choice!r}")
        if interactive and choice != "never":
            return cls(choice, "ask", view)
        reason = why or "no terminal to ask; --approval auto-accept accepts"
        return cls(choice, "decline", view, why=reason)

    def policy(self) -> ApprovalPolicy:
        """The policy to give the thread. A person may take their time: no time limit."""
        return ApprovalPolicy.custom(
            on_command_execution=self._command,
            on_file_change=self._file_change,
            on_permissions=self._permissions,
            on_mcp_tool_call=self._mcp_tool_call,
            mode=self.mode,
            timeout=None if self.answer == "ask" else 300.0,
        )

    def watch(self, direction: str, message: Json) -> None:
        """Middleware (``codex.use``): keep the file changes in flight, from
        ``item/started`` to ``item/completed``, so that an approval can show the diff
        (a middleware sees each message before the request that follows it)."""
        method = message.get("method")
        if direction != "incoming" or method not in ("item/started", "item/completed"):
            return
        raw = (message.get("params") or {}).get("item")
        if not isinstance(raw, dict) or raw.get("type") != "fileChange":
            return
        item = parse_item(raw)
        if method == "item/completed":
            self._changes.pop(item.id, None)
        elif isinstance(item, FileChangeItem):
            self._changes[item.id] = item

    # -- the three kinds of request ---------------------------------------------------------

    async def _command(self, request: CommandApprovalRequest) -> Decision:
        body: list[RenderableType] = [
            Text.assemble(("$ ", "bold magenta"), (command_text(request.command), "bold"))
        ]
        if request.cwd and request.cwd != self.view.cwd:
            body.append(Text(f"in {request.cwd}", style="dim"))
        if request.reason:
            body.append(Text(f"reason: {request.reason}", style="italic"))
        return await self._decide("The agent wants to run a command", body, session=True)

    async def _file_change(self, request: FileChangeApprovalRequest) -> Decision:
        item = self._changes.get(request.item_id or "")
        body: list[RenderableType] = []
        if item is not None:
            body.extend(self.view.file_changes(item))
        else:
            body.extend(Text(f"✎ {path}", style="bold") for path in request.paths)
        if request.grant_root:
            body.append(Text(f"and write access to {request.grant_root}", style="bold"))
        if request.reason:
            body.append(Text(f"reason: {request.reason}", style="italic"))
        return await self._decide("The agent wants to change files", body, session=True)

    async def _permissions(self, request: PermissionsRequest) -> bool:
        body: list[RenderableType] = [Text(json.dumps(request.permissions, indent=2))]
        if request.reason:
            body.append(Text(f"reason: {request.reason}", style="italic"))
        decision = await self._decide("The agent asks for more permissions", body, session=False)
        return decision in ("accept", "acceptForSession")

    async def _mcp_tool_call(self, request: McpToolCallApprovalRequest) -> Decision:
        call = Text.assemble((f"{request.server}.", "magenta"), (request.tool, "bold magenta"))
        call.append(f"({json.dumps(request.arguments)})" if request.arguments else "()")
        body: list[RenderableType] = [call]
        if request.description:
            body.append(Text(request.description, style="dim"))
        session = "session" in request.remember
        return await self._decide("The agent wants to use an MCP tool", body, session=session)

    # -- answering ------------------------------------------------------------------------

    async def _decide(self, title: str, body: Sequence[RenderableType], *, session: bool) -> str:
        panel = Panel(
            Group(*body),
            title=Text(f"⚠ {title}", style="bold yellow"),
            title_align="left",
            border_style="yellow",
            expand=False,
        )
        console = self.view.console
        if self.answer != "ask":
            decision = "accept" if self.answer == "accept" else "decline"
            label, style = _OUTCOMES[decision]
            console.print(panel)
            console.print(
                Text.assemble((f"  {label}", style), (f" automatically ({self.why})", "dim"))
            )
            console.print()
            return decision
        async with self._asking:  # one question at a time
            with self.view.paused():
                console.print(panel)
                decision = await _ask(session=session, view=self.view)
                label, style = _OUTCOMES[decision]
                console.print(Text(f"  {label}", style=style))
                console.print()
        return decision


async def _ask(*, session: bool, view: TurnView) -> str:
    console = view.console
    choices = "[y]es, [n]o" + (", [a]lways this session" if session else "")
    while True:
        console.print(Text.assemble(("Allow? ", "bold"), (f"{choices} ", "dim")), end="")
        line = await read_line()
        if line is None:  # end of input: nobody will answer
            console.print()
            return "decline"
        decision = _ANSWERS.get(line.strip().lower())
        if decision is not None and (session or decision != "acceptForSession"):
            return decision
        console.print(Text("Please answer y or n" + (" or a." if session else "."), style="red"))


async def read_line() -> str | None:
    """One line from stdin without blocking the event loop (``None`` at end of input).

    Waiting on the loop instead of in a worker thread keeps Ctrl-C prompt: cancelling
    the wait leaves no thread stuck in a read."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    future: asyncio.Future[str | None] = loop.create_future()

    def readable() -> None:
        loop.remove_reader(fd)
        if future.done():
            return
        try:
            data = os.read(fd, 4096)
        except OSError as exc:
            future.set_exception(exc)
            return
        future.set_result(data.decode(errors="replace") if data else None)

    try:
        loop.add_reader(fd, readable)
    except (NotImplementedError, ValueError, OSError):  # no readiness on this file or loop
        return await asyncio.to_thread(_blocking_readline)
    try:
        return await future
    finally:
        loop.remove_reader(fd)


def _blocking_readline() -> str | None:
    line = sys.stdin.readline()
    return line or None
