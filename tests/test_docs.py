"""Every code block of the docs runs as written: the real binary, the scripted model.

`support/doc_snippets.py` says how blocks run and which markers a block may carry.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.doc_snippets import RUN_KINDS, blocks

ROOT = Path(__file__).parent.parent
RUNNER = Path(__file__).parent / "support" / "doc_snippets.py"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: Blocks that do not run offline, by file; each says why in its `not-run` marker.
#: Changing one of these numbers is a decision: a new block should run.
EXCLUDED = {
    "README.md": 3,  # make (the whole suite), pip install, ChatGPT sign-in
    "cli.md": 2,  # ChatGPT sign-in
    "compatibility.md": 2,  # npm install, the whole real suite
    "deploy.md": 3,  # a PostgreSQL server; two example deployments (compose, systemd)
    "mcp.md": 1,  # an MCP server on the network
    "protocol.md": 1,  # regenerates the committed models
    "benchmarks.md": 2,  # pip install, minutes of benchmarks (Ray's in a netns)
    "fleet.md": 1,  # a Ray cluster (only inside a loopback-only network namespace here)
    "threads-and-account.md": 2,  # ChatGPT sign-in
    "serve.md": 1,  # pip install
    "manager.md": 1,  # pip install
    "web.md": 1,  # the browser tests themselves, which make the docs' screenshots
}

pytestmark = [pytest.mark.real, pytest.mark.slow]


def run_doc(doc: Path, workdir: Path) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, str(RUNNER), str(doc)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout.splitlines()[-1])


def _runnable(doc: Path) -> list[str]:
    return [b.where for b in blocks(doc) if b.kind in RUN_KINDS]


@pytest.mark.parametrize(
    "doc", [d for d in DOCS if _runnable(d)], ids=lambda d: str(d.relative_to(ROOT))
)
def test_every_snippet_of_the_doc_runs(doc: Path, tmp_path: Path) -> None:
    code, report = run_doc(doc, tmp_path)
    failures = "\n\n".join(f"--- {where}\n{why}" for where, why in report["failed"])
    assert report["failed"] == [], failures
    assert code == 0
    assert report["ran"] == _runnable(doc)  # none skipped without a marker


def test_only_marked_snippets_are_left_out_and_each_says_why() -> None:
    excluded: dict[str, int] = {}
    for doc in DOCS:
        for block in blocks(doc):
            if block.kind == "excluded":
                assert block.argument, f"{block.where}: not-run needs a reason"
                excluded[doc.name] = excluded.get(doc.name, 0) + 1
            elif block.kind == "text":
                # Code in another language is not run: it must not be Python or shell.
                assert block.language in ("", "json", "toml", "text"), block.where
    assert excluded == EXCLUDED


def test_a_broken_snippet_fails_the_run(tmp_path: Path) -> None:
    doc = tmp_path / "broken.md"
    doc.write_text(
        "```python\nanswer = await thread.ask('hi')\nassert answer == 'echo: hi'\n```\n\n"
        "```python\nraise KeyError('the python block broke')\n```\n\n"
        "```bash\necho fine\nfalse\n```\n\n"
        "<!-- not-run: needs a ChatGPT login -->\n```bash\ncodexkit login\n```\n"
    )
    workdir = tmp_path / "work"
    workdir.mkdir()
    code, report = run_doc(doc, workdir)
    assert code == 1
    assert report["ran"] == ["broken.md:1", "broken.md:6", "broken.md:10"]
    assert report["excluded"] == [["broken.md:16", "needs a ChatGPT login"]]
    (python_where, python_why), (bash_where, bash_why) = report["failed"]
    assert python_where == "broken.md:6"
    assert "KeyError: 'the python block broke'" in python_why
    assert bash_where == "broken.md:10"
    assert bash_why.startswith("exit code 1")
