"""``python -m bench.cluster``: several ``codexkit serve`` processes on one PostgreSQL.

With the real binary and the scripted model (every turn answers "ok" at once), on a
throwaway PostgreSQL (``tests/support/postgres.py``), for 1, 2 and 3 processes:

- sessions created per second, clients spread over the processes;
- turns per second: a message to its completed turn, ``--concurrency`` at once, each
  client watching its session on the process that runs it;
- the cost of forwarding: ``GET /api/sessions/{id}`` on the process that runs the
  session and on another one (which forwards it);

then, with 3 processes, the takeover time after ``kill -9`` of the process running a
session: from the kill until ``/api/health`` of a survivor lists the session as its own.

Prints a markdown table; writes everything to ``bench/results/cluster.json``. See
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from codexkit.testing import RecordedRequest, Reply, ScriptedModel, text

TESTS_DIR = Path(__file__).resolve().parent.parent / "tests"
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from support.postgres import Cluster, running_cluster  # noqa: E402
from support.serve import ServeProcess  # noqa: E402
from support.serve_client import ServeClient  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "cluster.json"
Json = dict[str, Any]
_databases = itertools.count()


def ok(_request: RecordedRequest) -> Reply:
    return text("ok")


def start(
    cluster: Cluster, model: ScriptedModel, root: Path, count: int, lease: float
) -> list[ServeProcess]:
    name = f"bench_{os.getpid()}_{next(_databases)}"
    cluster.psql(f"CREATE DATABASE {name}")
    args = ["--no-profile", "--database-url", cluster.url(name), "--lease-seconds", str(lease)]
    home = model.codex_home(root / "codex-home")
    processes = []
    for _ in range(count):  # one after another: a fresh CODEX_HOME races when shared at once
        process = ServeProcess(
            data_dir=root / "data", codex_home=home, config_home=root / "config", args=args
        )
        processes.append(process.start())
    return processes


async def spread(count: int, concurrency: int, step: Any) -> float:
    """Seconds to run ``step(i)`` for i in range(count), ``concurrency`` at once."""
    indexes = iter(range(count))

    async def worker() -> None:
        for i in indexes:
            await step(i)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began


async def throughput(processes: list[ServeProcess], args: argparse.Namespace) -> Json:
    clients = [ServeClient(p.url, p.token) for p in processes]
    try:
        owners: dict[str, int] = {}

        async def create(i: int) -> None:
            owner = i % len(clients)
            owners[await clients[owner].create_session()] = owner

        create_s = await spread(args.sessions, args.concurrency, create)
        sessions = list(owners)
        streams = {sid: await clients[owners[sid]].stream(sid).open() for sid in sessions}

        async def one_turn(i: int) -> None:
            sid = sessions[i % len(sessions)]
            turn_id = await clients[owners[sid]].send(sid, f"turn {i}")
            await streams[sid].wait_turn(turn_id, timeout=60)

        await spread(len(sessions), args.concurrency, one_turn)  # warm: threads loaded
        turns_s = await spread(args.turns, args.concurrency, one_turn)
        for stream in streams.values():
            await stream.close()
        run: Json = {
            "processes": len(processes),
            "sessions": args.sessions,
            "sessions_per_s": args.sessions / create_s,
            "turns": args.turns,
            "turns_per_s": args.turns / turns_s,
        }
        if len(clients) > 1:
            run.update(await forwarding(clients, sessions[0], owners[sessions[0]], args.samples))
        return run
    finally:
        for client in clients:
            await client.close()


async def forwarding(clients: list[ServeClient], sid: str, owner: int, samples: int) -> Json:
    other = (owner + 1) % len(clients)

    async def read(client: ServeClient) -> float:
        began = time.perf_counter()
        answer = await client.http.get(f"/api/sessions/{sid}")
        answer.raise_for_status()
        return time.perf_counter() - began

    direct, forwarded = [], []
    for _ in range(samples):
        direct.append(await read(clients[owner]))
        forwarded.append(await read(clients[other]))
    return {
        "read_direct_ms": 1000 * statistics.median(direct),
        "read_forwarded_ms": 1000 * statistics.median(forwarded),
    }


async def takeover(processes: list[ServeProcess], lease: float) -> Json:
    victim, survivor = processes[-1], processes[0]
    client = ServeClient(victim.url, victim.token)
    watcher = ServeClient(survivor.url, survivor.token)
    try:
        sid = await client.create_session()
        async with client.stream(sid) as stream:
            await stream.wait_turn(await client.send(sid, "before"), timeout=60)
        victim.kill()
        killed = time.perf_counter()
        urls = {p.url for p in processes[:-1]}
        while time.perf_counter() - killed < 3 * lease + 10:
            health = (await watcher.http.get("/api/health")).json()["cluster"]
            if any(p["url"] in urls and sid in p["sessions"] for p in health["processes"]):
                return {"lease_s": lease, "takeover_s": time.perf_counter() - killed}
            await asyncio.sleep(0.02)
        raise TimeoutError("the session was not taken over")
    finally:
        await client.close()
        await watcher.close()


async def measure(args: argparse.Namespace) -> Json:
    report: Json = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "load_before": os.getloadavg(),
        "runs": [],
    }
    with running_cluster() as cluster, ScriptedModel(default=ok) as model:
        for count in args.processes:
            root = Path(tempfile.mkdtemp(prefix=f"codexkit-bench-cluster-{count}-"))
            print(f"{count} process(es)", file=sys.stderr)
            processes = start(cluster, model, root, count, args.lease)
            try:
                report["runs"].append(await throughput(processes, args))
                if count == max(args.processes):
                    report["takeover"] = await takeover(processes, args.lease)
            finally:
                for process in processes:
                    process.stop()
    report["load_after"] = os.getloadavg()
    return report


def table(report: Json) -> str:
    lines = [
        "| processes | sessions/s | turns/s | read on the owner | read forwarded |",
        "| --- | --- | --- | --- | --- |",
    ]
    for run in report["runs"]:
        direct = run.get("read_direct_ms")
        forwarded = run.get("read_forwarded_ms")
        lines.append(
            f"| {run['processes']} | {run['sessions_per_s']:.1f} | {run['turns_per_s']:.1f} | "
            + (f"{direct:.1f} ms | {forwarded:.1f} ms |" if direct is not None else "- | - |")
        )
    if "takeover" in report:
        took = report["takeover"]
        lines.append("")
        lines.append(
            f"takeover after kill -9: {took['takeover_s']:.2f} s (lease {took['lease_s']:g} s)"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--turns", type=int, default=120)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--lease", type=float, default=10.0)
    args = parser.parse_args()
    report = asyncio.run(measure(args))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(table(report))
    print(f"load average before {report['load_before']}, after {report['load_after']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
