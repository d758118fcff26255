"""A worker process serving one session's remote skills, for tests/test_remote_skills.py.

``python skill_worker.py SESSION_ID NAME`` attaches to the session of the ``local``
profile's server, prints ``serving`` once its socket is subscribed, serves the ``stamp``
skill (its answer names the worker) until SIGTERM, then prints its dispatches as one
JSON line.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from codexkit.manager import AsyncCodexManager, SessionSkills


async def main(session_id: str, name: str) -> None:
    def register(skills: SessionSkills) -> None:
        @skills.skill()
        def stamp(text: str) -> str:
            """Stamp text with the worker's name."""
            return f"{name}: {text}"

    async with AsyncCodexManager() as cm:
        skills = await cm.remote_skills.attach(session_id, register=register)
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, skills.stop)
        serving = asyncio.ensure_future(skills.serve_forever())
        await skills.wait_serving()
        print("serving", flush=True)
        await serving
    report = [
        {"requestId": d.request_id, "answered": d.answered, "result": d.result}
        for d in skills.dispatches
    ]
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
