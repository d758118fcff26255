"""``codexkit batch``: run a file of agent tasks (``batch TASKS --out RESULTS``) and report
on a results file (``batch report RESULTS``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.live import Live
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from ..fleet import (
    BatchEvent,
    BatchSettings,
    TaskFileError,
    TaskResult,
    arun_batch,
    load_tasks,
    read_results,
)
from ..fleet._runner import DEFAULT_TIMEOUT
from ..fleet._summary import STATUSES, BatchSummary, summarize
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    CliError,
    CodexHomeOption,
    DebugOption,
    err,
    execute,
    interruptible,
    out,
    require_codex_home,
)

__all__ = ["batch_app"]

EXIT_USAGE = 2
ExecutorName = Literal["local", "ray"]
_MARKS = {"passed": ("✓", "green"), "failed": ("✗", "red"), "error": ("!", "magenta"),
          "timeout": ("⏱", "yellow")}  # fmt: skip


class _RunByDefault(TyperGroup):
    """``codexkit batch TASKS ...`` means ``codexkit batch run TASKS ...``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # click's Context
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


batch_app = typer.Typer(
    name="batch",
    cls=_RunByDefault,
    help=(
        "Run many agent tasks at once: `codexkit batch TASKS.jsonl --out RESULTS.jsonl`; "
        "`codexkit batch report RESULTS.jsonl` summarizes a results file."
    ),
    no_args_is_help=True,
)


@batch_app.command("run")
def run(
    tasks: Annotated[
        Path, typer.Argument(metavar="TASKS", help="A JSON Lines file of tasks.", dir_okay=False)
    ],
    out_path: Annotated[
        Path,
        typer.Option(
            "--out", "-o", metavar="RESULTS", help="Results file (appended to).", dir_okay=False
        ),
    ],
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-j", min=1, help="Tasks at once.")
    ] = 4,
    executor: Annotated[
        ExecutorName, typer.Option("--executor", help="Where tasks run: here, or on Ray.")
    ] = "local",
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", metavar="ADDR", help="A running Ray cluster.")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.001, help="Seconds per task without its own.")
    ] = DEFAULT_TIMEOUT,
    retries: Annotated[
        int, typer.Option("--retries", min=0, help="Retries of retryable model-service failures.")
    ] = 2,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Rerun tasks in RESULTS that did not pass.")
    ] = False,
    json_events: Annotated[
        bool, typer.Option("--json", help="Print progress events as JSON lines.")
    ] = False,
    workspace_root: Annotated[
        Path | None,
        typer.Option(
            "--workspace-root",
            metavar="DIR",
            file_okay=False,
            help="Where each task's copy is made (default: the temporary directory).",
        ),
    ] = None,
    codex_home: CodexHomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Run each task of TASKS in its own copy of its folder or repository, appending a
    result line per task to RESULTS as it ends. Tasks already in RESULTS are skipped.

    Exit codes: 0 every task ran (passed or failed its check), 1 some task ended in
    error or timeout, 2 bad usage or invalid task lines, 130 interrupted.
    """
    root = str(workspace_root.absolute()) if workspace_root is not None else None
    options: dict[str, Any] = {
        "out": out_path,
        "concurrency": concurrency,
        "executor": executor,
        "ray_address": ray_address,
        "settings": BatchSettings(timeout=timeout, retries=retries, workspace_root=root),
        "retry_failed": retry_failed,
    }
    execute(lambda: _run(tasks, options, codex_home, json_events), debug=debug)


async def _run(
    tasks_path: Path, options: dict[str, Any], codex_home: Path | None, json_events: bool
) -> int:
    try:
        tasks = load_tasks(tasks_path)
    except TaskFileError as exc:
        raise CliError(str(exc), hint="Fix these lines; nothing ran.", code=EXIT_USAGE) from None
    home = require_codex_home(codex_home)
    client_options = {"codex_home": home} if home else {}
    view = _JsonView() if json_events else _LiveView(len(tasks))
    statuses: set[str] = set()  # not the results: their diffs can be large

    async def drive() -> None:
        with view:
            async for result in arun_batch(
                tasks, client_options=client_options, on_event=view.event, **options
            ):
                statuses.add(result.status)

    await interruptible(drive(), f"finished results are in {options['out']}")
    if not json_events:
        print_summary(summarize(read_results(options["out"]).results.values()))
    return EXIT_FAILED if statuses & {"error", "timeout"} else EXIT_OK


class _JsonView:
    """Each batch event as one JSON line on stdout, for programs."""

    def __enter__(self) -> _JsonView:
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()

    def event(self, event: BatchEvent) -> None:
        sys.stdout.write(json.dumps(event.as_dict()) + "\n")
        sys.stdout.flush()


class _LiveView:
    """A line per finished task, and on a terminal a live status line under them."""

    def __init__(self, total: int) -> None:
        self._live = Live(console=err, transient=True, auto_refresh=True, refresh_per_second=4)
        self._last: BatchEvent | None = None
        self._live.update(Text(""))

    def __enter__(self) -> _LiveView:
        if err.is_terminal:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if err.is_terminal:
            self._live.stop()

    def event(self, event: BatchEvent) -> None:
        if event.kind == "started" and event.progress.skipped:
            err.print(Text(f"skipping {event.progress.skipped} finished task(s)", style="dim"))
        if event.result is not None:
            err.print(_result_line(event.result))
        if err.is_terminal:
            self._live.update(_status_line(event))


def _result_line(result: TaskResult) -> Text:
    mark, style = _MARKS[result.status]
    line = Text.assemble((f"{mark} ", style), (result.id, "bold"), f"  {result.status}")
    line.append(f"  {result.duration_s:.1f}s", style="dim")
    if result.error:
        line.append(f"  {result.error.splitlines()[0]}", style=style)
    return line


def _status_line(event: BatchEvent) -> Text:
    p = event.progress
    eta = f"{p.eta_s:.0f}s" if p.eta_s is not None else "?"
    return Text.assemble(
        (f"{p.done}/{p.total} done", "bold"),
        f"  running {p.running}  ",
        (f"passed {p.counts['passed']}", "green"),
        "  ",
        (f"failed {p.counts['failed']}", "red"),
        f"  error {p.counts['error']}  timeout {p.counts['timeout']}",
        (f"  {p.rate_per_minute:.1f}/min  ETA {eta}", "dim"),
    )


def print_summary(summary: BatchSummary) -> None:
    """The summary table on stdout."""
    table = Table(title="batch summary", show_header=True, header_style="bold")
    table.add_column("status")
    table.add_column("tasks", justify="right")
    table.add_column("share", justify="right")
    for status in STATUSES:
        count = summary.counts[status]
        share = f"{100 * count / summary.total:.1f}%" if summary.total else "-"
        table.add_row(Text(status, style=_MARKS[status][1]), str(count), share)
    table.add_row(Text("total", style="bold"), str(summary.total), "")
    out.print(table)
    figures = summary.as_dict()
    rate = summary.pass_rate
    out.print(
        f"pass rate {100 * rate:.1f}%" if rate is not None else "no results",
        f"· duration p50 {figures['duration_s_p50']} s, p90 {figures['duration_s_p90']} s",
        f"· tokens {summary.total_tokens}",
    )


@batch_app.command("report")
def report(
    results_path: Annotated[
        Path,
        typer.Argument(
            metavar="RESULTS", help="A results file of `codexkit batch`.", dir_okay=False
        ),
    ],
    html_path: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="PATH",
            dir_okay=False,
            help="Where to write the HTML report (default: RESULTS with .html).",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    debug: DebugOption = False,
) -> None:
    """Print the summary of a results file again and write its HTML report (pass rate,
    duration and token histograms, a row per task; one file, nothing fetched)."""
    execute(lambda: _report(results_path, html_path, json_output), debug=debug)


async def _report(results_path: Path, html_path: Path | None, json_output: bool) -> int:
    return _write_report(results_path, html_path, json_output)  # quick file work: no await


def _write_report(results_path: Path, html_path: Path | None, json_output: bool) -> int:
    from ..fleet._report import render_report

    if not results_path.is_file():
        raise CliError(f"no results file at {results_path}", code=EXIT_USAGE)
    stored = read_results(results_path)
    results = list(stored.results.values())
    target = html_path or results_path.with_suffix(".html")
    target.write_text(render_report(results, title=f"Batch report: {results_path.name}"))
    summary = summarize(results)
    if json_output:
        data = {
            **summary.as_dict(),
            "html": str(target),
            "unreadable_lines": stored.unreadable_lines,
        }
        out.print_json(data=data)
        return EXIT_OK
    print_summary(summary)
    if stored.unreadable_lines:
        err.print(Text(f"skipped unreadable lines: {stored.unreadable_lines}", style="yellow"))
    out.print(f"report: {target}")
    return EXIT_OK
