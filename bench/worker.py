"""One client, one scenario, in a fresh process, stepped by the orchestrator.

``python -m bench.worker '{"client": "codexkit", "scenario": "latency", ...}'`` sets the
scenario up (spawns its app-server, warms it), prints ``BENCH {"ready": {...}}``, then
runs one timed step per ``step`` line read from stdin, printing ``BENCH {"sample":
{...}}`` after each, until ``quit`` (or EOF): then it tears down and prints ``BENCH
{"done": {...}}``.

The orchestrator keeps one worker per client alive and steps them in turn (raw,
codexkit, sync, async, then again in a rotated order), so a burst of load on the
machine lands on every client alike instead of on whichever ran at that moment. Between
steps a worker blocks on stdin, its event loop included: nothing is timed then.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.clients import ADAPTERS, Adapter, Target

Json = dict[str, Any]
MARKER = "BENCH "
EXPECTED_TEXT = "ok"

MakeAdapter = Callable[[], Adapter[Any]]


def memory_kib() -> dict[str, int]:
    """``VmRSS`` (resident now) and ``VmHWM`` (peak resident) of this process, in KiB."""
    values: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def _check(texts: list[str | None]) -> None:
    wrong = [t for t in texts if t != EXPECTED_TEXT]
    if wrong:
        raise RuntimeError(f"unexpected final responses: {wrong[:3]!r}")


def server_cpu(adapter: Adapter[Any] | None) -> float:
    """CPU seconds of the adapter's server process so far (``codexkit serve``); 0 for
    clients that run the app-server themselves."""
    measure = getattr(adapter, "server_cpu", None)
    return float(measure()) if measure is not None else 0.0


class Scenario:
    def __init__(self, make: MakeAdapter, spec: Json) -> None:
        self.make = make
        self.spec = spec
        self.adapter: Adapter[Any] | None = None
        self.steps = 0

    async def setup(self) -> Json:
        return {}

    async def step(self) -> Json:
        raise NotImplementedError

    async def teardown(self) -> Json:
        if self.adapter is not None:
            await self.adapter.close()
        return {"memory_end": memory_kib()}

    async def started(self) -> Adapter[Any]:
        self.adapter = self.make()
        await self.adapter.start()
        return self.adapter


class Spawn(Scenario):
    """A step: spawn the app-server and complete the handshake (timed), then close."""

    async def setup(self) -> Json:
        await self.step()  # untimed warm-up: page cache, .pyc files
        return {}

    async def step(self) -> Json:
        adapter = self.make()
        t0 = time.perf_counter()
        await adapter.start()
        elapsed = time.perf_counter() - t0
        await adapter.close()
        return {"time": elapsed}


class Latency(Scenario):
    """Setup: one thread and ``warmup`` turns. A step: one more turn on that thread.

    Every timed step also reports ``cpu``: the CPU time of this whole process (all its
    threads) meanwhile, which load elsewhere on the machine hardly moves."""

    async def setup(self) -> Json:
        adapter = await self.started()
        self.thread = await adapter.new_thread()
        texts = [
            await adapter.run_turn(self.thread, f"warm-up {i}") for i in range(self.spec["warmup"])
        ]
        _check(texts)
        return {"memory_after_warmup": memory_kib()}

    async def step(self) -> Json:
        assert self.adapter is not None
        self.steps += 1
        t0, c0, s0 = time.perf_counter(), time.process_time(), server_cpu(self.adapter)
        text = await self.adapter.run_turn(self.thread, f"turn {self.steps}")
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        _check([text])
        return {"time": elapsed, "cpu": cpu, "server_cpu": server_cpu(self.adapter) - s0}


class Concurrent(Scenario):
    """A step: ``width`` new threads (untimed), then their first turns all at once, timed
    from before the first ``turn/start`` to the last ``turn/completed``. Setup runs one
    untimed step."""

    async def setup(self) -> Json:
        await self.started()
        await self.step()
        return {}

    async def step(self) -> Json:
        assert self.adapter is not None
        self.steps += 1
        threads = [await self.adapter.new_thread() for _ in range(self.spec["width"])]
        t0, c0 = time.perf_counter(), time.process_time()
        texts = await self.adapter.run_concurrent(threads, f"round {self.steps}")
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        _check(texts)
        return {"time": elapsed, "cpu": cpu}


class Flood(Scenario):
    """A step: one flooded turn, consumed event by event. Setup runs
    ``warmup`` untimed steps."""

    async def setup(self) -> Json:
        adapter = await self.started()
        self.thread = await adapter.new_thread()
        for _ in range(self.spec.get("warmup", 0)):
            await self.step()
        return {}

    async def step(self) -> Json:
        assert self.adapter is not None
        self.steps += 1
        t0, c0 = time.perf_counter(), time.process_time()
        events = await self.adapter.stream_turn(self.thread, f"flood {self.steps}")
        return {
            "time": time.perf_counter() - t0,
            "cpu": time.process_time() - c0,
            "events": events,
        }


class Create(Scenario):
    """A step: one new thread (``codexkit serve``: ``POST /api/sessions``). Setup creates
    one untimed."""

    async def setup(self) -> Json:
        adapter = await self.started()
        await adapter.new_thread()
        return {}

    async def step(self) -> Json:
        assert self.adapter is not None
        t0 = time.perf_counter()
        await self.adapter.new_thread()
        return {"time": time.perf_counter() - t0}


class Sustained(Scenario):
    """Setup: ``width`` threads, one warm-up turn each. A step: every thread runs turns
    back to back for ``seconds``; the step reports how many ended and when the last did."""

    async def setup(self) -> Json:
        adapter = await self.started()
        self.threads = [await adapter.new_thread() for _ in range(self.spec["width"])]
        _check(await adapter.run_concurrent(self.threads, "warm-up"))
        return {}

    async def step(self) -> Json:
        adapter = self.adapter
        assert adapter is not None
        self.steps += 1
        t0, c0, s0 = time.perf_counter(), time.process_time(), server_cpu(adapter)
        deadline = t0 + self.spec["seconds"]

        async def loop(thread: Any) -> int:
            done = 0
            while time.perf_counter() < deadline:
                _check([await adapter.run_turn(thread, f"step {self.steps} turn {done}")])
                done += 1
            return done

        turns = sum(await asyncio.gather(*(loop(t) for t in self.threads)))
        elapsed = time.perf_counter() - t0
        return {
            "time": elapsed,
            "cpu": time.process_time() - c0,
            "server_cpu": server_cpu(adapter) - s0,
            "turns": turns,
        }


class Fanout(Scenario):
    """``codexkit serve`` only. Setup: one session watched by ``subscribers`` websockets,
    one warm-up turn. A step: one turn; for every ``app_server.*`` frame of it on every
    socket, the time from the envelope's ``receivedAt`` (the server read the
    notification from the app-server) to this process reading the frame."""

    async def setup(self) -> Json:
        from bench.clients import ServeAdapter

        adapter = await self.started()
        assert isinstance(adapter, ServeAdapter)
        self.serve = adapter
        self.session = await adapter.new_thread()
        client = adapter.client
        deflate = self.spec.get("deflate", True)
        omit = self.spec.get("omit")
        self.sockets: list[Any] = []
        for _ in range(self.spec["subscribers"]):
            if self.spec.get("reader") == "lean":
                from bench.lean_socket import LeanSocket

                url = client.stream_url(self.session, omit=omit)
                self.sockets.append(await LeanSocket(url, client.token).open())
            else:
                stream = client.stream(self.session, deflate=deflate, omit=omit)
                self.sockets.append(await stream.open())
        await self.step()
        return {}

    async def step(self) -> Json:
        from support.serve_client import received_at

        from bench.clients import SERVE_TURN_TIMEOUT

        self.steps += 1
        t0, c0, s0 = time.perf_counter(), time.process_time(), server_cpu(self.serve)
        turn_id = await self.serve.client.send(self.session, f"fan-out {self.steps}")
        await asyncio.gather(*(s.wait_turn(turn_id, SERVE_TURN_TIMEOUT) for s in self.sockets))
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        spent = server_cpu(self.serve) - s0
        frames = [r for socket in self.sockets for r in socket.take()]
        delays = [r.at - received_at(r.frame) for r in frames if r.type.startswith("app_server.")]
        return {
            "time": elapsed,
            "delays": delays,
            "frames": len(frames),
            "cpu": cpu,
            "server_cpu": spent,
        }

    async def teardown(self) -> Json:
        for socket in self.sockets:
            await socket.close()
        return await super().teardown()


SCENARIOS: dict[str, type[Scenario]] = {
    "spawn": Spawn,
    "latency": Latency,
    "concurrent": Concurrent,
    "flood": Flood,
    "create": Create,
    "sustained": Sustained,
    "fanout": Fanout,
}


def emit(kind: str, value: Json) -> None:
    print(MARKER + json.dumps({kind: value}), flush=True)


async def serve(scenario: Scenario) -> None:
    emit("ready", await scenario.setup())
    while True:
        command = sys.stdin.readline().strip()  # blocks the loop too: nothing runs between steps
        if command != "step":
            break
        emit("sample", await scenario.step())
    emit("done", await scenario.teardown())


def main(argv: list[str]) -> int:
    spec: Json = json.loads(argv[1])
    target = Target(spec["codex_bin"], spec.get("codex_home"), spec["cwd"])
    adapter_class = ADAPTERS[spec["client"]]
    scenario = SCENARIOS[spec["scenario"]](lambda: adapter_class(target), spec)
    asyncio.run(serve(scenario))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
