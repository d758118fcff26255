"""A batch on a local Ray cluster with one worker killed midway (run by tests/test_fleet.py
inside a network namespace with only loopback, where Ray stays on 127.0.0.1).

``python fleet_ray.py WORKDIR TASKS`` starts a scripted model and a local Ray cluster,
runs ``codexkit batch --executor ray`` against it with TASKS tasks, kills the Ray worker
process running the task ``victim`` while its model request hangs, waits for the batch
to end, and prints one JSON line: the command's exit code, the killed pid, every result.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import ray

from codexkit.fleet import read_results
from codexkit.testing import RecordedRequest, Reply, ScriptedModel, shell, stall, text

VICTIM = "victim"


class Script:
    """``task <id>: write TOKEN`` prompts: a command, then an answer. The victim's first
    request hangs (its worker is killed meanwhile); ``stalled`` is set when it arrives."""

    def __init__(self) -> None:
        self.stalled = threading.Event()
        self.victim_requests = 0
        self.lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Reply:
        prompt = request.last_user_text or ""
        task_id = prompt.partition(": ")[0].removeprefix("task ")
        token = prompt.rsplit(" ", 1)[-1]
        if task_id == VICTIM:
            with self.lock:
                self.victim_requests += 1
                first = self.victim_requests == 1
            if first:
                self.stalled.set()
                return stall()
        if request.function_call_outputs():
            return text(f"wrote {token}")
        return shell(f"printf %s {token} > result.txt")


def main(workdir: Path, count: int) -> int:
    script = Script()
    folder = workdir / "folder"
    folder.mkdir()
    (folder / "README.md").write_text("a plain folder\n")
    pids = workdir / "pids"
    pids.mkdir()
    lines = []
    for i in range(count):
        task_id = VICTIM if i == 1 else f"r{i}"
        task: dict[str, object] = {
            "id": task_id,
            "prompt": f"task {task_id}: write token-{i}",
            "workdir": str(folder),
            "sandbox": "workspace-write",
            "check": f'test "$(cat result.txt)" = token-{i}',
        }
        if task_id == VICTIM:  # the worker process is the parent of the setup's shell
            task["setup"] = f"echo $PPID > {pids}/attempt-$$"
        lines.append(json.dumps(task) + "\n")
    tasks = workdir / "tasks.jsonl"
    tasks.write_text("".join(lines))
    out = workdir / "results.jsonl"
    with ScriptedModel(default=script) as model:
        home = model.codex_home(workdir / "home")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            address = ray.get_runtime_context().gcs_address
            batch = subprocess.Popen(
                [
                    sys.executable, "-m", "codexkit.cli", "batch", str(tasks),
                    "--out", str(out), "--executor", "ray", "--ray-address", address,
                    "-j", "4", "--json", "--codex-home", str(home),
                    "--workspace-root", str(workdir / "copies"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            try:
                if not script.stalled.wait(timeout=120):
                    raise TimeoutError("the victim's model request never came")
                [attempt] = list(pids.iterdir())
                killed = int(attempt.read_text())
                os.kill(killed, signal.SIGKILL)
                _, stderr = batch.communicate(timeout=180)
            finally:
                if batch.poll() is None:
                    batch.kill()
                    batch.wait()
        finally:
            ray.shutdown()
    results = {r.id: r.model_dump(mode="json") for r in read_results(out).results.values()}
    report = {
        "returncode": batch.returncode,
        "stderr": stderr[-3000:],
        "killed": killed,
        "victim_requests": script.victim_requests,
        "results": results,
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]), int(sys.argv[2])))
