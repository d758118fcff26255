"""``python -m bench.floor``: how fast can any Python server fan a turn out, here?

The websocket fan-out goal of ``codexkit serve`` (p99 under 20 ms to 100 subscribers)
is measured from the server reading a notification to a client process reading the
frame. Part of that time is the machine's and the client's, whatever the server does.
This benchmark measures that part: a *floor server* that does nothing but send, with the
``websockets`` library's ``broadcast`` (one encoding, one write per socket, no await),
the frames of a real turn, recorded from a real ``codexkit serve`` and replayed at the
pace they came. The same client code (``tests/support/serve_client.Stream``) reads both
servers, in the same run, turn by turn in alternation: the real server with the real
binary and the scripted model, and the floor server replaying.

Nothing here is a test; results go to stdout and ``bench/results/floor.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the real-server fixture and client of the tests

from support.serve import ServeProcess  # noqa: E402
from support.serve_client import Received, ServeClient, Stream, received_at  # noqa: E402

from bench.clients import process_cpu  # noqa: E402
from bench.steps import percentile  # noqa: E402
from codexkit.server.runtime.views import iso  # noqa: E402
from codexkit.testing import ScriptedModel, text  # noqa: E402

Json = dict[str, Any]
GOAL = 0.020
TURN_TIMEOUT = 60.0


# -- the floor server (a subprocess) ------------------------------------------------------


async def _floor_server(port: int, frames_file: Path) -> None:
    """Accept sockets (``ready``, then a ``subscribe``), and on each ``turn N`` line on
    stdin send the recorded frames to all of them at their recorded pace, stamping
    ``receivedAt`` as the frame is sent and naming the turn ``floor-N``."""
    from websockets import broadcast
    from websockets.asyncio.server import ServerConnection, serve

    pairs = json.loads(frames_file.read_text())  # noqa: ASYNC240 (before anything runs)
    recorded: list[tuple[float, Json]] = [(float(at), frame) for at, frame in pairs]
    sockets: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "ready"}))
        await ws.recv()  # subscribe
        sockets.add(ws)
        try:
            await ws.wait_closed()
        finally:
            sockets.discard(ws)

    async def replay(turn: str) -> None:
        start = time.monotonic()
        for offset, frame in recorded:
            delay = start + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            payload = frame.get("payload")
            if frame["type"].startswith("app_server.") and isinstance(payload, dict):
                payload["receivedAt"] = iso(time.time())
                if frame["type"] == "app_server.turn.completed":
                    payload["params"]["turn"]["id"] = turn
            broadcast(sockets, json.dumps(frame, separators=(",", ":")))

    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None):
        print("listening", flush=True)
        loop = asyncio.get_running_loop()
        while line := (await loop.run_in_executor(None, sys.stdin.readline)).split():
            await replay(f"floor-{line[1]}")
            print("sent", flush=True)


# -- the measuring side -------------------------------------------------------------------


class Floor:
    """The floor server as a subprocess on a free port."""

    def __init__(self, frames: list[tuple[float, Json]], directory: Path) -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        frames_file = directory / "frames.json"
        frames_file.write_text(json.dumps(frames))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.floor", "--serve", str(self.port), str(frames_file)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "listening":
            raise RuntimeError("the floor server did not start")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    async def turn(self, n: int) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(f"turn {n}\n")
        self.process.stdin.flush()
        return f"floor-{n}"

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def _record(client: ServeClient, session: str, omit: str | None) -> list[tuple[float, Json]]:
    """The frames of one real turn of ``session`` on one socket, with when each came
    relative to the first."""
    async with client.stream(session, deflate=False, omit=omit) as stream:
        turn_id = await client.send(session, "record this turn")
        await stream.wait_turn(turn_id, TURN_TIMEOUT)
        frames = [r for r in stream.take() if "seq" in r.frame]
    first = frames[0].at
    return [(r.at - first, r.frame) for r in frames]


def _delays(sockets: list[Stream]) -> list[float]:
    received: list[Received] = [r for s in sockets for r in s.take()]
    return [r.at - received_at(r.frame) for r in received if r.type.startswith("app_server.")]


async def measure(turns: int, subscribers: Sequence[int], omit: str | None) -> Json:
    results: Json = {
        "turns": turns,
        "omit": omit,
        "load_before": os.getloadavg()[0],
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="codexkit-floor-") as scratch:
        root = Path(scratch)
        with ScriptedModel(default=lambda _request: text("ok")) as model:
            server = ServeProcess.scripted(model, root, args=["--no-profile"]).start()
            client = ServeClient(server.url, server.token)
            try:
                session = await client.create_session()
                for _ in range(3):  # warm: the thread loaded, caches filled
                    await _record(client, session, omit)
                frames = await _record(client, session, omit)
                floor = Floor(frames, root)
                try:
                    for count in subscribers:
                        results["runs"][str(count)] = await _side_by_side(
                            client, session, server, floor, turns, count, omit
                        )
                finally:
                    floor.close()
                results["frames_per_turn"] = len(frames)
            finally:
                await client.close()
                server.stop()
    results["load_after"] = os.getloadavg()[0]
    return results


async def _side_by_side(
    client: ServeClient,
    session: str,
    server: ServeProcess,
    floor: Floor,
    turns: int,
    count: int,
    omit: str | None,
) -> Json:
    real = [await client.stream(session, deflate=False, omit=omit).open() for _ in range(count)]
    bare = [await Stream(floor.url, "", "floor", deflate=False).open() for _ in range(count)]
    out: Json = {}
    try:
        samples: dict[str, Json] = {
            "serve": {"delays": [], "server_cpu": [], "client_cpu": []},
            "floor": {"delays": [], "server_cpu": [], "client_cpu": []},
        }
        for n in range(turns):
            # The real server's turn, then the floor's: each on its own sockets.
            for name in ("serve", "floor") if n % 2 == 0 else ("floor", "serve"):
                pid = server.pid if name == "serve" else floor.process.pid
                sockets = real if name == "serve" else bare
                c0, s0 = time.process_time(), process_cpu(pid)
                if name == "serve":
                    turn_id = await client.send(session, f"turn {n}")
                else:
                    turn_id = await floor.turn(n)
                await asyncio.gather(*(s.wait_turn(turn_id, TURN_TIMEOUT) for s in sockets))
                block = samples[name]
                block["client_cpu"].append(time.process_time() - c0)
                block["server_cpu"].append(process_cpu(pid) - s0)
                block["delays"].extend(_delays(sockets))
        for name, block in samples.items():
            delays = block["delays"]
            out[name] = {
                "receipts": len(delays),
                "p50": percentile(delays, 50),
                "p90": percentile(delays, 90),
                "p99": percentile(delays, 99),
                "max": max(delays),
                "server_cpu_per_turn": statistics.median(block["server_cpu"]),
                "client_cpu_per_turn": statistics.median(block["client_cpu"]),
            }
    finally:
        for socket in [*real, *bare]:
            await socket.close()
    return out


def report(results: Json) -> str:
    lines = [
        f"{results['frames_per_turn']} frames a turn"
        + (f" (leaving out {results['omit']})" if results.get("omit") else "")
        + f", {results['turns']} turns each, "
        f"load average {results['load_before']:.1f} before, {results['load_after']:.1f} after",
        "",
        "| subscribers | server | p50 | p90 | p99 | max | server CPU / turn | client CPU / turn |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for count, run in results["runs"].items():
        for name in ("serve", "floor"):
            r = run[name]
            ms = [f"{r[k] * 1000:.1f} ms" for k in ("p50", "p90", "p99", "max")]
            cpu = [f"{r[k] * 1000:.0f} ms" for k in ("server_cpu_per_turn", "client_cpu_per_turn")]
            label = "`codexkit serve`" if name == "serve" else "floor (broadcast only)"
            lines.append(f"| {count} | {label} | " + " | ".join(ms + cpu) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[100, 1])
    parser.add_argument(
        "--omit",
        metavar="TYPES",
        help="frame types the sockets leave out, e.g. notification,server_request",
    )
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "FRAMES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_floor_server(int(args.serve[0]), Path(args.serve[1])))
        return 0
    results = asyncio.run(measure(args.turns, args.subscribers, args.omit))
    out = REPO / "bench" / "results" / "floor.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
