"""``python -m bench.cluster_events``: events across ``codexkit serve`` processes on one
PostgreSQL (a throwaway cluster, ``tests/support/postgres.py``).

1. **Cross-process latency.** Two real servers, a and b, on one database; a session run
   by a, one websocket subscriber of it on a and one on b. For every ``app_server.*``
   frame each socket reads: the reader's ``time.time()`` minus the envelope's
   ``receivedAt`` (when a read the notification from its app-server). Goal: p99 under
   50 ms on b.
2. **The bus's cost to one process.** In this process, an ``EventHub`` alone and an
   ``EventHub`` on a ``FrameBus``: bursts of frames shaped like a turn's, published and
   taken by one subscriber. CPU per frame (this process: the bus's writer and listener
   run in it) and the time from a burst's publish to its last frame's delivery.

See docs/benchmarks.md ("Events across processes").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the test helpers: a real server, a PostgreSQL

from support.postgres import Cluster, running_cluster  # noqa: E402
from support.serve import ServeProcess  # noqa: E402
from support.serve_client import received_at  # noqa: E402
from support.serve_rest import create, send, start_server  # noqa: E402
from support.stream import Stream  # noqa: E402

from codexkit.server.runtime.bus import FrameBus  # noqa: E402
from codexkit.server.runtime.hub import EventHub  # noqa: E402
from codexkit.testing import ScriptedModel, text  # noqa: E402

from .serve import percentile  # noqa: E402

Json = dict[str, Any]
GOAL = 0.050  # cross-process p99, seconds
RESULTS = REPO / "bench" / "results" / "cluster_events.json"


class Reader(threading.Thread):
    """Reads one socket all along, noting when each frame arrived."""

    def __init__(self, stream: Stream) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.frames: list[tuple[float, Json]] = []
        self.changed = threading.Condition()

    def run(self) -> None:
        try:
            while True:
                raw = self.stream.socket.recv()
                now = time.time()
                with self.changed:
                    self.frames.append((now, json.loads(raw)))
                    self.changed.notify_all()
        except Exception:  # the socket closed: the run is over
            return

    def wait_for(self, turn_id: str, timeout: float = 60.0) -> None:
        def done() -> bool:
            return any(
                f.get("type") == "app_server.turn.completed"
                and f["payload"]["context"]["turnId"] == turn_id
                for _, f in self.frames[-50:]
            )

        with self.changed:
            if not self.changed.wait_for(done, timeout):
                raise TimeoutError(f"turn {turn_id} never completed on a socket")

    def delays(self) -> list[float]:
        return [
            now - received_at(f)
            for now, f in self.frames
            if f.get("type", "").startswith("app_server.") and "receivedAt" in f["payload"]
        ]


def cross_process(cluster: Cluster, turns: int, work: Path) -> Json:
    cluster.psql("CREATE DATABASE bench_cluster_events")
    url = ["--database-url", cluster.url("bench_cluster_events")]
    with ScriptedModel(lambda _request: text("ok")) as model:
        a = start_server(work, model, data="a", more=url)  # one CODEX_HOME, as a cluster needs
        servers: list[ServeProcess] = [a]
        try:
            servers.append(start_server(work, model, data="b", more=url))
            with a.client() as client:
                sid = create(client, a)
                streams = [Stream(server, f"?threadId={sid}") for server in servers]
                readers = [Reader(stream) for stream in streams]
                for stream in streams:
                    stream.next("ready")
                for reader in readers:
                    reader.start()
                for _ in range(turns):
                    turn_id = send(client, sid, "hi")
                    for reader in readers:
                        reader.wait_for(turn_id)
                for stream in streams:
                    stream.close()
        finally:
            for server in servers:
                server.stop()
    out: Json = {"turns": turns}
    # What the other process adds: when b read a frame, minus when a read the same one.
    read_on_a = {f["seq"]: now for now, f in readers[0].frames if "seq" in f}
    later = [now - read_on_a[f["seq"]] for now, f in readers[1].frames if f.get("seq") in read_on_a]
    out["b_after_a"] = {"p50": percentile(later, 50.0), "p99": percentile(later, 99.0)}
    for name, reader in zip(("same_process", "other_process"), readers, strict=True):
        delays = reader.delays()
        out[name] = {
            "frames": len(delays),
            "p50": percentile(delays, 50.0),
            "p90": percentile(delays, 90.0),
            "p99": percentile(delays, 99.0),
            "max": max(delays),
        }
    return out


async def _bursts(hub: EventHub, bursts: int, size: int, reader: EventHub | None = None) -> Json:
    """``bursts`` bursts of ``size`` frames published on ``hub``, each taken whole by a
    subscriber of ``reader`` (default: the same hub) before the next."""
    subscription, _ = (reader or hub).subscribe("bench-thread")
    payload = {"method": "item/agentMessage/delta", "params": {"delta": "x" * 400}}
    delays: list[float] = []
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(bursts):
        started = []
        for _ in range(size):
            started.append(time.perf_counter())
            hub.publish("app_server.item.agent_message.delta", "bench-thread", payload)
        for sent in started:
            assert await subscription.get(timeout=30) is not None
            delays.append(time.perf_counter() - sent)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    subscription.close()
    frames = bursts * size
    return {
        "frames": frames,
        "cpu_us_per_frame": cpu / frames * 1e6,
        "p50": percentile(delays, 50.0),
        "p99": percentile(delays, 99.0),
        "frames_per_s": frames / wall,
    }


async def bus_cost(cluster: Cluster, bursts: int, size: int) -> Json:
    """The hub alone; on a bus (published and read on one); and read on a second hub
    with its own bus (its own connections: another process to PostgreSQL)."""
    cluster.psql("CREATE DATABASE bench_bus")
    url = cluster.url("bench_bus")
    out: Json = {"burst": size, "hub_alone": await _bursts(EventHub(), bursts, size)}
    hub, other = EventHub(), EventHub()
    buses = [FrameBus(hub, url), FrameBus(other, url)]
    for bus in buses:
        await bus.start()
    try:
        out["hub_on_bus"] = await _bursts(hub, bursts, size)
        out["other_hub"] = await _bursts(hub, bursts, size, reader=other)
    finally:
        for bus in buses:
            await bus.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--bursts", type=int, default=200)
    parser.add_argument("--burst", type=int, default=30, help="frames a burst (a turn's)")
    args = parser.parse_args(argv)
    with running_cluster() as cluster, tempfile.TemporaryDirectory() as work:
        results: Json = {"bus": asyncio.run(bus_cost(cluster, args.bursts, args.burst))}
        results["latency"] = cross_process(cluster, args.turns, Path(work))
    results["load_average_after"] = list(os.getloadavg())
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    other = results["latency"]["other_process"]
    print(json.dumps(results, indent=2))
    verdict = "met" if other["p99"] < GOAL else "missed"
    print(f"cross-process p99 {other['p99'] * 1000:.1f} ms (goal < 50 ms: {verdict})")


if __name__ == "__main__":
    main()
