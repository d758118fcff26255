"""Record what the real app-server says in a session of three concurrent turns, for the
frame fuzz test (``tests/test_frame_fuzz.py``).

Run ``python tests/support/record_transcript.py`` to write ``transcript.jsonl`` beside
this file: one ``{"direction": ..., "message": ...}`` per line, in the order the client
sent and received them. The turns, one per thread: a streamed text answer, a shell
command, and a file written with ``apply_patch`` (a ``fileChange`` item).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from codexkit import AsyncCodex
from codexkit.testing import ScriptedModel, apply_patch, shell, text

OUT = Path(__file__).with_name("transcript.jsonl")
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n"


async def record(home: Path, cwd: Path) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    codex = AsyncCodex(codex_home=home, cwd=cwd)
    codex.use(lambda direction, message: seen.append({"direction": direction, "message": message}))
    async with codex:
        threads = [await codex.start_thread(sandbox="workspace-write") for _ in range(3)]
        prompts = ["count to twenty", "run a command", "write a file"]
        await asyncio.gather(*(t.run(p) for t, p in zip(threads, prompts, strict=True)))
    return seen


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, ScriptedModel() as model:
        words = " ".join(f"word{i}" for i in range(20))
        model.add(text(words, chunks=20), match="count to twenty")
        model.add(shell("echo hi"), match="run a command")
        model.add(text("It printed hi."), match="run a command")
        model.add(apply_patch(PATCH), match="write a file")
        model.add(text("Wrote hello.txt."), match="write a file")
        home = model.codex_home(Path(tmp) / "home", extra_config={"model": "gpt-5.5"})
        cwd = Path(tmp) / "work"
        cwd.mkdir()
        seen = asyncio.run(record(home, cwd))
    with OUT.open("w") as out:
        for entry in seen:
            out.write(json.dumps(entry) + "\n")
    sys.stdout.write(f"wrote {len(seen)} messages to {OUT}\n")


if __name__ == "__main__":
    main()
