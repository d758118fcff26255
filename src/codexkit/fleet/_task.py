"""A batch task, and reading a file of them: every bad line is reported before any runs."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import InvalidArgumentError

__all__ = ["Task", "TaskFileError", "TaskProblem", "load_tasks", "parse_tasks"]

Sandbox = Literal["read-only", "workspace-write", "danger-full-access"]
Approval = Literal["never", "on-request", "untrusted"]


class Task(BaseModel):
    """One unit of work: a prompt run by the agent in its own copy of a folder or of a
    git repository at a ref, optionally prepared by ``setup`` and graded by ``check``
    (a shell command run in the copy after the agent; exit status 0 passes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    #: A plain folder, copied for the task.
    workdir: str | None = None
    #: A git repository; the task works in a worktree of it at ``ref`` (default ``HEAD``).
    repo: str | None = None
    ref: str | None = None
    setup: str | None = None
    check: str | None = None
    model: str | None = None
    sandbox: Sandbox | None = None
    approval: Approval | None = None
    output_schema: dict[str, Any] | None = None
    #: Seconds the agent may take (and so may ``setup`` and ``check``, each).
    timeout: float | None = Field(default=None, gt=0)
    #: Extra codex settings for the task's thread (nested, as ``AsyncCodex(config=)``).
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _printable_id(cls, value: str) -> str:
        if value != value.strip() or any(c in value for c in "\n\r\t"):
            raise ValueError("id must not start or end with spaces or hold line breaks")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Task:
        if (self.workdir is None) == (self.repo is None):
            raise ValueError("give exactly one of 'workdir' (a folder) or 'repo' (a git repo)")
        if self.ref is not None and self.repo is None:
            raise ValueError("'ref' needs 'repo'")
        return self

    @property
    def source(self) -> str:
        """The folder or repository the task's copy is made from."""
        return self.repo if self.repo is not None else str(self.workdir)


@dataclass(frozen=True)
class TaskProblem:
    """Why one line of a task file cannot run."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class TaskFileError(InvalidArgumentError):
    """A task file has lines that cannot run; ``problems`` lists each, by line number."""

    def __init__(self, source: str, problems: list[TaskProblem]) -> None:
        self.source = source
        self.problems = problems
        listing = "\n".join(f"  {problem}" for problem in problems)
        count = f"{len(problems)} invalid task line{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{source}: {count}\n{listing}")


def load_tasks(path: str | os.PathLike[str]) -> list[Task]:
    """The tasks of a JSON Lines file, one object per line (blank lines are skipped).
    Relative ``workdir``/``repo`` paths are taken from the file's folder. Raises
    :class:`TaskFileError` listing every invalid line when any is."""
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgumentError(f"cannot read task file {file}: {exc}") from exc
    return parse_tasks(lines, base=file.absolute().parent, source=str(file))


def parse_tasks(
    lines: Iterable[str], *, base: str | os.PathLike[str] = ".", source: str = "<tasks>"
) -> list[Task]:
    """The tasks of JSON Lines text (see :func:`load_tasks`)."""
    tasks: list[Task] = []
    problems: list[TaskProblem] = []
    seen: dict[str, int] = {}
    refs = _RefChecker()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            task = _parse_line(line, Path(base), refs)
        except ValueError as exc:
            problems.append(TaskProblem(number, str(exc)))
            continue
        if task.id in seen:
            problems.append(TaskProblem(number, f"id {task.id!r} repeats line {seen[task.id]}"))
            continue
        seen[task.id] = number
        tasks.append(task)
    if problems:
        raise TaskFileError(source, problems)
    return tasks


def _parse_line(line: str, base: Path, refs: _RefChecker) -> Task:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(data, dict):
        raise ValueError("a task is a JSON object")
    try:
        task = Task.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_describe(exc)) from None
    return _resolved(task, base, refs)


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _resolved(task: Task, base: Path, refs: _RefChecker) -> Task:
    """The task with its paths made absolute and checked to exist."""
    if task.workdir is not None:
        workdir = (base / task.workdir).resolve()
        if not workdir.is_dir():
            raise ValueError(f"workdir {task.workdir!r} is not an existing directory")
        return task.model_copy(update={"workdir": str(workdir)})
    repo = (base / str(task.repo)).resolve()
    ref = task.ref or "HEAD"
    refs.check(repo, ref, shown=str(task.repo))
    return task.model_copy(update={"repo": str(repo), "ref": ref})


class _RefChecker:
    """Checks that a repository has a ref, asking git once per (repository, ref)."""

    def __init__(self) -> None:
        self._known: dict[tuple[Path, str], str | None] = {}

    def check(self, repo: Path, ref: str, *, shown: str) -> None:
        key = (repo, ref)
        if key not in self._known:
            self._known[key] = _ref_problem(repo, ref, shown)
        problem = self._known[key]
        if problem is not None:
            raise ValueError(problem)


def _ref_problem(repo: Path, ref: str, shown: str) -> str | None:
    if not repo.is_dir():
        return f"repo {shown!r} is not an existing directory"
    try:
        found = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run git on {shown!r}: {exc}"
    if found.returncode != 0:
        return f"repo {shown!r} is not a git repository with a commit at ref {ref!r}"
    return None
