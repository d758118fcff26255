"""``python -m bench.fleet``: the fleet's throughput and its overhead per task.

Measures, with the real binary and the scripted model (each task: one shell command,
then an answer, then a ``check``; the model waits ``--model-latency`` seconds before
each of its two replies, like a real model's time to first token):

- tasks per minute at concurrency 1, 2, 4, 8 and 16 on the local executor (``--ray``:
  on a local Ray cluster too; run it inside a network namespace with only loopback);
- parallel efficiency: throughput at N over N times the throughput at 1;
- the overhead of a task over a bare ``AsyncCodex`` turn doing the same work (a thread
  per turn, one app-server, one at a time): the copy, snapshots, diff, check and
  bookkeeping the fleet adds.

Prints a markdown table; writes everything to ``bench/results/fleet.json``. See
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.steps import CODEX_CONFIG
from codexkit import AsyncCodex
from codexkit.fleet import BatchSettings, LocalExecutor, Task, arun_batch
from codexkit.testing import RecordedRequest, Reply, ScriptedModel, shell, stall, text

RESULTS = Path(__file__).resolve().parent / "results" / "fleet.json"
LEVELS = (1, 2, 4, 8, 16)


def replies(latency: float) -> Any:
    def answer(request: RecordedRequest) -> Reply:
        token = (request.last_user_text or "").rsplit(" ", 1)[-1]
        reply = (
            text(f"wrote {token}")
            if request.function_call_outputs()
            else shell(f"printf %s {token} > result.txt")
        )
        return stall(latency) + reply if latency > 0 else reply

    return answer


def tasks(count: int, folder: Path, prefix: str) -> list[Task]:
    return [
        Task(
            id=f"{prefix}-{i}",
            prompt=f"task {prefix}-{i}: write token-{i}",
            workdir=str(folder),
            sandbox="workspace-write",
            check=f'test "$(cat result.txt)" = token-{i}',
        )
        for i in range(count)
    ]


async def batch_rate(
    level: int, count: int, folder: Path, home: Path, executor: str, root: Path
) -> dict[str, Any]:
    """Run ``count`` tasks at concurrency ``level``: tasks per minute over the wall time
    from the first start to the last result (the executor's own start-up excluded)."""
    chosen: Any
    if executor == "local":
        chosen = LocalExecutor(level, client_options={"codex_home": str(home)})
    else:
        from codexkit.fleet import RayExecutor

        cpus = os.cpu_count() or 1
        chosen = RayExecutor(
            level, client_options={"codex_home": str(home)}, num_cpus=min(0.25, cpus / level)
        )
    first_start: float | None = None

    def on_event(event: Any) -> None:
        nonlocal first_start
        if event.kind == "task_started" and first_start is None:
            first_start = time.perf_counter()

    # Warm the executor's processes with one round first (untimed): app-servers, workers.
    settings = BatchSettings(workspace_root=str(root))
    async for _ in arun_batch(
        tasks(level, folder, f"warm{level}"), executor=chosen, settings=settings
    ):
        pass
    first_start = None
    statuses: list[str] = []
    durations: list[float] = []
    started = time.perf_counter()
    async for result in arun_batch(
        tasks(count, folder, f"c{level}"), executor=chosen, settings=settings, on_event=on_event
    ):
        statuses.append(result.status)
        durations.append(result.duration_s)
    wall = time.perf_counter() - (first_start or started)
    return {
        "executor": executor,
        "concurrency": level,
        "tasks": count,
        "wall_s": round(wall, 3),
        "tasks_per_minute": round(60 * count / wall, 1),
        "task_duration_s_median": round(statistics.median(durations), 3),
        "passed": statuses.count("passed"),
    }


def cpu_seconds() -> float:
    """CPU time of this process and of every child it has reaped (app-servers once
    closed, git, shells, and what they reaped: the agent's commands)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


async def bare_turns(count: int, folder: Path, home: Path) -> list[float]:
    """The same work as a task, as a bare AsyncCodex turn: a new thread in ``folder``."""
    samples = []
    async with AsyncCodex(codex_home=home) as codex:
        for i in range(count + 2):
            started = time.perf_counter()
            thread = await codex.start_thread(cwd=folder, sandbox="workspace-write")
            await thread.run(f"task bare-{i}: write token-{i}")
            if i >= 2:  # two untimed warm-up turns
                samples.append(time.perf_counter() - started)
            await thread.unsubscribe()
    return samples


async def fleet_turns(count: int, folder: Path, home: Path, root: Path) -> list[float]:
    """Tasks one at a time on a warm local executor: each task's own duration."""
    executor = LocalExecutor(1, client_options={"codex_home": str(home)})
    settings = BatchSettings(workspace_root=str(root))
    durations = []
    async for result in arun_batch(
        tasks(count + 2, folder, "seq"), executor=executor, settings=settings
    ):
        durations.append(result.duration_s)
    return durations[2:]


def table(report: dict[str, Any]) -> str:
    lines = [
        "| executor | model latency (s) | concurrency | tasks | tasks/min | efficiency |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in report["runs"]:
        lines.append(
            f"| {run['executor']} | {run['model_latency_s']} | {run['concurrency']} | "
            f"{run['tasks']} | {run['tasks_per_minute']} | {run['efficiency']:.2f} |"
        )
    over = report.get("overhead")
    if over is None:  # measured with an instant model only
        return "\n".join(lines)
    lines.append("")
    lines.append(
        f"Overhead per task (model latency 0): bare AsyncCodex turn {over['bare_ms']:.0f} ms, "
        f"fleet task {over['fleet_ms']:.0f} ms, overhead {over['overhead_ms']:.0f} ms "
        f"(medians of {over['samples']}). CPU per task, every process counted: bare "
        f"{over['bare_cpu_ms']:.0f} ms, fleet {over['fleet_cpu_ms']:.0f} ms."
    )
    return "\n".join(lines)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="codexkit-bench-fleet-"))
    folder = work / "folder"
    folder.mkdir()
    (folder / "README.md").write_text("a small project\n")
    root = work / "copies"
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "load_before": os.getloadavg(),
        "runs": [],
    }
    executors = ["local", "ray"] if args.ray else ["local"]
    if args.ray:  # one cluster for every run (an executor that starts one stops it)
        import ray

        ray.init(include_dashboard=False, log_to_driver=False)
    for latency in args.model_latency:
        with ScriptedModel(default=replies(latency)) as model:
            home = model.codex_home(work / f"home-{latency}", extra_config=CODEX_CONFIG)
            if latency == 0:
                cpu = cpu_seconds()
                bare = await bare_turns(args.samples, folder, home)
                bare_cpu = (cpu_seconds() - cpu) / (args.samples + 2)
                cpu = cpu_seconds()
                fleet = await fleet_turns(args.samples, folder, home, root)
                fleet_cpu = (cpu_seconds() - cpu) / (args.samples + 2)
                report["overhead"] = {
                    "samples": args.samples,
                    "bare_cpu_ms": 1000 * bare_cpu,
                    "fleet_cpu_ms": 1000 * fleet_cpu,
                    "bare_ms": 1000 * statistics.median(bare),
                    "fleet_ms": 1000 * statistics.median(fleet),
                    "overhead_ms": 1000 * (statistics.median(fleet) - statistics.median(bare)),
                }
            for executor in executors:
                base: float | None = None
                for level in args.levels:
                    count = max(args.min_tasks, 3 * level)
                    print(f"{executor} latency={latency} c={level} n={count}", file=sys.stderr)
                    run = await batch_rate(level, count, folder, home, executor, root)
                    base = base or run["tasks_per_minute"] / level
                    run["model_latency_s"] = latency
                    run["efficiency"] = run["tasks_per_minute"] / (level * base)
                    report["runs"].append(run)
    report["load_after"] = os.getloadavg()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ray", action="store_true", help="also on a local Ray cluster")
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS))
    parser.add_argument("--model-latency", type=float, nargs="+", default=[0.0, 1.0])
    parser.add_argument("--min-tasks", type=int, default=8)
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    report = asyncio.run(measure(args))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(table(report))
    print(f"load average before {report['load_before']}, after {report['load_after']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
