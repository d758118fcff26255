"""``python -m bench.manager_wait``: what ``cm.wait.send_message_and_wait_reply`` costs.

One ``codexkit serve`` (real binary, scripted model answering "ok") and the SDK
(``codexkit.AsyncCodex``) on the same scripted model, turns taken in turn: the median
latency of a turn sent and waited for through the control plane, against the same turn
run through the SDK directly, their ratio, and the HTTP requests the client made per
turn (the seed's client reads the whole session every 0.25 s; the goal is a handful).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the real-server fixture of the tests

from support.serve import ServeProcess  # noqa: E402

from codexkit import AsyncCodex  # noqa: E402
from codexkit.manager import CodexManager, ManagerConfig  # noqa: E402
from codexkit.testing import ScriptedModel, text  # noqa: E402


def _ok(_request: Any) -> Any:
    return text("ok")


async def _sdk_turns(codex_home: Path, cwd: Path, turns: int) -> list[float]:
    samples: list[float] = []
    async with AsyncCodex(codex_home=codex_home, cwd=cwd) as codex:
        thread = await codex.start_thread()
        await thread.run("warm up")
        for _ in range(turns):
            started = time.perf_counter()
            await thread.run("hello")
            samples.append(time.perf_counter() - started)
    return samples


def _manager_turns(server: ServeProcess, cwd: Path, turns: int) -> tuple[list[float], float]:
    samples: list[float] = []
    config = ManagerConfig(base_url=server.url, bearer_token=server.token)
    with CodexManager(config=config) as cm:
        session_id = cm.sessions.create(cwd=str(cwd))["session"]["sessionId"]
        cm.wait.send_message_and_wait_reply(session_id=session_id, text="warm up")
        before = cm.requests_sent
        for _ in range(turns):
            started = time.perf_counter()
            reply = cm.wait.send_message_and_wait_reply(session_id=session_id, text="hello")
            samples.append(time.perf_counter() - started)
            assert reply.assistant_reply == "ok", reply
        per_turn = (cm.requests_sent - before) / turns
    return samples, per_turn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args(argv)
    with ScriptedModel(default=_ok) as model, tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        home = model.codex_home(root / "codex-home")
        server = ServeProcess(
            data_dir=root / "data", codex_home=home, config_home=root / "config"
        ).start()
        try:
            manager, per_turn = _manager_turns(server, root, args.turns)
        finally:
            server.stop()
        sdk = asyncio.run(_sdk_turns(home, root, args.turns))
    result = {
        "turns": args.turns,
        "manager_median_s": statistics.median(manager),
        "sdk_median_s": statistics.median(sdk),
        "ratio": statistics.median(manager) / statistics.median(sdk),
        "http_requests_per_turn": per_turn,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
