"""``codexkit serve``: the control plane (codex-manager's REST and websocket contract)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import CliError, CodexHomeOption, DebugOption, execute, require_codex_home

__all__ = ["serve"]


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0 picks a free one).")] = 3001,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            file_okay=False,
            help="Token, database and logs (default: ~/.local/share/codexkit/serve).",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="SQLAlchemy URL, e.g. postgresql+asyncpg://... (default: SQLite in the data dir).",
        ),
    ] = None,
    codex_home: CodexHomeOption = None,
    app_servers: Annotated[
        int, typer.Option("--app-servers", min=1, help="How many app-server processes to run.")
    ] = 1,
    allowed_root: Annotated[
        list[Path] | None,
        typer.Option(
            "--allowed-root",
            file_okay=False,
            help="A directory sessions may work in (repeatable; default: anywhere).",
        ),
    ] = None,
    no_profile: Annotated[
        bool,
        typer.Option(
            "--no-profile", help="Leave the codex-manager CLI profile (config.json) alone."
        ),
    ] = False,
    lock_defaults: Annotated[
        bool | None,
        typer.Option(
            "--lock-defaults/--unlock-defaults",
            help="Lock the default controls and settings (writes at scope default answer "
            "423), or unlock them; kept in the database (default: as stored).",
        ),
    ] = None,
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="No bearer token (refused unless the host is loopback)."),
    ] = False,
    jobs_concurrency: Annotated[
        int, typer.Option("--jobs-concurrency", min=1, help="Orchestrator jobs run at once.")
    ] = 4,
    jobs_per_project: Annotated[
        int,
        typer.Option(
            "--jobs-per-project", min=1, help="Orchestrator jobs run at once per project."
        ),
    ] = 2,
    jobs_max: Annotated[
        int,
        typer.Option(
            "--jobs-max", min=1, help="Jobs queued or running at most (429 queue_full past it)."
        ),
    ] = 200,
    job_attempts: Annotated[
        int,
        typer.Option("--job-attempts", min=1, help="Runs a job may start (first and retries)."),
    ] = 3,
    job_timeout: Annotated[
        float, typer.Option("--job-timeout", min=0.1, help="Seconds one run of a job may take.")
    ] = 300.0,
    extension: Annotated[
        list[str] | None,
        typer.Option(
            "--extension",
            help="An agent extension to load, module:name (repeatable; entry points of "
            "the group codexkit.extensions load too).",
        ),
    ] = None,
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="In a cluster (PostgreSQL): all, api (no app-server; session work goes "
            "to a runner) or runner.",
        ),
    ] = "all",
    advertise_url: Annotated[
        str | None,
        typer.Option(
            "--advertise-url",
            help="Where the other processes of a cluster reach this one (default: "
            "http://HOST:PORT).",
        ),
    ] = None,
    lease_seconds: Annotated[
        float,
        typer.Option(
            "--lease-seconds",
            help="In a cluster: seconds without a heartbeat after which a process is "
            "dead and its sessions are taken over.",
        ),
    ] = 10.0,
    debug: DebugOption = False,
) -> None:
    """Serve codex-manager's REST and websocket API for many agent sessions.

    Prints the URL and a one-time login link for browsers. Clients send the bearer token
    (kept in the data dir, and written into the codex-manager CLI profile `local`).
    """

    async def main() -> int:
        from ..errors import InvalidArgumentError
        from ..server.run import serve as run_server
        from ..server.settings import ServeSettings, default_data_dir

        try:
            settings = ServeSettings(
                host=host,
                port=port,
                database_url=database_url,
                codex_home=_home(codex_home),
                app_servers=app_servers,
                allowed_roots=list(allowed_root or []),
                no_profile=no_profile,
                lock_defaults=lock_defaults,
                token="" if no_auth else None,
                data_dir=data_dir or default_data_dir(),
                jobs_concurrency=jobs_concurrency,
                jobs_per_project=jobs_per_project,
                jobs_max=jobs_max,
                job_attempts=job_attempts,
                job_timeout=job_timeout,
                extensions=list(extension or []),
                role=role,
                advertise_url=advertise_url,
                lease_seconds=lease_seconds,
            )
        except InvalidArgumentError as error:
            raise CliError(str(error), code=2) from None
        try:
            await run_server(settings)
        except InvalidArgumentError as error:  # e.g. a second server on one SQLite file
            raise CliError(str(error), code=2) from None
        return 0

    execute(main, debug=debug, uvloop=True)


def _home(option: Path | None) -> Path | None:
    found = require_codex_home(option)
    return Path(found) if found is not None else None
