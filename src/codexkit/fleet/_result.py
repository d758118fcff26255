"""What a task produced, and the results file: one JSON line per task, written as it ends."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = [
    "CheckOutcome",
    "CommandRun",
    "ResultWriter",
    "Status",
    "StoredResults",
    "TaskResult",
    "TaskUsage",
    "read_results",
]

#: ``passed``: the agent finished and the check (if any) exited 0. ``failed``: the agent
#: finished and the check failed, or its structured answer did not parse: the agent's
#: fault. ``error``: the harness or the model service broke (workspace, setup, a failed
#: turn, a dead app-server). ``timeout``: the task ran out of time.
Status = Literal["passed", "failed", "error", "timeout"]


class CommandRun(BaseModel):
    """A command the agent ran, as it wrote it, and how it exited."""

    model_config = ConfigDict(extra="ignore")

    command: str
    exit_code: int | None


class CheckOutcome(BaseModel):
    """How the task's ``check`` command judged the agent's work."""

    model_config = ConfigDict(extra="ignore")

    command: str
    passed: bool
    exit_code: int | None
    output_tail: str
    duration_s: float


class TaskUsage(BaseModel):
    """Tokens the task's model calls used, summed over its attempts."""

    model_config = ConfigDict(extra="ignore")

    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: TaskUsage) -> TaskUsage:
        return TaskUsage(
            **{name: getattr(self, name) + getattr(other, name) for name in TaskUsage.model_fields}
        )


class TaskResult(BaseModel):
    """One task's outcome: a line of the results file."""

    model_config = ConfigDict(extra="ignore")

    id: str
    status: Status
    final_response: str | None = None
    #: The parsed structured answer, for a task with an ``output_schema``.
    output: Any = None
    #: What the agent changed in its copy (a unified git diff; ``setup``'s work excluded).
    diff: str = ""
    commands: list[CommandRun] = []
    check: CheckOutcome | None = None
    usage: TaskUsage | None = None
    duration_s: float = 0.0
    error: str | None = None
    attempts: int = 0
    thread_id: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    #: Where it ran (host and process), for the Ray executor's results.
    worker: str | None = None


@dataclass
class StoredResults:
    """The results already in a file: the latest line of each task, and how many lines
    could not be read (a line a crash cut short)."""

    results: dict[str, TaskResult] = field(default_factory=dict)
    unreadable_lines: list[int] = field(default_factory=list)


def read_results(path: str | os.PathLike[str]) -> StoredResults:
    """The results of a results file (none if it does not exist); a later line for a task
    replaces an earlier one."""
    stored = StoredResults()
    file = Path(path)
    if not file.exists():
        return stored
    with file.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                result = TaskResult.model_validate_json(line)
            except ValidationError:
                stored.unreadable_lines.append(number)
                continue
            stored.results[result.id] = result
    return stored


class ResultWriter:
    """Appends result lines to a file, each flushed to disk before the next task's, so a
    crash loses no finished task."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = self.path.open("a", encoding="utf-8")
        self._end_last_line()

    def _end_last_line(self) -> None:
        """A line cut short by a crash is ended, so the next result starts a line."""
        with self.path.open("rb") as raw:
            if raw.seek(0, os.SEEK_END) == 0:
                return
            raw.seek(-1, os.SEEK_END)
            cut = raw.read(1) != b"\n"
        if cut:
            self._file.write("\n")

    def write(self, result: TaskResult) -> None:
        self._file.write(to_line(result.model_dump(mode="json")))
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def to_line(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
