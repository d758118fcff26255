"""Each task's own copy of its source, shell steps run in it, and the diff of its changes.

A copy is a git worktree of the task's repository at its ref (detached), or a copy of a
plain folder. Changes are measured with a private git directory next to the copy (never
inside it, so the agent sees only the project): a snapshot of the files after ``setup``,
another after the agent, and the diff between the two. The same snapshot puts the copy
back as it was before a retried attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import weakref
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CodexError
from ._task import Task

__all__ = ["ShellOutcome", "Workspace", "WorkspaceError", "run_shell", "to_the_end"]

#: How much of a command's output a result keeps (its end: where errors are).
OUTPUT_TAIL_CHARS = 4000
#: The longest diff a result keeps (past it: its start and the list of files changed).
MAX_DIFF_BYTES = 8 * 1024 * 1024
#: How much of it is held while it runs (a few bytes per character at most).
_TAIL_BYTES = 4 * OUTPUT_TAIL_CHARS


class WorkspaceError(CodexError):
    """The task's copy could not be made, measured or removed."""


@dataclass(frozen=True)
class ShellOutcome:
    exit_code: int | None  # None: killed at its time limit
    output: str
    duration_s: float

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None

    @property
    def tail(self) -> str:
        return self.output[-OUTPUT_TAIL_CHARS:]


async def run_shell(
    command: str, cwd: Path, *, timeout: float | None, env: Mapping[str, str] | None = None
) -> ShellOutcome:
    """Run ``command`` with ``sh -c`` in ``cwd``, its output and errors together (only
    their end is kept, however much it prints). Past ``timeout`` seconds its whole
    process group is killed (``exit_code`` None)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    process = await asyncio.create_subprocess_shell(
        command,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own group: a timeout ends its children too
        env={**os.environ, **(env or {})},
    )
    stdout = process.stdout
    assert stdout is not None  # piped above
    tail = bytearray()

    async def finish() -> None:
        await _read_tail(stdout, tail)
        await process.wait()

    code: int | None
    try:
        await asyncio.wait_for(finish(), timeout)
        code = process.returncode
    except asyncio.TimeoutError:
        _kill_group(process.pid)
        await process.wait()
        # What the group wrote before it died; a process that left the group and kept
        # the pipe open is not waited for.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(_read_tail(stdout, tail), 2.0)
        code = None
    except BaseException:
        _kill_group(process.pid)
        await process.wait()
        raise
    text = bytes(tail).decode("utf-8", errors="replace")
    return ShellOutcome(code, text, round(loop.time() - started, 3))


async def _read_tail(stream: asyncio.StreamReader, tail: bytearray) -> None:
    """Read ``stream`` to its end, keeping only its last bytes in ``tail``."""
    while chunk := await stream.read(64 * 1024):
        tail += chunk
        if len(tail) > _TAIL_BYTES:
            del tail[: len(tail) - _TAIL_BYTES]


def _read_head(path: Path, limit: int) -> tuple[int, str]:
    """The size of the file at ``path`` and its first ``limit`` bytes, as text."""
    with path.open("rb") as file:
        head = file.read(limit)
        return os.fstat(file.fileno()).st_size, head.decode("utf-8", errors="replace")


async def to_the_end(step: Coroutine[Any, Any, None]) -> None:
    """Run ``step`` to its end even when cancelled meanwhile (a copy half made or half
    removed would be left behind), then let the cancellation go on."""
    task = asyncio.ensure_future(step)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    task.result()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def _git(*args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        "git",
        "-c",
        "core.quotepath=off",
        *args,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    try:
        out, err = await process.communicate()
    except BaseException:  # cancelled: a git left running would go on changing files
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        message = err.decode(errors="replace").strip()
        raise WorkspaceError(f"git {' '.join(args[:2])} failed: {message}")
    return out.decode("utf-8", errors="replace")


#: One `git worktree add/remove` at a time per repository in this process: git takes
#: locks in the repository that concurrent calls can trip over. An asyncio lock belongs
#: to one event loop (each `run_batch` has its own), so they are kept per loop.
_repo_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _repo_lock(repo: str) -> asyncio.Lock:
    locks = _repo_locks.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(repo, asyncio.Lock())


class Workspace:
    """A task's private copy in a new folder under ``root`` (default: the system's
    temporary directory): create it, snapshot it, diff it, remove it."""

    def __init__(self, task: Task, root: str | None = None) -> None:
        self.task = task
        self._root = root
        self.base = Path()
        self.path = Path()
        self._snapshots = Path()
        self._baseline: str | None = None

    async def create(self) -> Path:
        if self._root is not None:
            os.makedirs(self._root, exist_ok=True)
        prefix = f"codexkit-task-{_safe_name(self.task.id)}-"
        self.base = Path(tempfile.mkdtemp(prefix=prefix, dir=self._root))
        self.path = self.base / "work"
        self._snapshots = self.base / "snapshots.git"
        if self.task.repo is not None:
            async with _repo_lock(self.task.repo):
                # To its end even when cancelled: git kills left a worktree entry locked.
                await to_the_end(self._add_worktree(self.task.repo))
        else:
            source = str(self.task.workdir)
            await to_the_end(_copy(source, self.path))
        await _git("init", "--quiet", "--bare", str(self._snapshots))
        return self.path

    async def _add_worktree(self, repo: str) -> None:
        await _git(
            "-C", repo, "worktree", "add", "--detach", "--quiet",
            str(self.path), self.task.ref or "HEAD",
        )  # fmt: skip

    @property
    def _snapshot_env(self) -> dict[str, str]:
        return {
            "GIT_DIR": str(self._snapshots),
            "GIT_WORK_TREE": str(self.path),
            "GIT_INDEX_FILE": str(self._snapshots / "index"),
        }

    async def _snapshot(self) -> str:
        """The tree of the copy's files now. Files the project's ``.gitignore`` files
        ignore are left out, as ``git status`` leaves them: what ``setup`` builds or
        installs does not weigh on every snapshot, and build output stays out of diffs."""
        env = self._snapshot_env
        await _git("add", "--all", ".", env=env, cwd=self.path)
        return (await _git("write-tree", env=env, cwd=self.path)).strip()

    async def mark_baseline(self) -> None:
        """Take the files as they are now (after ``setup``) as what diffs compare with."""
        self._baseline = await self._snapshot()

    async def diff(self) -> str:
        """The agent's changes since the baseline, as a unified diff (binary-safe)."""
        if self._baseline is None:
            return ""
        after = await self._snapshot()
        env = self._snapshot_env
        written = self.base / "agent.diff"  # to a file: a diff can be larger than memory
        await _git(
            "diff", "--binary", "--no-color", "--no-ext-diff", f"--output={written}",
            self._baseline, after, env=env, cwd=self.path,
        )  # fmt: skip
        size, text = await asyncio.to_thread(_read_head, written, MAX_DIFF_BYTES)
        if size > MAX_DIFF_BYTES:
            summary = await _git("diff", "--stat", self._baseline, after, env=env, cwd=self.path)
            text += (
                f"\n# codexkit: the diff has {size} bytes; its first {MAX_DIFF_BYTES} are "
                f"above. All files changed:\n{summary}"
            )
        return text

    async def restore_baseline(self) -> None:
        """Put the files back as they were at the baseline (before a retried attempt)."""
        if self._baseline is None:
            return
        await self._snapshot()  # the index must know the files to remove
        await _git(
            "read-tree", "--reset", "-u", self._baseline, env=self._snapshot_env, cwd=self.path
        )

    async def remove(self) -> None:
        if self.base == Path():
            return  # never created
        if self.task.repo is not None:
            async with _repo_lock(self.task.repo):
                with contextlib.suppress(WorkspaceError):
                    # Twice forced: a worktree whose `add` was cut short is still locked
                    # (and git removes the entry of one whose folder never came).
                    await _git(
                        "-C", self.task.repo, "worktree", "remove", "--force", "--force",
                        str(self.path),
                    )  # fmt: skip
        await asyncio.to_thread(shutil.rmtree, self.base, ignore_errors=True)
        if self.task.repo is not None:
            async with _repo_lock(self.task.repo):
                with contextlib.suppress(WorkspaceError):
                    await _git("-C", self.task.repo, "worktree", "prune")


async def _copy(source: str, target: Path) -> None:
    await asyncio.to_thread(shutil.copytree, source, target, symlinks=True)


def _safe_name(task_id: str) -> str:
    """A folder name for a task id (ids may hold slashes and the like)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in task_id)[:60]
