"""A throwaway PostgreSQL cluster for tests, run as the ``postgres`` user.

``initdb`` and ``postgres`` refuse to run as root (CI is root), so the cluster lives in a
temporary directory owned by ``postgres`` and its tools run through ``runuser``. It
listens on 127.0.0.1 only, on a free port. One cluster per test session; each test that
asks gets a database of its own.

Use from a test module::

    from support.postgres import postgres_cluster, postgres_url  # noqa: F401 (fixtures)
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def _newest_bin() -> Path:
    """Debian's newest installed PostgreSQL (``/usr/lib/postgresql/<major>/bin``)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


BIN = Path(os.environ.get("CODEXKIT_PG_BIN") or _newest_bin())
_names = itertools.count()


@dataclass
class Cluster:
    directory: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str) -> None:
        subprocess.run(
            [BIN / "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql],
            check=True,
            capture_output=True,
            timeout=30,
        )  # fmt: skip


def _as_postgres(*argv: str | os.PathLike[str]) -> list[str]:
    command = [os.fspath(arg) for arg in argv]
    return command if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *command]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    """A cluster started for the ``with`` block and removed after it."""
    directory = Path(tempfile.mkdtemp(prefix="codexkit-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    data = directory / "data"
    subprocess.run(
        _as_postgres(BIN / "initdb", "-D", data, "-A", "trust", "-U", "postgres"),
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = _free_port()
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres(BIN / "pg_ctl", "-D", data, "-o", options, "-l", directory / "log",
                     "-w", "-t", "60", "start"),
        check=True,
        capture_output=True,
        timeout=90,
    )  # fmt: skip
    try:
        yield Cluster(directory, port)
    finally:
        subprocess.run(
            _as_postgres(BIN / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """A running cluster; fails (never skips) when PostgreSQL is not installed: `.ci/run`
    installs it."""
    if not (BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL is not installed ({BIN}/initdb missing); run .ci/run")
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> str:
    """The URL of a new, empty database of the session's cluster."""
    name = f"t{os.getpid()}_{next(_names)}"
    postgres_cluster.psql(f"CREATE DATABASE {name}")
    return postgres_cluster.url(name)
