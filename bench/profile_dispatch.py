"""Profile codexkit's event dispatch: where the time of a flooded turn goes.

``python -m bench.profile_dispatch [EVENTS]`` consumes one turn of the flood server
(``bench/flood_server.py``, default 100,000 deltas) with ``async for event in turn``
under cProfile, then prints the rate and the functions with the most own time. It uses
the public API only. cProfile slows everything down about threefold: read the shares,
not the absolute times.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

from bench.run import flood_wrapper


async def consume(codex_bin: str, cwd: str, profiler: cProfile.Profile | None) -> tuple[int, float]:
    from codexkit import AsyncCodex

    async with AsyncCodex(codex_bin=codex_bin, cwd=cwd) as codex:
        thread = await codex.start_thread()
        t0 = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        turn = await thread.turn("flood")
        count = 0
        async for _event in turn:
            count += 1
        if profiler is not None:
            profiler.disable()
        return count, time.perf_counter() - t0


def main(argv: list[str]) -> int:
    events = int(argv[1]) if len(argv) > 1 else 100_000
    with tempfile.TemporaryDirectory(prefix="codexkit-profile-") as tmp:
        codex_bin = flood_wrapper(Path(tmp), events)
        count, plain = asyncio.run(consume(codex_bin, tmp, None))
        print(f"without profiler: {count:,} events in {plain:.3f} s = {count / plain:,.0f}/s")
        profiler = cProfile.Profile()
        count, profiled = asyncio.run(consume(codex_bin, tmp, profiler))
        print(f"with cProfile:    {count:,} events in {profiled:.3f} s\n")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
