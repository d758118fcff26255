"""``codexkit login``, ``logout`` and ``whoami``: the account codex uses."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from .._client.client import AsyncCodex
from ..errors import CodexError
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    CodexHomeOption,
    DebugOption,
    JsonOption,
    execute,
    interruptible,
    out,
    require_codex_home,
)

if TYPE_CHECKING:
    from .._client.account import AccountInfo, AsyncChatGptLogin, AsyncDeviceCodeLogin

__all__ = ["login", "logout", "whoami"]

Json = dict[str, Any]

#: How long a browser or device-code sign-in may take.
LOGIN_TIMEOUT = 600.0


def login(
    with_api_key: Annotated[
        bool,
        typer.Option(
            "--with-api-key",
            "--api-key",
            help="Sign in with an OpenAI API key read from stdin (asked for at a terminal).",
        ),
    ] = False,
    device_code: Annotated[
        bool,
        typer.Option("--device-code", help="Sign in with a code, on a machine with no browser."),
    ] = False,
    codex_home: CodexHomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Sign codex in: with ChatGPT in a browser (the default), a device code, or an API key.

    Examples: `codexkit login`, `printenv OPENAI_API_KEY | codexkit login --with-api-key`.
    """
    if with_api_key and device_code:
        raise typer.BadParameter("choose one of --with-api-key and --device-code")
    api_key = _read_api_key() if with_api_key else None

    async def main() -> int:
        async with AsyncCodex(codex_home=require_codex_home(codex_home)) as codex:
            if api_key is not None:
                await codex.account.login_api_key(api_key)
                out.print(Text("✓ Signed in with an API key.", style="green"))
                return EXIT_OK
            await _browser_login(codex, device_code=device_code)
            account = await codex.account.read()
        out.print(Text(f"✓ Signed in{_as(account)}.", style="green"))
        return EXIT_OK

    execute(main, debug=debug)


async def _browser_login(codex: AsyncCodex, *, device_code: bool) -> None:
    pending: AsyncChatGptLogin | AsyncDeviceCodeLogin
    if device_code:
        pending = await codex.account.login_device_code()
        out.print(
            Text.assemble(
                "Open ",
                (pending.verification_url, "bold underline"),
                " and enter the code ",
                (pending.user_code, "bold cyan"),
            )
        )
    else:
        pending = await codex.account.login_chatgpt()
        out.print("Open this address in a browser on this machine to sign in with ChatGPT:")
        out.print(Text(pending.url, style="bold underline"), soft_wrap=True)
    out.print(Text("Waiting for the sign-in to finish (Ctrl-C to cancel)…", style="dim"))
    try:
        await interruptible(pending.wait(timeout=LOGIN_TIMEOUT), "The sign-in was cancelled.")
    except BaseException:
        with contextlib.suppress(CodexError):
            await pending.cancel()
        raise


def logout(codex_home: CodexHomeOption = None, debug: DebugOption = False) -> None:
    """Forget codex's stored credentials."""

    async def main() -> int:
        async with AsyncCodex(codex_home=require_codex_home(codex_home)) as codex:
            await codex.account.logout()
        out.print(Text("✓ Signed out.", style="green"))
        return EXIT_OK

    execute(main, debug=debug)


def whoami(
    as_json: JsonOption = False,
    codex_home: CodexHomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Show the account codex uses. Exits 1 when sign-in is needed but missing."""

    async def main() -> int:
        async with AsyncCodex(codex_home=require_codex_home(codex_home)) as codex:
            raw: Json = await codex.request("account/read", {"refreshToken": False})
            account = await codex.account.read()
        if as_json:
            out.print_json(data=raw)
        elif account is not None:
            out.print(Text(f"Signed in{_as(account)}.", style="bold"))
        elif not raw.get("requiresOpenaiAuth"):
            out.print("Not signed in; the configured model provider needs no OpenAI account.")
        else:
            out.print(Text("Not signed in.", style="bold yellow"))
            out.print(Text("Sign in with: codexkit login", style="dim"))
        return EXIT_OK if account is not None or not raw.get("requiresOpenaiAuth") else EXIT_FAILED

    execute(main, debug=debug)


def describe_account(account: AccountInfo) -> str:
    """``ChatGPT (me@example.com, plus plan)``, ``an API key``, …"""
    if account.type == "apiKey":
        return "an API key"
    kind = {"chatgpt": "ChatGPT", "amazonBedrock": "Amazon Bedrock"}.get(account.type, account.type)
    details = [
        part
        for part in (account.email, f"{account.plan_type} plan" if account.plan_type else None)
        if part
    ]
    return f"{kind} ({', '.join(details)})" if details else kind


def _as(account: AccountInfo | None) -> str:
    return f" with {describe_account(account)}" if account is not None else ""


def _read_api_key() -> str:
    if sys.stdin.isatty():
        key = str(typer.prompt("OpenAI API key", hide_input=True, err=True))
    else:
        key = sys.stdin.read()
    key = key.strip()
    if not key:
        raise typer.BadParameter("no API key on stdin", param_hint="--with-api-key")
    return key
