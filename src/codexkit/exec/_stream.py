"""One turn as one ``codex exec`` process: the stream of its events and its result."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._client.turn import _final_text
from .._structured import OutputSpec
from ..errors import CodexError, CodexTimeoutError, ExecError, OutputParseError, TurnFailedError
from ..events import (
    Event,
    ItemCompleted,
    Notification,
    StreamError,
    TurnCompleted,
    TurnFailed,
)
from ..options import StrPath
from ..types import InputLike, Item, TurnResult
from ._command import TurnFiles, exec_argv, split_input
from ._mapping import exec_event, exec_usage
from ._process import ExecProcess

if TYPE_CHECKING:
    from ._client import ExecThread

__all__ = ["ExecError", "ExecStream"]

Json = dict[str, Any]

# How long codex may take to exit once it has closed its stdout.
_SETTLE_SECONDS = 5.0


class ExecStream:
    """One turn of an :class:`~codexkit.exec.ExecThread`: an async iterator of events, and an async
    context manager that ends the process when left.

    Iterate it to the end, leave its ``async with`` or call :meth:`aclose`: each ends
    the process group and removes the turn's private files. ``turn_id`` is made up here
    (exec has none); ``result`` is set once the turn has completed or failed.
    """

    def __init__(
        self,
        thread: ExecThread,
        input: InputLike,
        *,
        output: OutputSpec | None,
        images: Sequence[StrPath],
        timeout: float | None,
    ) -> None:
        self._closed = False
        self._process: ExecProcess | None = None
        self._files = TurnFiles()
        self.thread = thread
        self.turn_id = f"exec-{uuid.uuid4().hex}"
        self.timeout = timeout
        self.result: TurnResult | None = None
        self._input = input
        self._images = tuple(images)
        self._output = output
        self._output_error: OutputParseError | None = None
        self._started_at = 0.0
        self._items: list[Item] = []
        self._last_error: Json | None = None

    @property
    def pid(self) -> int | None:
        """The ``codex exec`` process id (also its process group id), once started."""
        return self._process.pid if self._process else None

    async def __aenter__(self) -> ExecStream:
        await self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> ExecStream:
        return self

    async def __anext__(self) -> Event:
        try:
            event = None if self._closed else await self._read()
            if event is None:
                raise StopAsyncIteration
        except BaseException:  # the end, an error, a timeout or a cancellation
            await self.aclose()
            raise
        return event

    async def aclose(self) -> None:
        """End the process group (SIGTERM, then SIGKILL), reap it and remove the files."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._process is not None:
                await self._process.terminate()
        finally:
            self._files.remove()
            self.thread._release(self.turn_id)

    def __del__(self) -> None:
        # Dropped unclosed (a `break` out of `async for` without `async with`): end it now.
        if not self._closed:
            if self._process is not None:
                self._process.kill_now()
            self._files.remove()
            self.thread._release(self.turn_id)

    # -- reading ------------------------------------------------------------------------

    async def _start(self) -> ExecProcess:
        if self._process is not None:
            return self._process
        if self._closed:
            raise CodexError("this stream is closed")
        self.thread._begin(self.turn_id)
        try:
            prompt, images = split_input(self._input, self._images, self._files)
            schema = None
            if self._output is not None:
                schema = self._files.write(json.dumps(self._output.schema).encode(), ".json")
            codex = self.thread.codex
            argv = exec_argv(
                codex.binary.path,
                self.thread._options,
                model=codex.model,
                config=codex.config,
                thread_id=self.thread.id,
                images=images,
                schema_path=schema,
            )
            self._started_at = time.monotonic()
            self._process = await ExecProcess.spawn(
                argv, env=codex._child_env(), stdin=prompt.encode()
            )
        except BaseException:
            await self.aclose()
            raise
        return self._process

    async def _read(self) -> Event | None:
        """The event of the next line; ``None`` at the end of a finished turn."""
        process = await self._start()
        limit, reason = self._wait_limit()
        try:
            message = await process.next_message(limit)
        except asyncio.TimeoutError:
            raise CodexTimeoutError(f"turn {self.turn_id}: {reason}") from None
        if message is None:
            left = self._time_left()
            await process.wait(_SETTLE_SECONDS if left is None else min(left, _SETTLE_SECONDS))
            if self.result is None:
                raise ExecError(
                    "codex exec ended before the turn did",
                    exit_code=process.exit_code,
                    stderr_tail=process.stderr_tail(),
                )
            return None
        if isinstance(message, bytes):
            await process.terminate()
            raise ExecError(
                "codex exec wrote a line that is not a JSON object",
                exit_code=process.exit_code,
                stderr_tail=process.stderr_tail(),
                line=message.decode("utf-8", "replace"),
            )
        event = exec_event(message, self.thread.id, self.turn_id)
        self._collect(event)
        return event

    def _time_left(self) -> float | None:
        if self.timeout is None:
            return None
        return max(0.0, self._started_at + self.timeout - time.monotonic())

    def _wait_limit(self) -> tuple[float | None, str]:
        """How long the next line may take, and what to say if it does not come."""
        left, idle = self._time_left(), self.thread.codex.turn_idle_timeout
        if left is not None and (idle is None or left <= idle):
            return left, f"the time limit of {self.timeout:g} s passed"
        return idle, f"no event for {idle:g} s" if idle is not None else ""

    def _collect(self, event: Event) -> None:
        if isinstance(event, ItemCompleted):
            self._items.append(event.item)
        elif isinstance(event, StreamError):
            self._last_error = event.error
        elif isinstance(event, (TurnCompleted, TurnFailed)):
            self.result = self._build_result(event)
        elif isinstance(event, Notification) and event.method == "thread.started":
            self.thread.id = event.thread_id or self.thread.id

    def _build_result(self, event: TurnCompleted | TurnFailed) -> TurnResult:
        failed = isinstance(event, TurnFailed)
        usage = event.raw.get("usage")  # exec reports usage only here, when a turn completes
        result = TurnResult(
            thread_id=self.thread.id or "",
            turn_id=self.turn_id,
            status="failed" if failed else "completed",
            final_response=_final_text(self._items),
            items=list(self._items),
            usage=exec_usage(usage) if isinstance(usage, dict) else None,
            error=(event.error or self._last_error) if isinstance(event, TurnFailed) else None,
            duration_ms=round((time.monotonic() - self._started_at) * 1000),
        )
        if self._output is None:
            return result
        result, self._output_error = self._output.apply(result)
        return result

    def _outcome(self) -> TurnResult:
        """The result of a stream read to its end, or the error it amounts to."""
        assert self.result is not None  # the end of the stream comes after the turn's
        if self.result.status == "failed":
            raise TurnFailedError(self.result)
        if self._output_error is not None:
            raise self._output_error
        return self.result

    def __repr__(self) -> str:
        return f"ExecStream(turn_id={self.turn_id!r}, thread_id={self.thread.id!r})"
