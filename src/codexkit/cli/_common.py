"""What every command shares: the consoles, common options, and running a command's
coroutine so that errors become one clear line and Ctrl-C becomes exit code 130."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import IO, Annotated, Any, Literal, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from ..errors import CodexError

#: The --approval choices of `codexkit run` and `threads resume`.
ApprovalChoice = Literal["never", "on-request", "untrusted", "auto-accept", "auto-decline"]

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "CliError",
    "CodexHomeOption",
    "DebugOption",
    "Interrupted",
    "JsonOption",
    "codex_home_path",
    "err",
    "execute",
    "interruptible",
    "out",
    "require_codex_home",
    "sigint_handler",
    "terminal_attached",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


class OutputClosed(Exception):
    """Whoever read our output went away (``codexkit run … | head``)."""


def _discard_output(stream: IO[str]) -> NoReturn:
    """Send what is still to be written to ``stream`` nowhere, and stop the command."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    raise OutputClosed


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # rich raises SystemExit here, which asyncio treats as fatal inside a task.
        _discard_output(self.file)


# Both follow sys.stdout / sys.stderr as they are when printing, and decide colour and
# width then, so they suit pipes, terminals and test runners alike.
out = _Console(highlight=False)
err = _Console(stderr=True, highlight=False)

_T = TypeVar("_T")

CodexHomeOption = Annotated[
    Path | None,
    typer.Option(
        "--codex-home",
        envvar="CODEX_HOME",
        show_envvar=True,
        file_okay=False,
        help="Where codex keeps its config, sign-in and threads (default: ~/.codex).",
    ),
]
DebugOption = Annotated[
    bool, typer.Option("--debug", help="Show tracebacks and codexkit's debug log on stderr.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class CliError(Exception):
    """A failure the command explains itself; ``hint`` says what to do about it."""

    def __init__(self, message: str, *, hint: str | None = None, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.hint = hint
        self.code = code


class Interrupted(Exception):
    """Ctrl-C stopped the command after cleaning up; the message says what was kept."""


def terminal_attached() -> bool:
    """Whether a person can answer questions: stdin and stdout are both a terminal."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def execute(
    main: Callable[[], Coroutine[Any, Any, int]], *, debug: bool, uvloop: bool = False
) -> None:
    """Run a command's coroutine and leave with its exit code: 1 with one red line for a
    codexkit error, 130 after Ctrl-C, 0 (quietly) when whoever read the output went
    away. ``--debug`` adds tracebacks and debug logs. ``uvloop``: on uvloop's event loop
    when it is installed (the ``server`` extra installs it), for long-running commands
    whose CPU goes to sockets, pipes and timers."""
    import asyncio  # here, not at the top: `codexkit --help` never needs it

    _configure_logging(debug)
    run: Callable[[Coroutine[Any, Any, int]], int] = asyncio.run
    if uvloop:
        with contextlib.suppress(ImportError):
            from uvloop import run
    try:
        code = run(main())
    except Interrupted as exc:
        err.print(Text.assemble(("Interrupted. ", "bold yellow"), str(exc)))
        code = EXIT_INTERRUPTED
    except KeyboardInterrupt:
        err.print(Text("Interrupted.", style="bold yellow"))
        code = EXIT_INTERRUPTED
    except OutputClosed:
        code = EXIT_OK  # the reader had what it wanted (`| head -1`): not a failure
    except BrokenPipeError:
        with contextlib.suppress(OutputClosed):
            _discard_output(sys.stdout)
        code = EXIT_OK
    except (CodexError, CliError, OSError) as exc:
        if debug:
            err.print_exception()
        _report(exc)
        code = exc.code if isinstance(exc, CliError) else EXIT_FAILED
    raise typer.Exit(code)


def _report(exc: BaseException) -> None:
    first, _, rest = str(exc).partition("\n")
    err.print(Text.assemble(("error: ", "bold red"), (first, "red")))
    # An app-server that died leaves its stderr tail; the Rust backtrace says nothing.
    rest = rest.split("Stack backtrace:")[0].rstrip()
    if rest:
        err.print(Text(rest, style="dim"))
    hint = exc.hint if isinstance(exc, CliError) else None
    if hint:
        err.print(Text(hint, style="yellow"))


def _configure_logging(debug: bool) -> None:
    from rich.logging import RichHandler

    logger = logging.getLogger("codexkit")
    if any(isinstance(handler, RichHandler) for handler in logger.handlers):
        return
    handler = RichHandler(console=err, show_time=debug, show_path=False, rich_tracebacks=debug)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    logger.propagate = False


def codex_home_path(option: Path | None) -> Path:
    """The ``CODEX_HOME`` codex will use: the option (or ``$CODEX_HOME``), else
    ``~/.codex``."""
    return option.expanduser().absolute() if option is not None else Path.home() / ".codex"


def require_codex_home(option: Path | None) -> str | None:
    """The ``codex_home=`` to pass to the SDK. A home that was named but does not exist
    is refused here, with a fix, instead of by a dying app-server."""
    if option is None:
        return None
    path = codex_home_path(option)
    if not path.is_dir():
        raise CliError(
            f"CODEX_HOME {path} does not exist",
            hint=f"Create it (mkdir -p {path}) or point --codex-home / $CODEX_HOME elsewhere.",
        )
    return os.fspath(path)


@contextlib.contextmanager
def sigint_handler(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback`` on the event loop for each Ctrl-C while the block runs."""
    import asyncio

    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, callback)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


async def interruptible(awaitable: Awaitable[_T], message: str = "") -> _T:
    """Await ``awaitable``; Ctrl-C cancels it and raises :class:`Interrupted`."""
    import asyncio

    task = asyncio.ensure_future(awaitable)
    pressed = False

    def on_sigint() -> None:
        nonlocal pressed
        pressed = True
        task.cancel()

    with sigint_handler(on_sigint):
        try:
            return await task
        except asyncio.CancelledError:
            if pressed:
                raise Interrupted(message) from None
            raise
