"""`ScriptedModel`: a local HTTP server that fakes the OpenAI Responses API.

Model of operation: the agent sends one ``POST {url}/responses`` per model call
(the first of a turn, and one more after each tool call). The server records the
request, takes the first queued `Reply` whose match accepts it (FIFO), and
streams that reply as server-sent events. When no queued reply fits it asks the
`default` callable, and without one it answers ``response.failed`` so the turn
fails fast instead of hanging.

Each connection is served in its own daemon thread. `stop` ends stalls, drops
open connections and returns within a bounded time.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from codexkit.testing._home import write_codex_home
from codexkit.testing._recorded import RecordedRequest
from codexkit.testing._replies import Matcher, Pause, Reply, failure

NO_REPLY_MESSAGE = "codexkit.testing: no scripted reply left for this request"

#: Builds a reply for a request no queued reply matched.
DefaultReply = Callable[[RecordedRequest], Reply]


class ScriptedModel:
    """A fake Responses API that answers each model request with a scripted reply.

    Use it as a context manager (or call `start` and `stop`), queue replies with
    `add`, point the agent at it with `codex_home`, then assert on `requests`::

        with ScriptedModel() as model:
            model.add(text("Hello"))
            home = model.codex_home(tmp_path / "home")
            ...  # run codex with CODEX_HOME=home
            assert model.requests[0].last_user_text == "say hello"

    All methods are thread-safe.
    """

    def __init__(
        self, default: DefaultReply | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        """Prepare a server on `host`:`port` (0: any free port); `start` binds it.

        `default` answers requests that no queued reply matches.
        """
        self._default = default
        self._address = (host, port)
        self._changed = threading.Condition(threading.RLock())
        self._queue: list[Reply] = []
        self._requests: list[RecordedRequest] = []
        self._unmatched: list[RecordedRequest] = []
        self._errors: list[Exception] = []
        self._httpd: _HTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> ScriptedModel:
        """Bind the port and serve in a daemon thread; return self."""
        if self._httpd is not None:
            raise RuntimeError("ScriptedModel is already running")
        self._httpd = _HTTPServer(self._address, self)
        self._httpd.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: end stalls, drop connections, free the port. Idempotent."""
        if self._httpd is not None:
            self._httpd.close(timeout)
            self._httpd = None

    def __enter__(self) -> ScriptedModel:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The provider base URL, ``http://HOST:PORT/v1``; the model is at ``/responses``."""
        if self._httpd is None:
            raise RuntimeError("ScriptedModel is not running: call start() first")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    # -- script ------------------------------------------------------------

    def add(self, reply: Reply, *, match: Matcher | None = None) -> None:
        """Queue `reply` for one future request.

        With `match` (or a `match` already set on the reply) only a request whose
        latest user text contains that string, or for which that callable returns
        true, may take it. Each request takes the first queued reply it may take.
        """
        if not isinstance(reply, Reply):
            raise TypeError(f"expected a Reply, got {type(reply).__name__}")
        with self._changed:
            self._queue.append(reply if match is None else reply.matching(match))

    def extend(self, replies: Iterable[Reply]) -> None:
        """Queue several replies, in order."""
        for reply in replies:
            self.add(reply)

    def codex_home(
        self,
        path: str | Path,
        *,
        approval_policy: str = "never",
        sandbox_mode: str = "read-only",
        extra_config: dict[str, Any] | None = None,
    ) -> Path:
        """Write ``path/config.toml`` pointing codex at this server; return `path`."""
        return write_codex_home(
            path,
            self.url,
            approval_policy=approval_policy,
            sandbox_mode=sandbox_mode,
            extra_config=extra_config,
        )

    # -- observations ------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._changed:
            return list(self._requests)

    @property
    def unmatched(self) -> list[RecordedRequest]:
        """Requests that found no reply and were answered with a failure."""
        with self._changed:
            return list(self._unmatched)

    @property
    def errors(self) -> list[Exception]:
        """Exceptions raised by `default` or by match callables (each failed a request)."""
        with self._changed:
            return list(self._errors)

    @property
    def pending(self) -> list[Reply]:
        """Queued replies not taken yet."""
        with self._changed:
            return list(self._queue)

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Block until at least `n` requests arrived and return them all.

        Raises `TimeoutError` if they did not arrive within `timeout` seconds.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._requests) >= n, timeout):
                got = len(self._requests)
                raise TimeoutError(f"got {got} of {n} model requests within {timeout}s")
            return list(self._requests)

    # -- serving (called from handler threads) -----------------------------

    def _answer(self, request: RecordedRequest) -> Reply:
        """Record `request` and pick its reply."""
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()
            try:
                return self._choose(request)
            except Exception as exc:  # a user callable failed: fail the turn, keep it
                self._errors.append(exc)
                return failure(f"codexkit.testing: choosing a reply raised {exc!r}")

    def _choose(self, request: RecordedRequest) -> Reply:
        for index, reply in enumerate(self._queue):
            if reply.matches(request):
                del self._queue[index]
                return reply
        if self._default is not None:
            reply = self._default(request)
            if not isinstance(reply, Reply):
                raise TypeError(f"default returned {type(reply).__name__}, not a Reply")
            return reply
        self._unmatched.append(request)
        return failure(NO_REPLY_MESSAGE)


class _HTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that can drop its live connections on close."""

    daemon_threads = True
    block_on_close = False  # `close` waits for handlers itself, with a timeout
    request_queue_size = 128  # the default 5 makes a burst of agents wait for SYN retries
    timeout = 0  # handle_request() runs only once select() saw a connection: never wait

    def __init__(self, address: tuple[str, int], model: ScriptedModel) -> None:
        super().__init__(address, _Handler)
        self.model = model
        # The accept loop and stalled handlers select() on `wakeup`; the one byte
        # `close` writes (and nobody reads) wakes them all at once.
        self.wakeup, self._wakeup_writer = socket.socketpair()
        self._live: set[socket.socket] = set()
        self._live_changed = threading.Condition()
        self._thread = threading.Thread(
            target=self._accept_loop,
            name=f"codexkit-scripted-model:{self.server_port}",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def _accept_loop(self) -> None:
        # Not serve_forever: it polls for shutdown, which would make every stop
        # wait up to a poll interval. This loop wakes as soon as `close` asks.
        listener, wakeup = self.fileno(), self.wakeup.fileno()
        while True:
            ready, _, _ = select.select([listener, wakeup], [], [])
            if wakeup in ready:
                return
            self.handle_request()

    def process_request(self, request: Any, client_address: Any) -> None:
        # Registered here, in the accept loop, so `close` cannot miss a connection.
        with self._live_changed:
            self._live.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self._live_changed:
            self._live.discard(request)
            self._live_changed.notify_all()

    def close(self, timeout: float) -> None:
        """Stop accepting, wake stalls, drop connections, wait up to `timeout`."""
        self._wakeup_writer.send(b"\0")
        self._thread.join(timeout)
        with self._live_changed:
            for conn in self._live:
                _quietly_shutdown(conn)
            self._live_changed.wait_for(lambda: not self._live, timeout)
        self.server_close()
        self.wakeup.close()
        self._wakeup_writer.close()


class _Handler(BaseHTTPRequestHandler):
    """Serves ``POST .../responses``; anything else is a 404."""

    protocol_version = "HTTP/1.1"  # keep-alive, and chunked streaming
    server: _HTTPServer

    def do_POST(self) -> None:
        if not self.path.split("?")[0].rstrip("/").endswith("/responses"):
            self._send_error(404, f"codexkit.testing serves POST /v1/responses, not {self.path}")
            return
        body = self._read_json()
        if body is None:
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.model._answer(RecordedRequest(body, self.path, headers))
        try:
            self._stream(reply)
        except OSError:  # the agent hung up (e.g. an interrupted turn): nothing to do
            self.close_connection = True

    def do_GET(self) -> None:
        if self.headers.get("upgrade", "").lower() == "websocket":
            # codex's built-in OpenAI provider tries WebSockets first: "426 Upgrade
            # Required" sends it to HTTPS at once (a 404 costs it ~7 s of retries).
            self._send_error(426, "codexkit.testing serves HTTPS, not WebSockets")
            return
        self._send_error(404, "codexkit.testing serves POST /v1/responses only")

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the requests are in `ScriptedModel.requests`."""

    def _read_json(self) -> dict[str, Any] | None:
        """The request's JSON object, or None after answering 4xx."""
        try:
            length = int(self.headers.get("content-length", ""))
        except ValueError:
            self._send_error(411, "a content-length is required")
            return None
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError as exc:
            self._send_error(400, f"the body is not JSON: {exc}")
            return None
        if not isinstance(body, dict):
            self._send_error(400, "the body is not a JSON object")
            return None
        return body

    def _send_error(self, status: int, message: str) -> None:
        data = json.dumps({"error": {"message": message, "type": "invalid_request"}}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _stream(self, reply: Reply) -> None:
        """Send `reply` as a chunked event stream, holding it open at each pause."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        # A stall that ends (or is cut short) leaves the response incomplete: the
        # connection is dropped without the final chunk, as a dying model's would be.
        events = reply.events()
        for item in events:
            if isinstance(item, Pause):
                if not self._hold(item.seconds):
                    self.close_connection = True
                    return
            else:
                kind, data = item
                self._write_chunk(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())
        if isinstance(events[-1], Pause):
            self.close_connection = True
        else:
            self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _hold(self, seconds: float | None) -> bool:
        """Wait `seconds` (None: forever); False if the server stops or the agent hangs up."""
        try:
            ready, _, _ = select.select([self.connection, self.server.wakeup], [], [], seconds)
        except (OSError, ValueError):  # the server closed under us
            return False
        # The agent never sends on a connection awaiting a response, so a readable
        # connection means it was closed.
        return not ready


def _quietly_shutdown(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the peer
        conn.shutdown(socket.SHUT_RDWR)
