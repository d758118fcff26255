"""docs/migrating.md runs: every codexkit cell of its tables, on the real binary, offline.

A row of a table is ``| their call | codexkit |``. Each `code span` of the codexkit cell
is Python, run in order in a namespace of the row's own (top-level ``await``, ``async
for`` and ``async with`` allowed). A span ``except SomeError`` says that the span before it
raises that error: the row fails if it does not. A cell without code spans is prose (say,
"not yet"): it is counted, not run.

The namespace holds the names the doc promises: everything ``codexkit`` and
``codexkit.exec`` export, ``codexkit`` itself, ``asyncio``, what the doc's ``python``
blocks define, ``repo`` (the working directory) and ``codex``: a started ``AsyncCodex``,
or an ``ExecCodex`` in the table of the exec wrapper. ``thread``, ``turn``, ``thread_id``
and ``result`` are made for a row only when its code reads them before setting them.

The scripted model answers by the prompt (see ``_reply``), so a row's prompt picks what
the agent does: "slow" stalls, "failure" fails, "outside the sandbox" asks for an
approval, "Run the tests" runs a command, "Add 2 and 3" calls the ``add`` tool; a turn
with an output schema gets JSON that fits it.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import inspect
import itertools
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import codexkit
import codexkit.exec
from codexkit import AsyncCodex
from codexkit.testing import (
    RecordedRequest,
    Reply,
    ScriptedModel,
    failure,
    json_reply,
    shell,
    stall,
    text,
    tool_call,
)

DOC = Path(__file__).parent.parent / "docs" / "migrating.md"
EXEC_TABLE = "codex_sdk"  # the header of the table whose `codex` is an ExecCodex
ROW_TIMEOUT = 20.0

# A 1x1 PNG, as `screenshot.png` in the working directory of the rows.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

Namespace = dict[str, Any]
Fixture = Callable[[Namespace], Awaitable[Any]]


# -- reading the doc --------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    table: str  # the first header cell: which system the table is about
    line: int
    theirs: str
    spans: tuple[str, ...]

    def where(self) -> str:
        return f"migrating.md:{self.line} ({self.table}: {self.theirs})"


def _cells(line: str) -> list[str]:
    """The cells of a table line; a `|` inside a code span does not split."""
    cells: list[str] = []
    current, in_code = "", False
    for char in line.strip().strip("|"):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append(current.strip())
            current = ""
        else:
            current += char
    cells.append(current.strip())
    return cells


def parse_rows(markdown: str) -> list[Row]:
    rows: list[Row] = []
    table: str | None = None
    lines = markdown.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.startswith("|"):
            table = None
            continue
        cells = _cells(line)
        if table is None:  # a header; the separator line follows
            table = cells[0].strip("`")
            continue
        if set(line) <= set("|- :"):
            continue
        if len(cells) != 2:
            raise AssertionError(f"migrating.md:{number}: a row needs two cells: {line}")
        spans = tuple(re.findall(r"`([^`]+)`", cells[1]))
        rows.append(Row(table, number, cells[0], spans))
    return rows


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.S | re.M)


# -- running a row ----------------------------------------------------------------------


def _compile(source: str, where: str) -> Any:
    return compile(source, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def _names(source: str) -> tuple[set[str], set[str]]:
    """The names a span reads and the names it sets."""
    tree = ast.parse(source)
    read: set[str] = set()
    written: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else written).add(node.id)
    return read, written


async def run_row(row: Row, base: Namespace, fixtures: dict[str, Fixture]) -> None:
    """Run the row's spans in order; raise AssertionError naming the row if one fails."""
    namespace = dict(base)
    raised: BaseException | None = None
    for index, span in enumerate(row.spans):
        if span.startswith("except "):
            expected = eval(span.removeprefix("except ").strip(), namespace)
            if not isinstance(raised, expected):
                raise AssertionError(
                    f"{row.where()}: `{row.spans[index - 1]}` should raise {span}; "
                    f"raised {raised!r}"
                )
            raised = None
            continue
        if raised is not None:
            raise AssertionError(f"{row.where()}: `{row.spans[index - 1]}` raised {raised!r}")
        try:
            read, written = _names(span)
            for name in sorted((read - written - namespace.keys()) & fixtures.keys()):
                namespace[name] = await fixtures[name](namespace)
            outcome = eval(_compile(span, row.where()), namespace)
            if inspect.iscoroutine(outcome):
                await asyncio.wait_for(outcome, ROW_TIMEOUT)
        except Exception as exc:
            raised = exc
    if raised is not None:
        raise AssertionError(f"{row.where()}: `{row.spans[-1]}` raised {raised!r}") from raised


@dataclass
class Outcome:
    ran: int = 0  # rows with code that were run, passing or not
    failed: tuple[str, ...] = ()  # one message per failed row


async def run_rows(rows: list[Row], base: Namespace, fixtures: dict[str, Fixture]) -> Outcome:
    """Run every row with code, in order."""
    outcome = Outcome()
    for row in rows:
        if not row.spans:
            continue
        outcome.ran += 1
        try:
            await run_row(row, base, fixtures)
        except AssertionError as exc:
            outcome.failed += (str(exc),)
    return outcome


# -- the scripted model -----------------------------------------------------------------


def _example(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A JSON value that fits a (strict) JSON schema."""
    if "$ref" in schema:
        return _example(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return _example(schema["anyOf"][0], defs)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: _example(sub, defs) for name, sub in properties.items()}
    values = {"array": [], "string": "text", "integer": 1, "number": 1.0, "boolean": True}
    return values.get(str(kind))


_BY_WORDS: list[tuple[str, Callable[[], Reply]]] = [
    ("slow", lambda: stall(30)),
    ("failure", lambda: failure("the model is overloaded")),
    ("outside the sandbox", lambda: shell("touch outside.txt", escalate=True)),
    ("run the tests", lambda: shell("echo 3 passed")),
    ("add 2 and 3", lambda: tool_call("add", {"a": 2, "b": 3})),
]


def _reply(request: RecordedRequest) -> Reply:
    latest = request.input[-1] if request.input else {}
    if latest.get("type") == "function_call_output":
        return text("Done.")
    schema = request.output_schema
    if schema is not None:
        return json_reply(_example(schema, schema.get("$defs", {})))
    prompt = (request.last_user_text or "").lower()
    for words, reply in _BY_WORDS:
        if words in prompt:
            return reply()
    return text("Hello from the agent.", chunks=3)


def _wait_for_prompt(model: ScriptedModel, prompt: str, timeout: float = 10.0) -> None:
    """Block until the model was asked ``prompt`` (other turns may call it meanwhile)."""
    deadline = time.monotonic() + timeout
    while not any(request.last_user_text == prompt for request in model.requests):
        model.wait_for_requests(len(model.requests) + 1, timeout=deadline - time.monotonic())


# -- the namespaces ---------------------------------------------------------------------


def _exported() -> Namespace:
    names: Namespace = {name: getattr(codexkit, name) for name in codexkit.__all__}
    names.update({name: getattr(codexkit.exec, name) for name in codexkit.exec.__all__})
    names.update(codexkit=codexkit, asyncio=asyncio)
    return names


def _once(fixture: Fixture) -> Fixture:
    """The fixture made once and shared by the rows (for values no row can change)."""
    made: list[Any] = []

    async def shared(ns: Namespace) -> Any:
        if not made:
            made.append(await fixture(ns))
        return made[0]

    return shared


_stalled = itertools.count()


def _app_fixtures(model: ScriptedModel) -> dict[str, Fixture]:
    async def thread(ns: Namespace) -> Any:
        return await ns["codex"].start_thread()

    async def thread_id(ns: Namespace) -> str:
        stored = await ns["codex"].start_thread()
        await stored.run("Say hello")
        return str(stored.id)

    async def turn(ns: Namespace) -> Any:
        """A turn the agent is working on (its model call stalls), on a thread of its own.
        codex takes a turn as interruptible once it calls the model: wait for that call."""
        prompt = f"Run the slow migration ({next(_stalled)})"
        running = await (await ns["codex"].start_thread()).turn(prompt)
        await asyncio.to_thread(_wait_for_prompt, model, prompt)
        return running

    async def result(ns: Namespace) -> Any:
        return await (await ns["codex"].start_thread()).run("Say hello")

    return {"thread": thread, "thread_id": thread_id, "turn": turn, "result": _once(result)}


def _exec_fixtures() -> dict[str, Fixture]:
    async def thread(ns: Namespace) -> Any:
        return ns["codex"].start_thread()

    async def thread_id(ns: Namespace) -> str:  # exec rows only read and resume it
        stored = ns["codex"].start_thread()
        await stored.run("Say hello")
        return str(stored.id)

    async def result(ns: Namespace) -> Any:
        return await ns["codex"].start_thread().run("Say hello")

    return {"thread": thread, "thread_id": _once(thread_id), "result": _once(result)}


#: Rows that sign the shared app-server in or out. codex fails the turns running at that
#: moment ("application network permission was revoked"), so they run alone, after the rest.
_ALONE = ("account.login", "account.logout")


def _alone(row: Row) -> bool:
    return any(word in span for span in row.spans for word in _ALONE)


async def _run_doc(model: ScriptedModel, base: Namespace, rows: list[Row]) -> Outcome:
    """Run the tables side by side (rows of one table in order): the openai-codex and
    codex-client tables on one started AsyncCodex, the exec wrapper's on an ExecCodex;
    then the rows that change the sign-in, one at a time."""
    tables = sorted({row.table for row in rows})
    async with AsyncCodex(cwd=base["repo"]) as codex:
        app = {**base, "codex": codex}
        exec_ = {**base, "codex": codexkit.exec.ExecCodex()}
        runs = [
            run_rows(
                [row for row in rows if row.table == table and not _alone(row)],
                exec_ if table == EXEC_TABLE else app,
                _exec_fixtures() if table == EXEC_TABLE else _app_fixtures(model),
            )
            for table in tables
        ]
        outcomes = await asyncio.gather(*runs)
        alone = [row for row in rows if _alone(row)]
        outcomes.append(await run_rows(alone, app, _app_fixtures(model)))
    return Outcome(
        ran=sum(outcome.ran for outcome in outcomes),
        failed=tuple(message for outcome in outcomes for message in outcome.failed),
    )


# -- the tests --------------------------------------------------------------------------


@pytest.mark.real
@pytest.mark.slow  # about 25 s of CPU: some 130 rows, a dozen of them spawning codex
def test_every_row_of_the_migration_guide_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    markdown = DOC.read_text()
    rows = parse_rows(markdown)
    with_code = [row for row in rows if row.spans]
    assert {row.table for row in rows} == {"openai-codex", "codex-client", EXEC_TABLE}
    for table in ("openai-codex", "codex-client", EXEC_TABLE):
        assert sum(row.table == table for row in with_code) >= 15, table

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "screenshot.png").write_bytes(PNG)
    monkeypatch.chdir(repo)
    with ScriptedModel(default=_reply) as model:
        monkeypatch.setenv("CODEX_HOME", os.fspath(model.codex_home(tmp_path / "home")))
        base = {**_exported(), "repo": os.fspath(repo)}
        for block in python_blocks(markdown):
            exec(compile(block, "migrating.md", "exec"), base)
        outcome = asyncio.run(_run_doc(model, base, rows))
    assert not outcome.failed, "\n".join(outcome.failed)
    assert outcome.ran == len(with_code)
    assert not model.errors, model.errors


# The runner itself: a row that breaks fails, an `except` span is checked both ways.


class _Shop:
    async def order(self, number: int) -> int:
        return number

    async def refund(self, number: int) -> None:
        raise LookupError(number)


async def _run_table(cell: str) -> tuple[str, ...]:
    rows = parse_rows(f"| shop | codexkit |\n| --- | --- |\n| their call | {cell} |\n")
    return (await run_rows(rows, {"shop": _Shop()}, {})).failed


async def test_a_row_that_works_passes() -> None:
    assert await _run_table("`n = await shop.order(1)`; `n + 1`") == ()
    assert await _run_table("`await shop.refund(1)` raises `except LookupError`") == ()
    assert await _run_table("not yet: planned") == ()
    table = "| shop | codexkit |\n| --- | --- |\n| a | `await shop.order(1)` |\n| b | not yet |\n"
    assert (await run_rows(parse_rows(table), {"shop": _Shop()}, {})).ran == 1


async def test_a_row_whose_code_breaks_fails() -> None:
    (failed,) = await _run_table("`await shop.orders(1)`")
    assert "migrating.md:3 (shop: their call)" in failed
    assert "AttributeError" in failed


async def test_an_except_span_needs_the_error() -> None:
    (missing,) = await _run_table("`await shop.order(1)`; `except LookupError`")
    assert "should raise except LookupError" in missing
    (other,) = await _run_table("`await shop.refund(1)`; `except KeyError`")
    assert "should raise except KeyError" in other


def test_rows_and_blocks_are_read_from_markdown() -> None:
    markdown = (
        "intro\n\n| sdk | codexkit |\n| --- | --- |\n"
        "| `a \\| b` | `x = 1`; `x` |\n| prose | not yet |\n\nafter\n"
        "```python\nY = 2\n```\n"
    )
    rows = parse_rows(markdown)
    assert [(row.table, row.line, row.spans) for row in rows] == [
        ("sdk", 5, ("x = 1", "x")),
        ("sdk", 6, ()),
    ]
    assert python_blocks(markdown) == ["Y = 2\n"]
