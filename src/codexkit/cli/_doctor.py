"""``codexkit doctor``: is everything in place for the agent to run?

Each check prints ✓ (fine), ! (works, but worth knowing) or ✗ (broken) and, when not
fine, what to do. The exit code is 1 when an essential check fails.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from .._client.client import AsyncCodex
from .._runtime.binary import PINNED_VERSION, CodexBinary, find_codex
from .._version import __version__
from ..errors import CodexError, CodexNotFoundError
from ._account import describe_account
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    CodexHomeOption,
    DebugOption,
    codex_home_path,
    execute,
    out,
)

__all__ = ["doctor"]

Json = dict[str, Any]

_MARKS = {"ok": ("✓", "green"), "warn": ("!", "yellow"), "fail": ("✗", "red")}
_SANDBOX_PROBE = (
    "echo sandbox-ok; if touch probe 2>/dev/null; then echo writable; else echo blocked; fi"
)
_SANDBOX_FIX = (
    "Install bubblewrap (apt install bubblewrap) and allow unprivileged user namespaces "
    "(sysctl kernel.unprivileged_userns_clone=1, or kernel.apparmor_restrict_unprivileged_userns=0 "
    "on Ubuntu); inside a container that already isolates the agent, use "
    "--sandbox danger-full-access."
)


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    state: str  # "ok", "warn" or "fail"
    detail: str
    fix: str | None = None


def doctor(codex_home: CodexHomeOption = None, debug: DebugOption = False) -> None:
    """Check the codex binary, CODEX_HOME, sign-in and the sandbox; say what to fix."""

    async def main() -> int:
        out.print(
            Text(
                f"codexkit {__version__} · Python {platform.python_version()} · "
                f"{sys.platform} {platform.machine()}",
                style="dim",
            )
        )
        checks: list[Check] = []
        async for check in _checks(codex_home):
            checks.append(check)
            _print(check)
        failed = [check for check in checks if check.state == "fail"]
        if failed:
            out.print(Text(f"\n{len(failed)} problem(s) to fix.", style="bold red"))
            return EXIT_FAILED
        out.print(Text("\nEverything essential works.", style="bold green"))
        return EXIT_OK

    execute(main, debug=debug)


async def _checks(option: Path | None) -> AsyncIterator[Check]:
    """Each check, as soon as it is done."""
    try:
        binary = find_codex()
    except CodexNotFoundError as exc:
        yield Check(
            "codex binary",
            "fail",
            "not found: " + "; ".join(exc.tried),
            "pip install codexkit brings the pinned runtime; or set CODEXKIT_CODEX_BIN.",
        )
        return
    yield Check("codex binary", "ok", f"{binary.path} ({binary.source})")
    yield await _version(binary)

    home = codex_home_path(option)
    home_check = _codex_home(home, explicit=option is not None)
    yield home_check
    if home_check.state == "fail":
        return

    started = time.monotonic()
    try:
        async with AsyncCodex(codex_home=os.fspath(home) if option else None) as codex:
            took = (time.monotonic() - started) * 1000
            yield Check("app-server", "ok", f"started and answered in {took:.0f} ms")
            yield await _sign_in(codex)
            if sys.platform == "linux":
                yield _bubblewrap(binary)
            yield await _sandbox(codex)
    except CodexError as exc:
        detail = str(exc).split("Stack backtrace:")[0].strip().replace("\n", " ")
        yield Check(
            "app-server",
            "fail",
            f"did not start: {detail}",
            "Run with --debug to see its log.",
        )


async def _version(binary: CodexBinary) -> Check:
    import asyncio  # here: `codexkit --help` never needs it

    try:
        process = await asyncio.create_subprocess_exec(
            binary.path,
            "--version",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=binary.child_env(),
        )
        output, _ = await asyncio.wait_for(process.communicate(), 20)
    except (OSError, asyncio.TimeoutError) as exc:
        return Check("codex version", "fail", f"`codex --version` failed: {exc}")
    words = output.decode(errors="replace").split()
    version = words[-1] if words else "unknown"
    if version == PINNED_VERSION:
        return Check("codex version", "ok", f"{version} (the pinned version)")
    return Check(
        "codex version",
        "warn",
        f"{version}; codexkit is pinned to {PINNED_VERSION}",
        "It should work; the protocol may differ. `pip install codexkit` brings the pinned one.",
    )


def _codex_home(home: Path, *, explicit: bool) -> Check:
    if not explicit:
        source = "default"
    elif os.environ.get("CODEX_HOME") and Path(os.environ["CODEX_HOME"]).absolute() == home:
        source = "$CODEX_HOME"
    else:
        source = "--codex-home"
    if home.is_dir():
        return Check("CODEX_HOME", "ok", f"{home} ({source})")
    if explicit:
        return Check("CODEX_HOME", "fail", f"{home} does not exist", f"Create it: mkdir -p {home}")
    return Check(
        "CODEX_HOME", "warn", f"{home} does not exist yet", "codex creates it on first use."
    )


async def _sign_in(codex: AsyncCodex) -> Check:
    raw: Json = await codex.request("account/read", {"refreshToken": False})
    account = await codex.account.read()
    if account is not None:
        return Check("sign-in", "ok", f"signed in with {describe_account(account)}")
    if not raw.get("requiresOpenaiAuth"):
        return Check(
            "sign-in", "ok", "not needed: the configured model provider has no OpenAI sign-in"
        )
    return Check(
        "sign-in",
        "fail",
        "not signed in",
        "codexkit login (ChatGPT), or: printenv OPENAI_API_KEY | codexkit login --with-api-key",
    )


def _bubblewrap(binary: CodexBinary) -> Check:
    system = shutil.which("bwrap")
    if system:
        return Check("bubblewrap", "ok", system)
    bundled = Path(binary.path).resolve().parent.parent / "codex-resources" / "bwrap"
    if bundled.is_file():
        return Check(
            "bubblewrap",
            "warn",
            f"not on PATH; codex uses its bundled copy ({bundled})",
            "Fine as it is; apt install bubblewrap to use the system's.",
        )
    return Check("bubblewrap", "warn", "not found", "apt install bubblewrap")


async def _sandbox(codex: AsyncCodex) -> Check:
    with tempfile.TemporaryDirectory(prefix="codexkit-doctor-") as scratch:
        try:
            result = await codex.exec_command(
                ["sh", "-c", _SANDBOX_PROBE],
                cwd=scratch,
                sandbox_policy="read-only",
                timeout=30,
            )
        except CodexError as exc:
            return Check("sandbox", "fail", f"could not run a command: {exc}", _SANDBOX_FIX)
        wrote = (Path(scratch) / "probe").exists()
    lines = result.stdout.split()
    if result.exit_code != 0 or "sandbox-ok" not in lines:
        why = (result.stderr or result.stdout).strip().splitlines()
        detail = why[-1] if why else f"exit code {result.exit_code}"
        return Check("sandbox", "fail", f"a sandboxed command failed: {detail}", _SANDBOX_FIX)
    if wrote or "writable" in lines:
        return Check(
            "sandbox",
            "fail",
            "a read-only sandboxed command could write files",
            _SANDBOX_FIX,
        )
    return Check("sandbox", "ok", "a read-only sandboxed command ran, and its write was blocked")


def _print(check: Check) -> None:
    """One check as a row: mark, name, then the detail and fix, wrapped in their column."""
    mark, style = _MARKS[check.state]
    row = Table.grid(padding=(0, 1))
    row.add_column(width=1, no_wrap=True)
    row.add_column(width=13, no_wrap=True)
    row.add_column(overflow="fold")
    detail = Text(check.detail)
    if check.fix:
        detail.append(f"\n→ {check.fix}", style=style)
    row.add_row(Text(mark, style=f"bold {style}"), Text(check.name, style="bold"), detail)
    out.print(row)
