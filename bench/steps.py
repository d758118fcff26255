"""Worker processes stepped in turn: the engine every side-by-side benchmark runs on.

``interleaved`` keeps one ``bench.worker`` process per client alive and steps them in
turn, each step starting with a different client, so a burst of load on the shared
machine lands on every client alike. ``bench.run`` (the SDK benchmarks) and
``bench.serve`` (the control plane's) both measure through it.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.clients import CLIENTS
from bench.worker import MARKER

Json = dict[str, Any]

REPO = Path(__file__).resolve().parent.parent

# Added to every CODEX_HOME/config.toml. The shell snapshot runs the user's login shell
# (`bash -l`, with all of its profile) in the background of every new thread: on a
# 2-core machine its cost, which depends on the machine's dotfiles and not on the client,
# swamped the 20-concurrent-turn measurement.
CODEX_CONFIG: Json = {"features": {"shell_snapshot": False}}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def percentile(samples: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` percentile (0-100)."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return float(ordered[int(rank) - 1])


def summary(samples: Sequence[float]) -> Json:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "min": ordered[0],
        "p90": p90,
        "max": ordered[-1],
    }


class Worker:
    """A ``bench.worker`` process for one client, stepped over its stdin and stdout."""

    def __init__(self, spec: Json, env: dict[str, str], log_path: Path) -> None:
        self.spec = spec
        self.log_path = log_path
        self._log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 (closed in finish)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.worker", json.dumps(spec)],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )

    def read(self, kind: str) -> Json:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(MARKER):
                message: Json = json.loads(line[len(MARKER) :])
                if kind in message:
                    value: Json = message[kind]
                    return value
        self.proc.wait()
        self._log.close()
        tail = self.log_path.read_text(encoding="utf-8")[-4000:]
        raise RuntimeError(
            f"worker {self.spec['client']}/{self.spec['scenario']} exited "
            f"(rc {self.proc.returncode}) before sending {kind!r}:\n{tail}"
        )

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def step(self) -> Json:
        self.send("step")
        return self.read("sample")

    def finish(self) -> Json:
        self.send("quit")
        done = self.read("done")
        self.proc.wait(timeout=60)
        self._log.close()
        return done

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def interleaved(
    scenario: str,
    steps: int,
    env: dict[str, str],
    work: Path,
    codex_bin: str,
    extra: Json,
    *,
    model: bool = True,
    limits: dict[str, int] | None = None,
    per_client: dict[str, Json] | None = None,
    clients: Sequence[str] = CLIENTS,
) -> Json:
    """Run ``scenario`` with one live worker per client, stepping them in turn: step ``i``
    visits every client, starting from a different one each time. Each client has its own
    ``CODEX_HOME``; all share one scripted model. ``limits`` caps some clients' steps;
    ``per_client`` overrides ``extra`` for some clients; ``clients`` says which run."""
    from codexkit.testing import ScriptedModel, text

    limits = limits or {}
    with contextlib.ExitStack() as stack:
        scripted = None
        if model:
            scripted = stack.enter_context(ScriptedModel(default=lambda request: text("ok")))
        workers: dict[str, Worker] = {}
        for client in clients:
            spec = {
                "client": client,
                "scenario": scenario,
                "codex_bin": codex_bin,
                "cwd": str(work / "cwd"),
                **extra,
                **(per_client or {}).get(client, {}),
            }
            if scripted is not None:
                home = scripted.codex_home(
                    work / f"home-{scenario}-{client}", extra_config=CODEX_CONFIG
                )
                spec["codex_home"] = str(home)
            worker = Worker(spec, env, work / f"{scenario}-{client}.log")
            stack.callback(worker.kill)
            workers[client] = worker
        out: Json = {c: {"setup": w.read("ready"), "samples": []} for c, w in workers.items()}
        for i in range(steps):
            for j in range(len(clients)):
                client = clients[(i + j) % len(clients)]
                if i < limits.get(client, steps):
                    out[client]["samples"].append(workers[client].step())
        for client, worker in workers.items():
            out[client]["teardown"] = worker.finish()
    for client, data in out.items():
        data["times"] = [sample["time"] for sample in data["samples"]]
        data["summary"] = summary(data["times"])
        if all("cpu" in sample for sample in data["samples"]):
            data["cpu_median"] = statistics.median(s["cpu"] for s in data["samples"])
        log(
            f"{scenario}: {client}: median {median_ms(data['times']):.1f} ms "
            f"of {len(data['times'])}"
        )
    return out


def paired_ratio(block: Json, client: str, base: str) -> float:
    """Median over steps of ``client``'s sample / ``base``'s sample of the same step."""
    pairs = zip(block[client]["times"], block[base]["times"], strict=False)
    return float(statistics.median(a / b for a, b in pairs))
