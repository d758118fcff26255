"""A team of three agents (planner, coder, reviewer) that hand work to each other through
remote skills backed by one Python object: a task board.

Each agent is a session on `codexkit serve` with its own skills, all methods of the same
board: the planner files tasks, the coder takes one and hands its work in, the reviewer
approves it or sends it back. The agents never talk to each other; the board in this
process is what they share, and this script decides whose turn it is.

    codexkit serve &
    python examples/team_of_agents.py "a command-line todo app"
"""

from __future__ import annotations

import sys
import threading
from dataclasses import asdict, dataclass
from typing import Any

from codexkit.manager import CodexManager, SessionSkills

MAX_ROUNDS = 5  # coder-then-reviewer rounds before the script gives up


@dataclass
class Task:
    id: int
    title: str
    status: str = "open"  # open -> in_progress -> in_review -> done (or back to open)
    work: str = ""
    notes: str = ""


class Board:
    """The tasks, and the skills each role gets on them."""

    def __init__(self) -> None:
        self.tasks: dict[int, Task] = {}
        self._lock = threading.Lock()  # sync skills run on worker threads

    # -- the planner's skills ----------------------------------------------------------

    def add_task(self, title: str) -> dict[str, Any]:
        """File a task for the coder.

        Args:
            title: What is to be done, in one line.
        """
        with self._lock:
            task = Task(id=len(self.tasks) + 1, title=title)
            self.tasks[task.id] = task
            return asdict(task)

    # -- the coder's skills ------------------------------------------------------------

    def next_task(self) -> dict[str, Any] | None:
        """Take the next open task (null when none is left); it is yours until you
        submit it."""
        with self._lock:
            for task in self.tasks.values():
                if task.status == "open":
                    task.status = "in_progress"
                    return asdict(task)
            return None

    def submit(self, task_id: int, work: str) -> str:
        """Hand in your work on a task for review.

        Args:
            task_id: The task's id, as next_task gave it.
            work: The code or text you produced.
        """
        with self._lock:
            task = self._task(task_id, "in_progress")
            task.status, task.work = "in_review", work
            return f"task {task_id} is waiting for review"

    # -- the reviewer's skills ---------------------------------------------------------

    def pending_review(self) -> list[dict[str, Any]]:
        """The tasks waiting for review, with the work handed in."""
        with self._lock:
            return [asdict(t) for t in self.tasks.values() if t.status == "in_review"]

    def review(self, task_id: int, approved: bool, notes: str = "") -> str:
        """Approve a task's work, or send it back to the coder with notes.

        Args:
            task_id: The task's id.
            approved: Whether the work is good as it is.
            notes: What to change (needed when not approved).
        """
        with self._lock:
            task = self._task(task_id, "in_review")
            task.status, task.notes = ("done" if approved else "open"), notes
            return f"task {task_id} is {task.status}"

    def _task(self, task_id: int, status: str) -> Task:
        task = self.tasks.get(task_id)
        if task is None or task.status != status:
            # The agent sees this text as the failed result, and can correct itself.
            raise ValueError(f"no task {task_id} is {status.replace('_', ' ')}")
        return task

    # -- who gets what -----------------------------------------------------------------

    def planner(self, skills: SessionSkills) -> None:
        skills.register(self.add_task)

    def coder(self, skills: SessionSkills) -> None:
        skills.register(self.next_task)
        skills.register(self.submit)

    def reviewer(self, skills: SessionSkills) -> None:
        skills.register(self.pending_review)
        skills.register(self.review)

    def unfinished(self) -> bool:
        return any(t.status != "done" for t in self.tasks.values())


def run_team(cm: CodexManager, goal: str, *, cwd: str = ".") -> Board:
    """Plan ``goal``, then let the coder and the reviewer take turns until every task
    is done (or ``MAX_ROUNDS`` pass). The three sessions are deleted at the end."""
    board = Board()
    with (
        cm.remote_skills.lifecycle(register=board.planner, cwd=cwd) as planner,
        cm.remote_skills.lifecycle(register=board.coder, cwd=cwd) as coder,
        cm.remote_skills.lifecycle(register=board.reviewer, cwd=cwd) as reviewer,
    ):
        planner.skills.send_and_handle(
            f"PLANNER: split this goal into small tasks, filing each with add_task: {goal}"
        )
        for _ in range(MAX_ROUNDS):
            if not board.unfinished():
                break
            coder.skills.send_and_handle(
                "CODER: take the next task with next_task, do it, and hand the work in "
                "with submit. Repeat until next_task gives nothing."
            )
            reviewer.skills.send_and_handle(
                "REVIEWER: read the work with pending_review, then approve each task or "
                "send it back with notes, using review."
            )
    return board


def main() -> None:
    goal = " ".join(sys.argv[1:]) or "a command-line todo app"
    with CodexManager.from_profile("local") as cm:
        board = run_team(cm, goal)
    done = sum(t.status == "done" for t in board.tasks.values())
    print(f"{len(board.tasks)} tasks, {done} done")
    for task in board.tasks.values():
        print(f"- [{task.status}] {task.id}. {task.title}: {task.notes or 'no notes'}")


if __name__ == "__main__":
    main()
