"""A control-plane runtime in a process of its own, for tests that kill it with SIGKILL.

Usage: python serve_child.py CODEX_HOME WORKSPACE DATA_DIR

It creates a session, sends a message whose command needs an approval, prints one JSON
line ``{sessionId, turnId, approvalId}`` once the approval is pending, and waits.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from support.serve_runtime import frame, running


async def main(home: str, workspace: str, data: str) -> None:
    async with running(Path(home), Path(workspace), Path(data)) as runtime:
        created = await runtime.sessions.create(
            approval_policy="on-request", filesystem_sandbox="read-only"
        )
        sid = created["session"]["sessionId"]
        subscription, _ = runtime.hub.subscribe(sid)
        turn_id = (await runtime.turns.send(sid, "make the file"))["turnId"]
        asked = await frame(subscription, "approval", timeout=60)
        line = {"sessionId": sid, "turnId": turn_id, "approvalId": asked.payload["approvalId"]}
        print(json.dumps(line), flush=True)
        await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
