"""A real ``codexkit serve`` in a child process, for the server's tests.

It listens on 127.0.0.1 on a port of its own choosing (``--port 0``: the URL it prints
says which), keeps its token and database in a temporary data dir, runs the real codex
binary on a ``CODEX_HOME`` wired to a scripted model, and writes the codex-manager
profile under a temporary ``XDG_CONFIG_HOME``.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from codexkit.testing import ScriptedModel

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


class ServeProcess:
    """``codexkit serve`` started with ``args``; ``start()`` waits for ``/api/health``."""

    def __init__(
        self,
        *,
        data_dir: Path,
        codex_home: Path,
        config_home: Path,
        args: Sequence[str] = (),
    ) -> None:
        self.data_dir = data_dir
        self.codex_home = codex_home
        self.config_home = config_home
        self.args = list(args)
        self.url = ""
        self.login_link = ""
        self.output: list[str] = []  # every line it printed, stdout and stderr
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader: threading.Thread | None = None

    @classmethod
    def scripted(
        cls, model: ScriptedModel, root: Path, *, args: Sequence[str] = (), data: str = "data"
    ) -> ServeProcess:
        """A server (not started) on ``model``, everything under ``root``: the data dir
        ``root/data``, the app-servers' ``CODEX_HOME`` and the profile's config home."""
        return cls(
            data_dir=root / data,
            codex_home=model.codex_home(root / "codex-home"),
            config_home=root / "config",
            args=args,
        )

    @property
    def api(self) -> str:
        return self.url + "/api"

    @property
    def pid(self) -> int:
        """The ``codexkit serve`` process (its app-servers are its children)."""
        assert self._proc is not None, "not started"
        return self._proc.pid

    @property
    def token(self) -> str:
        return (self.data_dir / "token").read_text().strip()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def client(self, **kwargs: object) -> httpx.Client:
        """An httpx client on the server's base URL with the bearer token."""
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=30.0, **kwargs)  # type: ignore[arg-type]

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "codexkit.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir),
            "--codex-home",
            str(self.codex_home),
            *self.args,
        ]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["XDG_CONFIG_HOME"] = str(self.config_home)
        env.pop("CODEX_HOME", None)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self) -> ServeProcess:
        # A restart listens on a new port; the lines of the last run are read already.
        self.url = self.login_link = ""
        self._lines = queue.Queue()
        self._proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.env(),
            start_new_session=True,
        )
        # Read its output all along: a full pipe would stop the server mid-request.
        self._reader = threading.Thread(target=self._drain, args=(self._proc,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not (self.url and self.login_link):
            line = self._read_line(deadline)
            if line.startswith("codexkit serve: "):
                self.url = line.split(": ", 1)[1].strip().removesuffix("/api")
            elif line.startswith("login link"):
                self.login_link = line.rsplit(" ", 1)[1].strip()
        self._wait_healthy(deadline)
        return self

    def _drain(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.output.append(line)
            self._lines.put(line)
        self._lines.put("")  # the end

    def _read_line(self, deadline: float) -> str:
        try:
            line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError("codexkit serve printed nothing in time:\n" + self.text()) from None
        if not line:
            assert self._proc is not None
            raise RuntimeError(f"codexkit serve exited ({self._proc.wait()}):\n{self.text()}")
        return line

    def _wait_healthy(self, deadline: float) -> None:
        # The server answers once uvicorn runs, after the app-server's handshake.
        while True:
            try:
                if httpx.get(self.api + "/health", timeout=5.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("codexkit serve never became healthy:\n" + self.text())
            time.sleep(0.05)

    def stop(self) -> int:
        """SIGTERM, then wait for a clean exit (SIGKILL past ``STOP_TIMEOUT``)."""
        proc = self._proc
        if proc is None:
            return 0
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait(timeout=STOP_TIMEOUT)
        if self._reader is not None:
            self._reader.join(timeout=STOP_TIMEOUT)
        self._proc = None
        return code

    def kill(self) -> None:
        """SIGKILL the server alone, as a crash would (its app-servers die with it)."""
        proc = self._proc
        assert proc is not None
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)
        if self._reader is not None:
            self._reader.join(timeout=STOP_TIMEOUT)
        self._proc = None

    def text(self) -> str:
        return "".join(self.output)

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_serve(
    args: Sequence[str], *, env: dict[str, str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """``codexkit serve ARGS`` to its end (for starts that must be refused)."""
    return subprocess.run(
        [sys.executable, "-m", "codexkit.cli", "serve", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
