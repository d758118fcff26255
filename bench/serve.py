"""``python -m bench --serve``: ``codexkit serve`` beside a bare ``AsyncCodex``, one run.

Both clients get their own ``CODEX_HOME`` on the same scripted model and the same
binary, in worker processes stepped in turn (``bench.steps.interleaved``). The serve
worker starts a real ``codexkit serve`` and talks to it like a web client: REST for
sessions and messages, a websocket per session (``/api/stream?threadId=``) to learn
that a turn ended. See ``docs/benchmarks.md``.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

from bench.clients import RAW_FALLBACKS
from bench.steps import interleaved, log, paired_ratio, percentile

Json = dict[str, Any]

SIDE_BY_SIDE = ("codexkit", "serve")
#: The latency benchmark also runs the lean client (``bench/lean_socket.py``).
LATENCY_CLIENTS = (*SIDE_BY_SIDE, "serve_lean")

# Goals: a message to its completed turn at most 1.2x a bare AsyncCodex turn; websocket
# fan-out to 100 subscribers under 20 ms at the 99th percentile.
TURN_GOAL = 1.2
FANOUT_GOAL = 0.020


#: Fan-out runs: (name, subscribers (0: the settings' number), frame types the sockets
#: leave out (as codexkit's web page and Python client do, the raw fallbacks), reader).
#: The reader is the tests' client (``websockets`` and ``json.loads`` per frame) or, with
#: "lean", ``bench.lean_socket``, which stamps each frame as its bytes are read. The
#: sockets offer permessage-deflate, as browsers do; the server declines it.
FANOUTS = (
    ("fanout", 0, None, "stream"),
    ("fanout_typed", 0, RAW_FALLBACKS, "stream"),
    ("fanout_lean", 0, RAW_FALLBACKS, "lean"),
    ("fanout_one", 1, None, "stream"),
)


class ServeSettings:
    """How many samples of each serve benchmark (``quick``: a smoke run)."""

    def __init__(self, quick: bool) -> None:
        self.creates = 20 if quick else 200
        self.warmup_turns = 5
        self.turns = 10 if quick else 50
        self.subscribers = 100
        self.fanout_turns = 3 if quick else 30
        self.width = 20
        self.sustained_seconds = 3.0 if quick else 10.0
        self.sustained_reps = 1 if quick else 3


def bench_serve(settings: ServeSettings, env: dict[str, str], work: Path, codex_bin: str) -> Json:
    def loaded(name: str, block: Json) -> Json:
        block["load_average_after"] = list(os.getloadavg())
        log(f"serve {name}: load average {os.getloadavg()[0]:.2f}")
        return block

    out: Json = {"settings": dict(vars(settings))}
    out["create"] = loaded(
        "create",
        interleaved("create", settings.creates, env, work, codex_bin, {}, clients=SIDE_BY_SIDE),
    )
    out["latency"] = loaded(
        "latency",
        interleaved(
            "latency",
            settings.turns,
            env,
            work,
            codex_bin,
            {"warmup": settings.warmup_turns},
            clients=LATENCY_CLIENTS,
        ),
    )
    # With the settings' number of sockets, and with one (the floor: recording,
    # publishing and one send).
    for name, subscribers, omit, reader in FANOUTS:
        spec = {
            "subscribers": subscribers or settings.subscribers,
            "deflate": True,
            "omit": omit,
            "reader": reader,
        }
        fanout = interleaved(
            "fanout", settings.fanout_turns, env, work, codex_bin, spec, clients=("serve",)
        )["serve"]
        fanout["subscribers"] = subscribers or settings.subscribers
        fanout["omit"] = omit
        fanout["reader"] = reader
        fanout["delays"] = [d for s in fanout["samples"] for d in s["delays"]]
        out[name] = loaded(name, fanout)
    sustained = interleaved(
        "sustained",
        settings.sustained_reps,
        env,
        work,
        codex_bin,
        {"width": settings.width, "seconds": settings.sustained_seconds},
        clients=SIDE_BY_SIDE,
    )
    for data in sustained.values():
        data["turns_per_s"] = statistics.median(s["turns"] / s["time"] for s in data["samples"])
    out["sustained"] = loaded("sustained", sustained)
    return out


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _fanout_rows(row: Any, serve: Json, name: str) -> None:
    fan = serve[name]
    delays = fan["delays"]
    p99 = percentile(delays, 99.0)
    count = fan.get("subscribers", serve["settings"]["subscribers"])
    leaving = f" leaving out `{fan['omit']}`" if fan.get("omit") else ""
    lean = " (the lean reader, `bench/lean_socket.py`)" if fan.get("reader") == "lean" else ""
    row(
        f"websocket fan-out, {count} subscriber{'s' if count > 1 else ''}{leaving} of one "
        f"session{lean}: `receivedAt` to the client's read, over {len(delays):,} frame receipts "
        f"({len(fan['samples'])} turns)",
        "(no server)",
        f"p50 {_ms(percentile(delays, 50.0))}, p90 {_ms(percentile(delays, 90.0))}, "
        f"**p99 {_ms(p99)}**, max {_ms(max(delays))}",
        f"goal p99 < {FANOUT_GOAL * 1000:.0f} ms: {_verdict(p99 < FANOUT_GOAL)}",
    )
    samples = fan["samples"]
    frames = statistics.median(x["frames"] for x in samples)
    server_cpu = statistics.median(x["server_cpu"] for x in samples)
    client_cpu = statistics.median(x["cpu"] for x in samples)
    row(
        "  per turn, median: frames received (all types); CPU of the server process and "
        "of the client holding the sockets",
        "",
        f"{frames:,.0f} frames; server {_ms(server_cpu)} "
        f"({server_cpu / frames * 1e6:.0f} us a frame); client {_ms(client_cpu)} "
        f"({client_cpu / frames * 1e6:.0f} us a frame)",
        "",
    )


def report_serve(results: Json) -> str:
    serve = results["serve"]
    lines = [
        "| benchmark | codexkit `AsyncCodex` | `codexkit serve` | serve / AsyncCodex, goal |",
        "|---|---|---|---|",
    ]

    def row(name: str, bare: str, served: str, ratio: str) -> None:
        lines.append(f"| {name} | {bare} | {served} | {ratio} |")

    create = serve["create"]
    bare, served = create["codexkit"]["times"], create["serve"]["times"]
    for label, q in (("p50", 50.0), ("p99", 99.0)):
        b, s = percentile(bare, q), percentile(served, q)
        row(
            f"new session, {label} of {len(served)} (`start_thread()` / `POST /api/sessions`)",
            _ms(b),
            _ms(s),
            f"{s / b:.2f}x",
        )
    lat = serve["latency"]
    b = lat["codexkit"]["summary"]["median"]
    s = lat["serve"]["summary"]["median"]
    ratio = s / b
    row(
        f"trivial turn, median of {lat['serve']['summary']['n']} (`thread.run()` / "
        "`POST .../messages` to `app_server.turn.completed` on the socket)",
        _ms(b),
        _ms(s),
        f"**{ratio:.2f}x** (paired {paired_ratio(lat, 'serve', 'codexkit'):.2f}x; goal <= "
        f"{TURN_GOAL:.1f}x: {_verdict(ratio <= TURN_GOAL)})",
    )
    row(
        "  CPU per turn, median: the client process / the `codexkit serve` process",
        _ms(lat["codexkit"]["cpu_median"]),
        f"{_ms(lat['serve']['cpu_median'])} / "
        f"{_ms(statistics.median(x['server_cpu'] for x in lat['serve']['samples']))}",
        "",
    )
    row(
        "  its p90",
        _ms(lat["codexkit"]["summary"]["p90"]),
        _ms(lat["serve"]["summary"]["p90"]),
        f"{lat['serve']['summary']['p90'] / lat['codexkit']['summary']['p90']:.2f}x",
    )
    if "serve_lean" in lat:
        lean = lat["serve_lean"]["summary"]["median"]
        row(
            "  the same turn through the lean client (`bench/lean_socket.py`: one keep-alive "
            "connection, a socket that stamps frames as they arrive)",
            _ms(b),
            _ms(lean),
            f"**{lean / b:.2f}x** (paired {paired_ratio(lat, 'serve_lean', 'codexkit'):.2f}x; "
            f"goal <= {TURN_GOAL:.1f}x: {_verdict(lean / b <= TURN_GOAL)})",
        )
        row(
            "    CPU per turn, median: the client process / the `codexkit serve` process",
            "",
            f"{_ms(lat['serve_lean']['cpu_median'])} / "
            f"{_ms(statistics.median(x['server_cpu'] for x in lat['serve_lean']['samples']))}",
            "",
        )
    for name, *_ in FANOUTS:
        if name in serve:
            _fanout_rows(row, serve, name)
    sus = serve["sustained"]
    b, s = sus["codexkit"]["turns_per_s"], sus["serve"]["turns_per_s"]
    row(
        f"turns per second, {serve['settings']['width']} sessions back to back for "
        f"{serve['settings']['sustained_seconds']:.0f} s, median of "
        f"{len(sus['serve']['samples'])}",
        f"{b:.1f}",
        f"{s:.1f}",
        f"{s / b:.2f}x",
    )
    per_turn = statistics.median(x["server_cpu"] / x["turns"] for x in sus["serve"]["samples"])
    row("  `codexkit serve` process CPU per sustained turn, median", "", _ms(per_turn), "")
    loads = ", ".join(
        f"{name} {serve[name]['load_average_after'][0]:.1f}"
        for name in ("create", "latency", *(f[0] for f in FANOUTS), "sustained")
        if name in serve
    )
    lines.append("")
    lines.append(f"Load average (1 min) after each benchmark: {loads}.")
    return "\n".join(lines)
