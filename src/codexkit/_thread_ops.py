"""Thread housekeeping for :class:`~codexkit.AsyncThread`: naming, archiving, deleting,
compacting, rolling back, reviews."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import CodexError
from .types import TurnResult

if TYPE_CHECKING:
    from ._client import AsyncCodex
    from ._turn import AsyncTurn

__all__ = ["ThreadOpsMixin"]

Json = dict[str, Any]


class ThreadOpsMixin:
    """Methods of :class:`~codexkit.AsyncThread` that manage the stored thread."""

    codex: AsyncCodex
    id: str
    info: Json

    if TYPE_CHECKING:  # provided by AsyncThread

        async def _begin(self, method: str, wire: Json) -> AsyncTurn: ...

    async def refresh(self) -> Json:
        """Re-read the thread's metadata from the server into :attr:`info` and return it
        (the turns ``info`` lists are kept; :meth:`read` re-reads them)."""
        result = await self.codex._request(
            "thread/read", {"threadId": self.id, "includeTurns": False}
        )
        return self._adopt(result["thread"], with_turns=False)

    def _adopt(self, thread: Json, *, with_turns: bool) -> Json:
        """Take the server's view of the thread as :attr:`info`. An answer that lists no
        turns because none were asked for keeps the turns ``info`` knew."""
        known = self.info.get("turns")
        self.info = dict(thread)
        if not with_turns and known is not None:
            self.info["turns"] = known
        return self.info

    async def set_name(self, name: str) -> None:
        """Give the thread a title (shown by ``list_threads`` as ``name``)."""
        await self.codex._request("thread/name/set", {"threadId": self.id, "name": name})
        self.info["name"] = name

    async def archive(self) -> None:
        """Archive the thread: it leaves the default ``list_threads`` listing (see
        ``list_threads(archived=True)``) and is unloaded from the server. Resume it
        (``codex.resume_thread(id)``) to run turns again."""
        await self.codex._request("thread/archive", {"threadId": self.id})

    async def unarchive(self) -> Json:
        """Bring an archived thread back to the default listing; returns its metadata."""
        result = await self.codex._request("thread/unarchive", {"threadId": self.id})
        return self._adopt(result["thread"], with_turns=False)

    async def delete(self) -> None:
        """Delete the thread and its stored history for good. Reading it afterwards fails
        with :class:`~codexkit.InvalidRequestError`."""
        await self.codex._request("thread/delete", {"threadId": self.id})

    async def unsubscribe(self) -> str:
        """Stop receiving this thread's events on this connection; the server unloads a
        thread nobody is subscribed to. Returns ``"unsubscribed"``, ``"notSubscribed"``
        or ``"notLoaded"``. Resume the thread to use it again."""
        result = await self.codex._request("thread/unsubscribe", {"threadId": self.id})
        return str(result.get("status", ""))

    async def rollback(self, turns: int = 1) -> Json:
        """Drop the last ``turns`` turns from the thread's history: the model no longer
        sees them, and ``read()`` no longer lists them. Files the agent changed in those
        turns are *not* restored. Returns the thread's updated metadata (also in
        :attr:`info`).

        Counts every turn the server lists, including compactions and reviews. Raises
        :class:`~codexkit.CodexError` if the thread has fewer turns. Only threads with
        paginated history (the default for new threads) can be rolled back; others raise
        :class:`~codexkit.InvalidRequestError`.
        """
        if turns < 1:
            raise ValueError("rollback needs turns >= 1")
        oldest = await self._nth_latest_turn(turns)
        result = await self.codex._request(
            "thread/revert", {"threadId": self.id, "beforeTurnId": oldest}
        )
        known = self.info.get("turns")
        if isinstance(known, list):  # the answer lists no turns: drop the reverted ones
            ids = [turn.get("id") if isinstance(turn, dict) else None for turn in known]
            if oldest in ids:
                del known[ids.index(oldest) :]
        return self._adopt(result["thread"], with_turns=False)

    async def _nth_latest_turn(self, n: int) -> str:
        """The id of the ``n``-th turn counting back from the latest (1 = latest)."""
        seen = 0
        cursor: str | None = None
        while True:
            params: Json = {
                "threadId": self.id,
                "limit": n - seen,
                "sortDirection": "desc",
                "itemsView": "notLoaded",
            }
            if cursor is not None:
                params["cursor"] = cursor
            result = await self.codex._request("thread/turns/list", params)
            for turn in result.get("data") or []:
                seen += 1
                if seen == n:
                    return str(turn["id"])
            next_cursor = result.get("nextCursor")
            if not next_cursor or next_cursor == cursor or not result.get("data"):
                raise CodexError(f"thread {self.id} has {seen} turns; cannot roll back {n}")
            cursor = next_cursor

    async def compact(
        self, *, wait: bool = True, timeout: float | None = None
    ) -> TurnResult | None:
        """Summarize the conversation so far to free the model's context window.

        Codex runs the compaction as a turn of its own (one model call, a
        ``contextCompaction`` item). By default this waits for it and returns its
        :class:`TurnResult`; ``wait=False`` returns ``None`` once it started (the thread
        then accepts a new turn when the compaction is done). Raises
        :class:`TurnFailedError` if it fails and :class:`CodexTimeoutError` (after
        interrupting it) when ``timeout`` seconds pass.
        """
        turn = await self._begin("thread/compact/start", {"threadId": self.id})
        if not wait:
            return None
        return await turn.run(timeout=timeout)

    async def review(
        self,
        *,
        base_branch: str | None = None,
        commit: str | None = None,
        commit_title: str | None = None,
        instructions: str | None = None,
        target: Json | None = None,
    ) -> AsyncTurn:
        """Ask codex's reviewer to review code changes in the thread's directory.

        With no argument it reviews the uncommitted changes (staged, unstaged and
        untracked files); ``base_branch="main"`` reviews the current branch against
        ``main``; ``commit="<sha>"`` (with an optional ``commit_title`` for display) one
        commit; ``instructions="..."`` whatever you describe. ``target`` gives a raw
        ``ReviewTarget`` instead.

        The review runs as a turn of this thread, returned at once: iterate it for its
        events (``enteredReviewMode``, the reviewer's messages, ``exitedReviewMode``
        carrying the review text) or ``await review.run()`` for the result.
        """
        chosen = [
            name
            for name, value in (
                ("base_branch", base_branch),
                ("commit", commit),
                ("instructions", instructions),
                ("target", target),
            )
            if value is not None
        ]
        if len(chosen) > 1:
            raise ValueError(f"review takes one target, got {', '.join(chosen)}")
        if commit_title is not None and commit is None:
            raise ValueError("commit_title needs commit")
        wire_target: Json
        if target is not None:
            wire_target = dict(target)
        elif base_branch is not None:
            wire_target = {"type": "baseBranch", "branch": base_branch}
        elif commit is not None:
            wire_target = {"type": "commit", "sha": commit}
            if commit_title is not None:
                wire_target["title"] = commit_title
        elif instructions is not None:
            wire_target = {"type": "custom", "instructions": instructions}
        else:
            wire_target = {"type": "uncommittedChanges"}
        params: Json = {"threadId": self.id, "target": wire_target, "delivery": "inline"}
        return await self._begin("review/start", params)
