"""``ServeSettings``: everything ``codexkit serve`` is started with, checked once."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidArgumentError

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ServeSettings", "default_data_dir", "is_loopback"]

#: The largest request body accepted (413 past it). Messages and settings are small; a
#: megabyte leaves room for big dynamic-tool schemas.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/codexkit/serve``, else ``~/.local/share/codexkit/serve``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "codexkit" / "serve"


@dataclass
class ServeSettings:
    """How the server runs.

    ``data_dir`` holds the token, the SQLite database (unless ``database_url`` names
    another) and logs. ``codex_home`` is the app-servers' ``CODEX_HOME`` (default: codex's
    own). ``allowed_roots``, when given, bound the working directories of sessions.
    ``token`` is the bearer token: ``None`` reads the one in ``data_dir`` (made on first
    start); ``""`` turns authentication off, which only a loopback host may do.
    ``no_profile`` leaves the codex-manager CLI profile alone. ``lock_defaults``
    locks (``True``) or unlocks (``False``) the default controls and settings at start:
    while locked, writes at scope ``default`` answer 423; ``None`` keeps what is stored.
    """

    host: str = "127.0.0.1"
    port: int = 3001
    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str | None = None
    codex_home: Path | None = None
    app_servers: int = 1
    allowed_roots: list[Path] = field(default_factory=list)
    no_profile: bool = False
    lock_defaults: bool | None = None
    token: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    #: The orchestrator's job queue: jobs running at once (in all, per project), jobs
    #: queued or running at most (429 past it), runs per job, seconds per run.
    jobs_concurrency: int = 4
    jobs_per_project: int = 2
    jobs_max: int = 200
    job_attempts: int = 3
    job_timeout: float = 300.0
    #: Agent extensions to load (``module:name``), besides the ``codexkit.extensions``
    #: entry points.
    extensions: list[str] = field(default_factory=list)
    #: In a cluster (several processes on one PostgreSQL, ``docs/deploy.md``): this
    #: process's role (``all``, ``api``, ``runner``), the URL the others reach it on
    #: (default ``http://HOST:PORT``), and the seconds without a heartbeat after which
    #: a process counts as dead.
    role: str = "all"
    advertise_url: str | None = None
    lease_seconds: float = 10.0

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().absolute()
        if self.codex_home is not None:
            self.codex_home = Path(self.codex_home).expanduser().absolute()
        self.allowed_roots = [Path(r).expanduser().resolve() for r in self.allowed_roots]
        if not 0 <= self.port <= 65535:
            raise InvalidArgumentError(f"port must be 0..65535, not {self.port}")
        if self.app_servers < 1:
            raise InvalidArgumentError(f"app_servers must be at least 1, not {self.app_servers}")
        for name in ("jobs_concurrency", "jobs_per_project", "jobs_max", "job_attempts"):
            if getattr(self, name) < 1:
                raise InvalidArgumentError(f"{name} must be at least 1")
        if self.job_timeout <= 0:
            raise InvalidArgumentError("job_timeout must be positive")
        if self.role not in ("all", "api", "runner"):
            raise InvalidArgumentError(f"role must be all, api or runner, not {self.role!r}")
        if self.advertise_url is not None and not self.advertise_url.startswith(
            ("http://", "https://")
        ):
            raise InvalidArgumentError(
                f"advertise_url must be an http:// or https:// URL, not {self.advertise_url!r}"
            )
        if self.lease_seconds < 1:
            raise InvalidArgumentError("lease_seconds must be at least 1")
        if self.role != "all" and not self.clustered:
            raise InvalidArgumentError(
                f"role {self.role} needs a cluster: a PostgreSQL --database-url"
            )
        if self.max_body_bytes < 1:
            raise InvalidArgumentError("max_body_bytes must be positive")
        if self.token == "" and not is_loopback(self.host):
            raise InvalidArgumentError(
                f"refusing to serve on {self.host} without a token: anyone who can reach "
                "it could drive the agent. Keep authentication on, or bind to 127.0.0.1."
            )
        for root in self.allowed_roots:
            if not root.is_dir():
                raise InvalidArgumentError(f"allowed root {root} is not a directory")

    @property
    def clustered(self) -> bool:
        """Whether this process is one of a cluster: its database is PostgreSQL."""
        return (self.database_url or "").startswith("postgresql")

    @property
    def auth_enabled(self) -> bool:
        return self.token != ""

    def url(self, port: int | None = None) -> str:
        """The base URL clients use (no ``/api``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port if port is None else port}"
