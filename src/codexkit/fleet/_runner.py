"""One task from start to result, on a client that any executor hands it.

The steps: make the task's copy, run ``setup``, snapshot, run the agent (retrying a turn
the model service failed in a retryable way, from a restored copy), diff, run ``check``,
remove the copy. Whatever breaks becomes the result's ``status`` and ``error``; nothing
but cancellation escapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import (
    CodexError,
    CodexTimeoutError,
    OutputParseError,
    ServerOverloadedError,
    TurnFailedError,
)
from ..types import CommandExecutionItem
from ._result import CheckOutcome, CommandRun, Status, TaskResult, TaskUsage
from ._task import Task
from ._workspace import Workspace, run_shell, to_the_end

if TYPE_CHECKING:
    from .._client.client import AsyncCodex
    from ..types import Item, TurnResult

__all__ = ["DEFAULT_TIMEOUT", "BatchSettings", "is_retryable", "run_task"]

#: Seconds a task's agent (and its setup and check, each) may take when neither the task
#: nor the batch says.
DEFAULT_TIMEOUT = 1800.0

#: codexErrorInfo values (``turn.error``) for which trying again later can succeed: the
#: service was overloaded, rate-limited or cut the connection. Anything else (a bad
#: request, a used-up quota, a policy refusal, the agent's own failure) would fail again.
_RETRYABLE_KINDS = frozenset(
    {"serverOverloaded", "internalServerError", "rateLimitExceeded", "flexUnavailable"}
)
_RETRYABLE_CONNECTION_KINDS = frozenset(
    {
        "httpConnectionFailed",
        "responseStreamConnectionFailed",
        "responseStreamDisconnected",
        "responseTooManyFailedAttempts",
    }
)


@dataclass(frozen=True)
class BatchSettings:
    """How every task of a batch runs (picklable: Ray workers receive it)."""

    #: The agent's time limit for a task without its own ``timeout``.
    timeout: float = DEFAULT_TIMEOUT
    #: Further attempts after a retryable model-service failure.
    retries: int = 2
    #: The first retry waits about this long; each later one twice as long (at most 60 s).
    backoff: float = 2.0
    #: Where task copies are made (default: the system's temporary directory).
    workspace_root: str | None = None
    #: Keep each task's copy after it ends (for debugging); they are removed otherwise.
    keep_workspaces: bool = False
    #: Environment variables for ``setup`` and ``check`` besides the process's own.
    env: dict[str, str] = field(default_factory=dict)


def is_retryable(error: object) -> bool:
    """Whether a failed turn's error (``TurnFailedError.error``) is one the model service
    calls retryable: overloaded, rate-limited, or a connection that failed or dropped
    (not one it refused with a 4xx other than 429)."""
    if not isinstance(error, dict):
        return False
    kind = error.get("codexErrorInfo")
    if isinstance(kind, str):
        return kind in _RETRYABLE_KINDS
    if isinstance(kind, dict) and len(kind) == 1:
        [(name, detail)] = kind.items()
        if name not in _RETRYABLE_CONNECTION_KINDS:
            return False
        status = detail.get("httpStatusCode") if isinstance(detail, dict) else None
        return not isinstance(status, int) or status == 429 or status >= 500
    return False


class _Attempts:
    """The result being built across a task's attempts."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.usage: TaskUsage | None = None
        self.commands: list[CommandRun] = []
        self.turn: TurnResult | None = None
        self.count = 0
        self.thread_id: str | None = None

    def absorb(self, turn: TurnResult | None) -> None:
        """Take what an attempt's turn (finished or failed) produced."""
        if turn is None:
            return
        self.turn = turn
        self.absorb_items(turn.items)
        if turn.usage is not None:
            used = _usage(turn.usage.raw)
            self.usage = used if self.usage is None else self.usage + used

    def absorb_items(self, items: list[Item]) -> None:
        """Take the commands of an attempt's items (of a turn that may not have ended)."""
        self.commands = [
            CommandRun(command=item.display_command, exit_code=item.exit_code)
            for item in items
            if isinstance(item, CommandExecutionItem)
        ]


def _usage(raw: dict[str, Any]) -> TaskUsage:
    total = raw.get("total") or {}

    def count(key: str) -> int:
        value = total.get(key)
        return value if isinstance(value, int) else 0

    return TaskUsage(
        input_tokens=count("inputTokens"),
        cached_input_tokens=count("cachedInputTokens"),
        output_tokens=count("outputTokens"),
        reasoning_output_tokens=count("reasoningOutputTokens"),
        total_tokens=count("totalTokens"),
    )


async def run_task(
    task: Task, codex: AsyncCodex, settings: BatchSettings, *, worker: str | None = None
) -> TaskResult:
    """Run ``task`` with ``codex`` (an started client) and return its result."""
    started = time.monotonic()
    started_at = _now()
    workspace = Workspace(task, settings.workspace_root)
    attempts = _Attempts(task)
    try:
        status, error, check = await _run_in(workspace, task, codex, settings, attempts)
        diff = await _safe_diff(workspace)
    except Exception as exc:  # a bug: still a result, so the batch goes on
        status, error, check, diff = "error", f"codexkit: {exc!r}", None, ""
    finally:
        if not settings.keep_workspaces:
            await to_the_end(workspace.remove())
    turn = attempts.turn
    return TaskResult(
        id=task.id,
        status=status,
        final_response=turn.final_response if turn else None,
        output=_output(turn),
        diff=diff,
        commands=attempts.commands,
        check=check,
        usage=attempts.usage,
        duration_s=round(time.monotonic() - started, 3),
        error=error,
        attempts=attempts.count,
        thread_id=attempts.thread_id,
        started_at=started_at,
        finished_at=_now(),
        worker=worker or f"{socket.gethostname()}:{os.getpid()}",
    )


async def _safe_diff(workspace: Workspace) -> str:
    try:
        return await workspace.diff()
    except (CodexError, OSError) as exc:
        return f"# codexkit: the diff could not be taken: {exc}\n"


def _output(turn: TurnResult | None) -> Any:
    if turn is None or turn.output is None:
        return None
    dump = getattr(turn.output, "model_dump", None)
    return dump(mode="json") if callable(dump) else turn.output


async def _run_in(
    workspace: Workspace,
    task: Task,
    codex: AsyncCodex,
    settings: BatchSettings,
    attempts: _Attempts,
) -> tuple[Status, str | None, CheckOutcome | None]:
    """Every step in the task's copy: its status, its error and its check's outcome."""
    limit = task.timeout or settings.timeout
    env = {**settings.env, "CODEXKIT_TASK_ID": task.id}
    try:
        path = await workspace.create()
    except (CodexError, OSError) as exc:
        return "error", f"the task's copy could not be made: {exc}", None
    if task.setup:
        setup = await run_shell(task.setup, path, timeout=limit, env=env)
        if setup.timed_out:
            return "timeout", f"setup ran past {limit:g} s; its output ends:\n{setup.tail}", None
        if setup.exit_code != 0:
            return "error", f"setup exited {setup.exit_code}; its output ends:\n{setup.tail}", None
    try:
        await workspace.mark_baseline()
    except (CodexError, OSError) as exc:
        return "error", f"the task's copy could not be measured: {exc}", None
    status, error = await _run_agent(workspace, path, task, codex, settings, attempts, limit)
    if status is not None:
        return status, error, None
    if not task.check:
        return "passed", None, None
    outcome = await run_shell(task.check, path, timeout=limit, env=env)
    check = CheckOutcome(
        command=task.check,
        passed=outcome.exit_code == 0,
        exit_code=outcome.exit_code,
        output_tail=outcome.tail,
        duration_s=outcome.duration_s,
    )
    if outcome.timed_out:
        return "timeout", f"check ran past {limit:g} s", check
    return ("passed" if check.passed else "failed"), None, check


async def _run_agent(
    workspace: Workspace,
    path: Path,
    task: Task,
    codex: AsyncCodex,
    settings: BatchSettings,
    attempts: _Attempts,
    limit: float,
) -> tuple[Status | None, str | None]:
    """Run the agent, retrying retryable service failures: ``(None, None)`` when it
    finished its turn, else the task's final status and error."""
    deadline = time.monotonic() + limit
    while True:
        attempts.count += 1
        try:
            await _attempt(path, task, codex, attempts, deadline - time.monotonic())
            return None, None
        except (CodexTimeoutError, asyncio.TimeoutError):
            return "timeout", f"the agent ran past {limit:g} s"
        except OutputParseError as exc:
            attempts.absorb(exc.result)
            return "failed", f"the structured answer did not parse: {exc}"
        except (TurnFailedError, ServerOverloadedError) as exc:
            if isinstance(exc, TurnFailedError):
                attempts.absorb(exc.result)
                retryable = is_retryable(exc.error)
                message = str(exc.error.get("message") or exc)
            else:
                retryable, message = True, str(exc)
            pause = _backoff(settings, attempts.count)
            if not retryable or attempts.count > settings.retries:
                return "error", f"model service: {message}"
            if time.monotonic() + pause >= deadline:
                return "timeout", f"the agent ran past {limit:g} s (retrying after: {message})"
            await asyncio.sleep(pause)
            try:
                await workspace.restore_baseline()
            except (CodexError, OSError) as restore:
                return "error", f"the copy could not be reset for a retry: {restore}"
        except CodexError as exc:  # the app-server died, a request timed out, ...
            return "error", f"{type(exc).__name__}: {exc}"


def _backoff(settings: BatchSettings, attempt: int) -> float:
    """Exponential with jitter, so tasks rate-limited together do not return together."""
    base: float = min(60.0, settings.backoff * 2 ** (attempt - 1))
    return base * random.uniform(0.5, 1.0)


async def _attempt(
    path: Path, task: Task, codex: AsyncCodex, attempts: _Attempts, remaining: float
) -> None:
    if remaining <= 0:
        raise CodexTimeoutError("no time left for another attempt")
    thread = await asyncio.wait_for(
        codex.start_thread(
            cwd=path,
            model=task.model,
            sandbox=task.sandbox,
            approval_policy=task.approval,
            config=task.config or None,
        ),
        remaining,
    )
    attempts.thread_id = thread.id
    try:
        turn = await thread.turn(task.prompt, output_schema=task.output_schema)
        try:
            attempts.absorb(await turn.run(timeout=remaining))
        except CodexTimeoutError:
            attempts.absorb_items(turn.items)  # what the agent did before time ran out
            raise
    finally:
        # The app-server is shared with later tasks: let it unload this thread.
        with contextlib.suppress(CodexError, OSError):
            await asyncio.shield(thread.unsubscribe())


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
