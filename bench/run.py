"""codexkit vs openai-codex 0.163.0 vs a raw JSON-RPC client, side by side, in one run.

Run from the repository root: ``python -m bench`` (``--quick`` for a smoke run with
few repetitions). Prints a markdown table and writes everything measured, raw samples
included, to ``bench/results/latest.json``. See ``docs/benchmarks.md``.

Every client talks to the same pinned ``codex`` binary (``openai-codex-cli-bin``) and
the same scripted model (``codexkit.testing.ScriptedModel``, which answers every model
request with the text "ok"). The scripted model runs in this process; each client runs
in its own worker process (``bench/worker.py``), so no SDK's import, memory or threads
are in another's way, and the workers take turns step by step (see ``interleaved``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.clients import CLIENTS, LABELS
from bench.steps import interleaved, log, median_ms, paired_ratio, summary

Json = dict[str, Any]

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results" / "latest.json"
SERVE_RESULTS = BENCH_DIR / "results" / "serve.json"
FLOOD_SERVER = BENCH_DIR / "flood_server.py"

IMPORTS = {
    "import codexkit": "import codexkit",
    "from codexkit import AsyncCodex": "from codexkit import AsyncCodex",
    "import openai_codex": "import openai_codex",
    "import asyncio (baseline)": "import asyncio",
}


# Targets: codexkit's trivial turn within 5 % of raw, 20 concurrent turns within 10 %,
# event dispatch at least 3x openai-codex's sync stream.
# `from codexkit import AsyncCodex` at most 1.3x `import asyncio` (which it needs anyway);
# `codexkit --help` under 0.15 s, the whole process.
IMPORT_TARGET = 1.3
HELP_TARGET = 0.15
LATENCY_TARGET = 1.05
CONCURRENT_TARGET = 1.10
FLOOD_TARGET = 3.0


class Settings:
    """How many samples of each benchmark (``quick``: a smoke run, not for numbers)."""

    def __init__(self, quick: bool) -> None:
        self.import_runs = 3 if quick else 10
        self.spawn_runs = 3 if quick else 10
        self.warmup_turns = 5
        self.turns = 10 if quick else 50
        self.width = 20
        self.concurrent_reps = 2 if quick else 10
        self.flood_events = 10_000 if quick else 100_000
        self.flood_reps = 2 if quick else 5
        self.flood_reps_openai_async = 1  # about 10-20 s a turn: one is enough
        self.flood_warmup = 1  # untimed flooded turns first (none for openai async)


# -- machine and setup --------------------------------------------------------------


def machine() -> Json:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            mem_kib = int(info.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def worker_env() -> dict[str, str]:
    """This environment, with the bundled binary's helper directory (``rg``) on PATH, as
    both SDKs set it up when they pick the bundled binary themselves."""
    import codex_cli_bin

    env = dict(os.environ)
    extra = codex_cli_bin.bundled_path_dir()
    if extra is not None:
        env["PATH"] = os.pathsep.join([str(extra), env.get("PATH", "")])
    env.pop("CODEXKIT_CODEX_BIN", None)
    # Measure what an installed package costs: with its bytecode cached, as a user has it
    # (some machines set this for every process, which makes each run compile anew).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def git_state() -> Json:
    """The commit measured, and whether ``src/`` had uncommitted changes."""

    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return proc.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "src_changes": len(git("status", "--porcelain", "--", "src").splitlines()),
    }


def package_versions() -> Json:
    """The versions measured; None for a package not installed (``--serve`` needs no
    openai-codex)."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {name: installed(name) for name in ("codexkit", "openai-codex", "openai-codex-cli-bin")}


def flood_wrapper(directory: Path, events: int) -> str:
    """An executable standing in for ``codex``: it runs the flood server, ignoring the
    arguments each client passes (``app-server``, ``--listen stdio://``)."""
    script = directory / "flood-codex"
    argv = shlex.join([sys.executable, str(FLOOD_SERVER), str(events)])
    script.write_text(f"#!/bin/sh\nexec {argv}\n", encoding="utf-8")
    script.chmod(0o755)
    return str(script)


# -- running workers ----------------------------------------------------------------


# -- the benchmarks -----------------------------------------------------------------


def bench_imports(settings: Settings, env: dict[str, str]) -> Json:
    """Each statement in a fresh interpreter, the statements taking turns; the clock runs
    around the import only."""
    samples: dict[str, list[float]] = {label: [] for label in IMPORTS}
    for i in range(settings.import_runs + 1):  # the first round may write .pyc files
        for label, statement in IMPORTS.items():
            code = (
                "import time; t0 = time.perf_counter(); "
                f"{statement}; print(time.perf_counter() - t0)"
            )
            proc = subprocess.run(
                [sys.executable, "-c", code],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            if i:
                samples[label].append(float(proc.stdout.strip()))
    for label, values in samples.items():
        log(f"import: {label}: {median_ms(values):.1f} ms")
    return {label: summary(values) for label, values in samples.items()}


def bench_help(settings: Settings, env: dict[str, str], codex_bin: str) -> Json:
    """Whole processes, wall clock: ``codexkit --help`` beside the interpreter's own start
    (``python -c pass``) and the native ``codex --help``, taking turns."""
    commands = {
        "codexkit --help": [sys.executable, "-m", "codexkit.cli", "--help"],
        "python -c pass": [sys.executable, "-c", "pass"],
        "codex --help": [codex_bin, "--help"],
    }
    samples: dict[str, list[float]] = {label: [] for label in commands}
    for i in range(settings.import_runs + 1):
        for label, argv in commands.items():
            t0 = time.perf_counter()
            subprocess.run(argv, cwd=REPO, env=env, capture_output=True, check=True)
            if i:
                samples[label].append(time.perf_counter() - t0)
    for label, values in samples.items():
        log(f"help: {label}: {median_ms(values):.1f} ms")
    return {label: summary(values) for label, values in samples.items()}


def bench_flood(settings: Settings, env: dict[str, str], work: Path) -> Json:
    codex_bin = flood_wrapper(work, settings.flood_events)
    out = interleaved(
        "flood",
        settings.flood_reps,
        env,
        work,
        codex_bin,
        {"warmup": settings.flood_warmup},
        model=False,
        limits={"openai_async": settings.flood_reps_openai_async},
        per_client={"openai_async": {"warmup": 0}},
    )
    for data in out.values():
        samples = data["samples"]
        data["events"] = [s["events"] for s in samples]
        data["events_per_s"] = statistics.median(s["events"] / s["time"] for s in samples)
        data["cpu_us_per_event"] = statistics.median(s["cpu"] / s["events"] * 1e6 for s in samples)
    return out


# -- report -------------------------------------------------------------------------


def fmt_ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def ratio_cell(value: float, target: str, ok: bool, paired: float | None = None) -> str:
    extra = f"; paired {paired:.2f}x" if paired is not None else ""
    return f"**{value:.2f}x** (target {target}: {'met' if ok else 'missed'}{extra})"


def report(results: Json) -> str:
    if "serve" in results:
        from bench.serve import report_serve

        return report_serve(results)
    imp = results["imports"]
    cols = [LABELS[c] for c in CLIENTS]
    lines = [
        "| benchmark | " + " | ".join(cols) + " | codexkit ratio |",
        "|---|" + "---|" * len(cols) + "---|",
    ]

    def row(name: str, cells: list[str], ratio: str) -> None:
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio} |")

    ck_imp = imp["from codexkit import AsyncCodex"]["median"]
    oa_imp = imp["import openai_codex"]["median"]
    asyncio_imp = imp["import asyncio (baseline)"]["median"]
    row(
        "import (`import codexkit` / `from codexkit import AsyncCodex` / `import openai_codex`)",
        [
            f"{fmt_ms(asyncio_imp)} (`import asyncio`)",
            f"{fmt_ms(imp['import codexkit']['median'])} / {fmt_ms(ck_imp)}",
            fmt_ms(oa_imp),
            "(same package)",
        ],
        f"{ck_imp / oa_imp:.2f}x of openai-codex; "
        + ratio_cell(
            ck_imp / asyncio_imp,
            f"<= {IMPORT_TARGET:.1f}x `import asyncio`",
            ck_imp / asyncio_imp <= IMPORT_TARGET,
        ),
    )
    if "help" in results:
        help_ = results["help"]
        ck_help = help_["codexkit --help"]["median"]
        row(
            "`codexkit --help`, whole process (beside `python -c pass` / `codex --help`)",
            [
                f"{fmt_ms(help_['python -c pass']['median'])} (`python -c pass`)",
                f"**{fmt_ms(ck_help)}** (target < {HELP_TARGET * 1000:.0f} ms: "
                f"{'met' if ck_help < HELP_TARGET else 'missed'})",
                "(no command line)",
                f"{fmt_ms(help_['codex --help']['median'])} (`codex --help`)",
            ],
            f"{ck_help / help_['python -c pass']['median']:.1f}x the bare interpreter",
        )
    if "spawn" not in results:  # a --startup run measures nothing else
        return "\n".join(lines)
    spawn, lat = results["spawn"], results["latency"]
    conc, flood = results["concurrent"], results["flood"]

    def med(block: Json, client: str) -> float:
        return float(block[client]["summary"]["median"])

    row(
        "spawn to ready, median",
        [fmt_ms(med(spawn, c)) for c in CLIENTS],
        f"{med(spawn, 'codexkit') / med(spawn, 'raw'):.2f}x of raw",
    )
    lat_ratio = med(lat, "codexkit") / med(lat, "raw")
    row(
        f"trivial turn, median of {lat['codexkit']['summary']['n']} (warm thread)",
        [fmt_ms(med(lat, c)) for c in CLIENTS],
        ratio_cell(
            lat_ratio,
            f"<= {LATENCY_TARGET:.2f}x raw",
            lat_ratio <= LATENCY_TARGET,
            paired_ratio(lat, "codexkit", "raw"),
        ),
    )
    row(
        "  client CPU per trivial turn, median",
        [fmt_ms(lat[c]["cpu_median"]) for c in CLIENTS],
        f"+{(lat['codexkit']['cpu_median'] - lat['raw']['cpu_median']) * 1000:.2f} ms vs raw",
    )
    conc_ratio = med(conc, "codexkit") / med(conc, "raw")
    row(
        f"{results['settings']['width']} concurrent turns, wall, median of "
        f"{conc['codexkit']['summary']['n']}",
        [fmt_ms(med(conc, c)) for c in CLIENTS],
        ratio_cell(
            conc_ratio,
            f"<= {CONCURRENT_TARGET:.2f}x raw",
            conc_ratio <= CONCURRENT_TARGET,
            paired_ratio(conc, "codexkit", "raw"),
        ),
    )
    row(
        f"  client CPU per {results['settings']['width']}-turn round, median",
        [fmt_ms(conc[c]["cpu_median"]) for c in CLIENTS],
        f"+{(conc['codexkit']['cpu_median'] - conc['raw']['cpu_median']) * 1000:.1f} ms vs raw",
    )
    flood_ratio = flood["codexkit"]["events_per_s"] / flood["openai_sync"]["events_per_s"]
    row(
        f"event dispatch, {results['settings']['flood_events']:,}-delta turn, events/s",
        [f"{flood[c]['events_per_s']:,.0f}" for c in CLIENTS],
        ratio_cell(flood_ratio, f">= {FLOOD_TARGET:.0f}x openai sync", flood_ratio >= FLOOD_TARGET),
    )
    row(
        "  client CPU per event, median",
        [f"{flood[c]['cpu_us_per_event']:.1f} us" for c in CLIENTS],
        f"{flood['openai_sync']['cpu_us_per_event'] / flood['codexkit']['cpu_us_per_event']:.2f}x"
        " less CPU than openai sync",
    )

    def rss(c: str) -> float:
        return float(lat[c]["setup"]["memory_after_warmup"]["VmRSS"]) / 1024

    row(
        f"RSS of the Python process after {results['settings']['warmup_turns']} turns",
        [f"{rss(c):.1f} MiB" for c in CLIENTS],
        f"{rss('codexkit') / rss('openai_sync'):.2f}x of openai sync",
    )

    def peak(c: str) -> float:
        return float(flood[c]["teardown"]["memory_end"]["VmHWM"]) / 1024

    row(
        "  peak RSS of the flood worker (VmHWM)",
        [f"{peak(c):.1f} MiB" for c in CLIENTS],
        f"{peak('codexkit') / peak('openai_sync'):.2f}x of openai sync",
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions (smoke test)")
    parser.add_argument(
        "--startup", action="store_true", help="only the import and `codexkit --help` benchmarks"
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="only the `codexkit serve` benchmarks, beside a bare AsyncCodex",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON output ({RESULTS})")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="measure nothing: print the table of an earlier run's JSON",
    )
    args = parser.parse_args(argv)
    if args.render is not None:
        print(report(json.loads(args.render.read_text(encoding="utf-8"))))
        return 0
    settings = Settings(args.quick)
    if args.serve and args.out == RESULTS:
        args.out = SERVE_RESULTS

    import codex_cli_bin

    codex_bin = str(codex_cli_bin.bundled_codex_path())
    env = worker_env()
    version = subprocess.run(
        [codex_bin, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    started = time.time()
    results: Json = {
        "command": "python -m bench"
        + (" --quick" if args.quick else "")
        + (" --serve" if args.serve else ""),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "machine": machine(),
        "load_average_before": list(os.getloadavg()),
        "packages": package_versions(),
        "git": git_state(),
        "codex_binary": {"path": codex_bin, "version": version},
        "settings": dict(vars(settings)),
    }
    log(f"{version} at {codex_bin}; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="codexkit-bench-") as tmp:
        work = Path(tmp)
        (work / "cwd").mkdir()
        if args.serve:
            from bench.serve import ServeSettings, bench_serve

            results["serve"] = bench_serve(ServeSettings(args.quick), env, work, codex_bin)
            return finish(results, started, version, args.out)
        results["imports"] = bench_imports(settings, env)
        results["help"] = bench_help(settings, env, codex_bin)
        if args.startup:
            return finish(results, started, version, args.out)
        results["spawn"] = interleaved("spawn", settings.spawn_runs, env, work, codex_bin, {})
        results["latency"] = interleaved(
            "latency", settings.turns, env, work, codex_bin, {"warmup": settings.warmup_turns}
        )
        results["concurrent"] = interleaved(
            "concurrent", settings.concurrent_reps, env, work, codex_bin, {"width": settings.width}
        )
        results["flood"] = bench_flood(settings, env, work)
    return finish(results, started, version, args.out)


def finish(results: Json, started: float, version: str, out: Path) -> int:
    results["load_average_after"] = list(os.getloadavg())
    results["duration_s"] = round(time.time() - started, 1)
    table = report(results)
    results["table"] = table
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table)
    print(
        f"\n{version}; {results['machine']['cpus']} CPUs ({results['machine']['cpu_model']}); "
        f"Python {results['machine']['python']}; load average "
        f"{results['load_average_before'][0]:.2f} before, "
        f"{results['load_average_after'][0]:.2f} after; {results['duration_s']} s; "
        f"JSON in {out}"
    )
    return 0
