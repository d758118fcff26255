"""``serve``: what ``codexkit serve`` does, from settings to a running server."""

from __future__ import annotations

import fcntl
import logging
import socket
import sys
from pathlib import Path
from typing import TextIO

from ..errors import InvalidArgumentError
from .auth import LOGIN_PATH, LoginLinks, load_or_create_token
from .deps import Runtime
from .profile import merge_local_profile
from .redact import RedactSecrets, install_redaction
from .runtime import RuntimeSettings
from .settings import ServeSettings

__all__ = ["bind", "runtime_settings", "serve"]

log = logging.getLogger("codexkit.server")

_LOGGERS = ("codexkit", "codexkit.server", "uvicorn", "uvicorn.error", "uvicorn.access")
#: Seconds an idle keep-alive connection is kept open (see serve()).
KEEP_ALIVE = 75


def bind(settings: ServeSettings) -> socket.socket:
    """The listening socket (port 0 picks a free one; the real port is the socket's)."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off only on sockets that say they are TCP,
    # and an accepted socket inherits the listener's. With Nagle on, each keep-alive
    # answer waited ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


def runtime_settings(
    settings: ServeSettings, url: str | None = None, token: str = ""
) -> RuntimeSettings:
    """The runtime's settings from the server's: the database (SQLite in the data dir
    unless ``--database-url``), the app-servers' home and number, the allowed roots;
    on PostgreSQL, this process's place in the cluster (``url``: where it listens;
    ``token``: what it sends the others)."""
    from .runtime.cluster import ClusterSettings
    from .runtime.queue import QueueSettings
    from .store import default_url

    queue = QueueSettings(
        concurrency=settings.jobs_concurrency,
        per_project=settings.jobs_per_project,
        max_active=settings.jobs_max,
        max_attempts=settings.job_attempts,
        timeout=settings.job_timeout,
    )
    return RuntimeSettings(
        database_url=settings.database_url or default_url(settings.data_dir),
        codex_home=None if settings.codex_home is None else str(settings.codex_home),
        app_servers=settings.app_servers,
        allowed_roots=[str(root) for root in settings.allowed_roots],
        lock_defaults=settings.lock_defaults,
        queue=queue,
        extensions=list(settings.extensions),
        cluster=ClusterSettings(
            role=settings.role,
            url=settings.advertise_url or url or settings.url(),
            lease_seconds=settings.lease_seconds,
            token=token,
        )
        if settings.clustered
        else None,
    )


def _default_runtime(settings: ServeSettings, url: str, token: str) -> Runtime:
    from .host import RuntimeHost

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return RuntimeHost(runtime_settings(settings, url, token))


def lock_database(settings: ServeSettings) -> TextIO | None:
    """Alone on a SQLite file: a second ``codexkit serve`` on it is refused at once (it
    would run the same sessions twice). The lock is the kernel's, so it goes with the
    process, ``kill -9`` too. The open lock file is returned (keep it open)."""
    from .store import default_url

    url = settings.database_url or default_url(settings.data_dir)
    if not url.startswith("sqlite") or ":memory:" in url or "///" not in url:
        return None
    path = Path(url.split("///", 1)[1].split("?", 1)[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path.with_name(path.name + ".serve-lock"), "w")  # noqa: SIM115 (held)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise InvalidArgumentError(
            f"another codexkit serve runs on {path}: one process per SQLite database. "
            "Several processes need a PostgreSQL --database-url (docs/deploy.md)"
        ) from None
    return handle


async def serve(
    settings: ServeSettings, runtime: Runtime | None = None, *, out: TextIO = sys.stdout
) -> None:
    """Run the server until it is stopped (SIGINT or SIGTERM).

    Prints the URL and a one-time login link to ``out``; writes the token into the
    codex-manager CLI profile unless ``settings.no_profile``. Tokens never reach the logs.
    """
    import uvicorn

    from .app import create_app

    lock = lock_database(settings) if runtime is None else None
    redactor = RedactSecrets()
    token = settings.token
    if token is None:
        token = load_or_create_token(settings.data_dir)
    redactor.add(token)
    links = LoginLinks()
    sock = bind(settings)
    port = sock.getsockname()[1]
    base_url = settings.url(port)

    def announce() -> None:
        # Printed once the app-server runs: a reader of this output can connect at once.
        print(f"codexkit serve: {base_url}/api", file=out, flush=True)
        if token:
            link = f"{base_url}{LOGIN_PATH}?token={links.issue()}"
            print(f"login link (works once, for 10 minutes): {link}", file=out, flush=True)
            print(f"bearer token: in {settings.data_dir / 'token'}", file=out, flush=True)
        else:
            print("authentication is off (loopback only)", file=out, flush=True)
        print(f"web page: {base_url}/ (the login link signs a browser in)", file=out, flush=True)

    app = create_app(
        ServeSettings(**{**vars(settings), "token": token}),
        runtime or _default_runtime(settings, base_url, token),
        login_links=links,
        on_ready=announce,
    )
    # Idle keep-alive connections stay open longer than clients keep them (httpx: 5 s):
    # at uvicorn's own 5 s, a client reusing one as the server closes it gets a reset.
    # Websocket frames go uncompressed: they are small JSON, and compressing each one
    # for each socket took a third of the server's CPU when 100 sockets watched a turn.
    config = uvicorn.Config(
        app,
        log_level="info",
        access_log=True,
        lifespan="on",
        timeout_keep_alive=KEEP_ALIVE,
        ws_per_message_deflate=False,
    )
    server = uvicorn.Server(config)
    # uvicorn sets up its loggers when the server is made; filter them from then on.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)  # the start-up lines say where the token and profile went
    install_redaction(redactor, _LOGGERS)
    if token and not settings.no_profile:
        try:
            path = merge_local_profile(base_url, token)
        except ValueError as error:
            log.warning("codex-manager profile not updated: %s", error)
        else:
            log.info("codex-manager profile 'local' in %s now points here (baseUrl, auth)", path)
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()
        if lock is not None:
            lock.close()
