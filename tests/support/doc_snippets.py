"""Run the code blocks of a markdown file as a reader would, offline.

``python doc_snippets.py FILE.md`` runs, in a scratch directory, every ```python and
```bash block of FILE.md in order, against the real codex binary and a scripted model,
and prints one JSON report line: which blocks ran, which were excluded and which
failed (with the traceback or the output).

A marker on the line right before a fence changes what happens to the block:

- ``<!-- not-run: REASON -->``: skipped, and counted as excluded with its reason. Only
  for what cannot run offline (a ChatGPT sign-in, the network, installing packages,
  the whole test suite).
- ``<!-- run: pytest -->``: a test module: run with ``python -m pytest`` in a project of
  its own with no configuration and no async plugin, as in a user's project.
- ``<!-- file: NAME -->``: not run; written to NAME in the scratch directory, for the
  blocks after it (the JSON script of ``python -m codexkit.testing``, say).
- ``<!-- model: SCRIPT -->`` (with or without one of the above, on its own line): the
  scripted model's replies for this block, in the JSON of ``python -m
  codexkit.testing --script``: a turn that must still be running when the block
  interrupts it, say.

How the blocks run:

- Python blocks of one file share their names, in order, as in one interactive
  session; top-level ``await``, ``async with`` and ``async for`` work. Before each block
  the names the docs take for granted are set afresh: ``codex`` (an open ``AsyncCodex``;
  in exec.md an ``ExecCodex``), ``thread`` (a new thread of it) and ``repo`` (a git
  repository with an uncommitted change, also ``./project``). ``./screenshot.png`` is a
  real image.
- Bash blocks run with ``bash -e -o pipefail``, with this Python's ``bin`` directory
  first on ``PATH`` (where pip puts ``codexkit``).
- For ``manager.md``, ``remote-skills.md`` and ``automation.md`` a ``codexkit serve``
  runs on a free port for the whole file, its codex-manager profile in the scratch
  directory's ``.config`` (``XDG_CONFIG_HOME``), so ``CodexManager()`` reaches it with
  its token as a user's would.
- ``CODEX_HOME`` points every codex at the scripted model, which answers "echo: " and
  the prompt, or, when the turn asks for structured output, a minimal JSON value of the
  requested schema.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import traceback
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUNNABLE = {"python": "python", "py": "python", "bash": "bash", "sh": "bash", "shell": "bash"}
#: The kinds of block that run (and are counted as run).
RUN_KINDS = ("python", "bash", "pytest")
_FENCE = re.compile(r"^```(\S*)\s*$")
_MARKER = re.compile(r"^<!--\s*(not-run|run|file|model):\s*(.*?)\s*-->\s*$")
BLOCK_TIMEOUT = 120.0
#: The docs whose blocks talk to a `codexkit serve`.
SERVED_DOCS = frozenset({"manager.md", "remote-skills.md", "automation.md"})


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, its code, its marker."""

    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    marker: tuple[str, str] | None = None
    model_script: str | None = None

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"

    @property
    def argument(self) -> str:
        """What the marker says: the reason, the file name, ``pytest``."""
        return self.marker[1] if self.marker is not None else ""

    @property
    def kind(self) -> str:
        """``python``, ``bash``, ``pytest``, ``file``, ``excluded`` or ``text``."""
        if self.marker is not None:
            verb, argument = self.marker
            if verb == "not-run":
                return "excluded"
            if verb == "file":
                return "file"
            if verb == "run" and argument == "pytest":
                return "pytest"
            raise ValueError(f"{self.where}: unknown marker {verb}: {argument}")
        return RUNNABLE.get(self.language, "text")


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a markdown file, with their markers."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        marker: tuple[str, str] | None = None
        model_script: str | None = None
        above = index - 1
        while above >= 0 and (comment := _MARKER.match(lines[above])):
            if comment.group(1) == "model":
                model_script = comment.group(2)
            else:
                marker = (comment.group(1), comment.group(2))
            above -= 1
        code = "\n".join(lines[index + 1 : end]) + "\n"
        found.append(Block(path, index + 1, opening.group(1), code, marker, model_script))
        index = end + 1
    return found


# -- the scripted model's answers ----------------------------------------------------


def _instance(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """A small value that satisfies ``schema`` (the subset pydantic and the docs use)."""
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return _instance(root.get("$defs", {}).get(name, {}), root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for union in ("anyOf", "oneOf"):
        if schema.get(union):
            options = [s for s in schema[union] if s.get("type") != "null"] or schema[union]
            return _instance(options[0], root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        return {name: _instance(sub, root) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return []
    return {"string": "text", "integer": 0, "number": 0, "boolean": False}.get(str(kind))


def _answer(request: Any) -> Any:
    from codexkit.testing import json_reply, text

    schema = request.output_schema
    if schema is not None:
        return json_reply(_instance(schema, schema))
    return text(f"echo: {request.last_user_text}")


# -- the scratch directory ------------------------------------------------------------


def _png() -> bytes:
    """A valid one-pixel PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _git_repository(path: Path) -> Path:
    """A repository on ``main`` with one commit and one uncommitted change (to review)."""
    path.mkdir()
    (path / "io.py").write_text("def read(path):\n    return open(path).read()\n")
    git = ["git", "-c", "user.name=docs", "-c", "user.email=docs@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=path, check=True)
    subprocess.run([*git, "add", "."], cwd=path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "Read files"], cwd=path, check=True)
    (path / "io.py").write_text(
        "def read(path):\n    with open(path) as f:\n        return f.read()\n"
    )
    return path


# -- running ------------------------------------------------------------------------------


class Runner:
    """Runs the blocks of one file in a scratch directory (the current one)."""

    def __init__(self, doc: Path, workdir: Path, model: Any, codex_home: Path) -> None:
        self.doc = doc
        self.model = model
        self.workdir = workdir
        self.repo = _git_repository(workdir / "project")
        (workdir / "screenshot.png").write_bytes(_png())
        self.env = {
            **os.environ,
            "CODEX_HOME": str(codex_home),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
            "COLUMNS": "120",
        }
        self.serve = self._control_plane(codex_home) if doc.name in SERVED_DOCS else None
        self.loop = asyncio.new_event_loop()
        self.names: dict[str, Any] = {"__name__": "__docs__"}
        self.codex: Any = None

    def _control_plane(self, codex_home: Path) -> Any:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `support`
        from support.serve import ServeProcess

        config_home = self.workdir / ".config"
        os.environ["XDG_CONFIG_HOME"] = self.env["XDG_CONFIG_HOME"] = str(config_home)
        return ServeProcess(
            data_dir=self.workdir / ".serve-data", codex_home=codex_home, config_home=config_home
        ).start()

    def run(self, block: Block) -> str | None:
        """Run one block; the failure's description, or None."""
        if block.model_script is not None:
            self._script_model(block.model_script)
        kind = block.kind
        if kind == "python":
            return self._python(block)
        if kind == "bash":
            return self._process(["bash", "-e", "-o", "pipefail", "-c", block.code])
        if kind == "pytest":
            return self._pytest(block)
        if kind == "file":
            (self.workdir / block.argument).write_text(block.code)
        return None

    def _script_model(self, script: str) -> None:
        from codexkit.testing import load_script

        path = self.workdir / ".model-script.json"
        path.write_text(script)
        self.model.extend(load_script(path))

    def _python(self, block: Block) -> str | None:
        flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        try:
            self.loop.run_until_complete(self._fixtures())
            code = compile(block.code, block.where, "exec", flags=flags)
            result = eval(code, self.names)  # a coroutine when the block awaits
            if asyncio.iscoroutine(result):
                self.loop.run_until_complete(asyncio.wait_for(result, BLOCK_TIMEOUT))
        except BaseException:
            return traceback.format_exc()
        return None

    async def _fixtures(self) -> None:
        if self.codex is None:
            self.codex = await self._client()
        self.names["codex"] = self.codex
        self.names["repo"] = str(self.repo)
        thread = self.codex.start_thread(cwd=self.repo)
        self.names["thread"] = await thread if asyncio.iscoroutine(thread) else thread

    async def _client(self) -> Any:
        if self.doc.name == "exec.md":
            from codexkit.exec import ExecCodex

            return ExecCodex()
        from codexkit import AsyncCodex

        codex = AsyncCodex(cwd=self.repo)
        await codex.start()
        return codex

    def _pytest(self, block: Block) -> str | None:
        project = self.workdir / f"pytest-{block.line}"
        project.mkdir()
        (project / "pytest.ini").write_text("[pytest]\n")  # no configuration of ours
        (project / f"test_snippet_{block.line}.py").write_text(block.code)
        # No async plugin: the codexkit plugin alone must run the async tests.
        plugins = ["-p", "no:asyncio", "-p", "no:cacheprovider"]
        return self._process([sys.executable, "-m", "pytest", "-q", *plugins], cwd=project)

    def _process(self, command: list[str], cwd: Path | None = None) -> str | None:
        try:
            done = subprocess.run(
                command,
                cwd=cwd or self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=BLOCK_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            return f"timed out after {exc.timeout} s"
        if done.returncode != 0:
            return f"exit code {done.returncode}\n{done.stdout}{done.stderr}"
        return None

    def close(self) -> None:
        if self.codex is not None and hasattr(self.codex, "close"):
            self.loop.run_until_complete(self.codex.close())
        self.loop.close()
        if self.serve is not None:
            self.serve.stop()


def _tail(failure: str, lines: int = 40) -> str:
    return "\n".join(failure.splitlines()[-lines:])


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[io.StringIO]:
    """What the blocks print goes to a buffer (programs they start may still write to
    stdout: the report is its last line)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield buffer


def main(doc: Path) -> int:
    from codexkit.testing import ScriptedModel

    workdir = Path.cwd()
    report: dict[str, Any] = {"ran": [], "excluded": [], "failed": []}
    with ScriptedModel(default=_answer) as model, _quiet_stdout() as printed:
        home = model.codex_home(workdir / ".codex-home")
        os.environ["CODEX_HOME"] = str(home)
        runner = Runner(doc, workdir, model, home)
        try:
            for block in blocks(doc):
                if block.kind == "excluded":
                    report["excluded"].append([block.where, block.argument])
                    continue
                failure = runner.run(block)
                if block.kind in RUN_KINDS:
                    report["ran"].append(block.where)
                if failure is not None:
                    report["failed"].append([block.where, _tail(failure)])
        finally:
            runner.close()
    report["printed"] = printed.getvalue()[-4000:]
    print(json.dumps(report))
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]).resolve()))
