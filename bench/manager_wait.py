"""``python -m bench.manager_wait``: what ``cm.wait.send_message_and_wait_reply`` costs.

One ``codexkit serve`` (real binary, scripted model answering "ok") and the SDK
(``codexkit.AsyncCodex``) on the same scripted model, one turn each in turn: the median
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

Json = dict[str, Any]

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the real-server fixture of the tests

from support.serve import ServeProcess  # noqa: E402

from codexkit import AsyncCodex  # noqa: E402
from codexkit.manager import AsyncCodexManager, ManagerConfig  # noqa: E402
from codexkit.testing import ScriptedModel, text  # noqa: E402


def _ok(_request: Any) -> Any:
    return text("ok")


async def _turns(server: ServeProcess, codex_home: Path, cwd: Path, turns: int) -> Json:
    """Turns taken in turn: one through the control plane, one through the SDK, ..."""
    manager: list[float] = []
    sdk: list[float] = []
    config = ManagerConfig(base_url=server.url, bearer_token=server.token)
    async with (
        AsyncCodexManager(config=config) as cm,
        AsyncCodex(codex_home=codex_home, cwd=cwd) as codex,
    ):
        session_id = (await cm.sessions.create(cwd=str(cwd)))["session"]["sessionId"]
        thread = await codex.start_thread()
        await cm.wait.send_message_and_wait_reply(session_id=session_id, text="warm up")
        await thread.run("warm up")
        before = cm.requests_sent
        for _ in range(turns):
            started = time.perf_counter()
            reply = await cm.wait.send_message_and_wait_reply(session_id=session_id, text="hi")
            manager.append(time.perf_counter() - started)
            assert reply.assistant_reply == "ok", reply
            started = time.perf_counter()
            await thread.run("hi")
            sdk.append(time.perf_counter() - started)
        per_turn = (cm.requests_sent - before) / turns
    return {
        "turns": turns,
        "manager_median_s": statistics.median(manager),
        "sdk_median_s": statistics.median(sdk),
        "ratio": statistics.median(manager) / statistics.median(sdk),
        "http_requests_per_turn": per_turn,
    }


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
            result = asyncio.run(_turns(server, home, root, args.turns))
        finally:
            server.stop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
