"""``python -m bench.cluster_events``: events across ``codexkit serve`` processes on one
PostgreSQL (a throwaway cluster, ``tests/support/postgres.py``).

1. **Cross-process latency.** Two real servers, a and b, on one database; a session run
   by a, one websocket subscriber of it on a and one on b, both read by one event loop
   of this process. For every ``app_server.*``
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
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the test helpers: a real server, a PostgreSQL

from support.postgres import Cluster, running_cluster  # noqa: E402
from support.serve import ServeProcess  # noqa: E402
from support.serve_client import Received, ServeClient, received_at  # noqa: E402
from support.serve_rest import start_server  # noqa: E402

from bench.steps import percentile  # noqa: E402
from codexkit.server.runtime.bus import FrameBus  # noqa: E402
from codexkit.server.runtime.hub import EventHub  # noqa: E402
from codexkit.testing import ScriptedModel, text  # noqa: E402

Json = dict[str, Any]
GOAL = 0.050  # cross-process p99, seconds
RESULTS = REPO / "bench" / "results" / "cluster_events.json"


async def _watch(servers: list[ServeProcess], turns: int) -> list[list[Received]]:
    """``turns`` turns of a session run by the first server, each socket (one per
    server) read by a task of one event loop: no reader waits for another's thread."""
    first = ServeClient(servers[0].url, servers[0].token)
    clients = [first] + [ServeClient(s.url, s.token) for s in servers[1:]]
    try:
        sid = await first.create_session(str(servers[0].data_dir.parent / "work"))
        streams = [await c.stream(sid, deflate=False).open() for c in clients]
        try:
            for _ in range(turns):
                turn_id = await first.send(sid, "hi")
                for stream in streams:
                    await stream.wait_turn(turn_id, 60.0)
            return [stream.take() for stream in streams]
        finally:
            for stream in streams:
                await stream.close()
    finally:
        for client in clients:
            await client.close()


def cross_process(cluster: Cluster, turns: int, work: Path) -> Json:
    cluster.psql("CREATE DATABASE bench_cluster_events")
    url = ["--database-url", cluster.url("bench_cluster_events")]
    with ScriptedModel(lambda _request: text("ok")) as model:
        a = start_server(work, model, data="a", more=url)  # one CODEX_HOME, as a cluster needs
        servers: list[ServeProcess] = [a]
        try:
            servers.append(start_server(work, model, data="b", more=url))
            read = asyncio.run(_watch(servers, turns))
        finally:
            for server in servers:
                server.stop()
    out: Json = {"turns": turns}
    # What the other process adds: when b read a frame, minus when a read the same one.
    read_on_a = {r.frame["seq"]: r.at for r in read[0] if "seq" in r.frame}
    later = [r.at - read_on_a[r.frame["seq"]] for r in read[1] if r.frame.get("seq") in read_on_a]
    out["b_after_a"] = {"p50": percentile(later, 50.0), "p99": percentile(later, 99.0)}
    for name, frames in zip(("same_process", "other_process"), read, strict=True):
        delays = [r.at - received_at(r.frame) for r in frames if r.type.startswith("app_server.")]
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
    parser.add_argument("--turns", type=int, default=100)
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
