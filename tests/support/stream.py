"""A websocket client of ``/api/stream`` for the server's tests: frames waited for by
type and condition (never by sleeping), every frame kept in order."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from websockets.sync.client import ClientConnection, connect

from .serve import ServeProcess

Json = dict[str, Any]


class Stream:
    """``/api/stream`` with the server's token; ``query`` is its query string."""

    def __init__(self, server: ServeProcess, query: str = "") -> None:
        url = server.url.replace("http://", "ws://") + "/api/stream" + query
        self._opened = contextlib.ExitStack()
        self.socket: ClientConnection = self._opened.enter_context(
            connect(url, additional_headers=server.headers, open_timeout=30)
        )
        self.seen: list[Json] = []

    def send(self, command: Json) -> None:
        self.socket.send(json.dumps(command))

    def next(
        self,
        type_: str | tuple[str, ...],
        where: Callable[[Json], bool] = lambda f: True,
        *,
        timeout: float = 60.0,
    ) -> Json:
        """The next frame of ``type_`` (or of one of several types) that ``where``
        accepts (the ones before it are kept in ``seen`` too)."""
        types = (type_,) if isinstance(type_, str) else type_
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError
                frame: Json = json.loads(self.socket.recv(timeout=left))
            except TimeoutError:
                last = [f.get("type") for f in self.seen[-20:]]
                raise AssertionError(f"no {type_} frame in {timeout} s; last: {last}") from None
            self.seen.append(frame)
            if frame.get("type") in types and where(frame):
                return frame

    def synced(self) -> None:
        """Ping and wait for the pong: every command sent before has taken effect."""
        self.send({"type": "ping"})
        self.next("pong")

    def close(self) -> None:
        self._opened.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def completed(turn_id: str) -> Callable[[Json], bool]:
    """Accepts the ``app_server.turn.completed`` frame of ``turn_id``."""
    return lambda f: f["payload"]["context"]["turnId"] == turn_id
