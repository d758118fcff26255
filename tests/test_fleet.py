"""The fleet: batches of agent tasks with the real binary and a scripted model.

One scripted model serves every test of the module. It reads each request's prompt,
``task <id>: <action>``, and answers as that task's script says, so any number of tasks
can run at once in any order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from codexkit.fleet import (
    BatchEvent,
    BatchSettings,
    Task,
    TaskFileError,
    TaskResult,
    arun_batch,
    is_retryable,
    parse_tasks,
    read_results,
    run_batch,
)
from codexkit.testing import (
    RecordedRequest,
    Reply,
    ScriptedModel,
    failure,
    json_reply,
    shell,
    stall,
    text,
)

SOURCE_FILE = "README.md"


class Script:
    """Answers ``task <id>: <action>`` prompts; counts each task's model requests."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[str, int] = {}
        self.hung = threading.Event()  # a `hang` request arrived

    def __call__(self, request: RecordedRequest) -> Reply:
        prompt = request.last_user_text or ""
        head, _, action = prompt.partition(": ")
        task_id = head.removeprefix("task ")
        with self.lock:
            self.seen[task_id] = self.seen.get(task_id, 0) + 1
            count = self.seen[task_id]
        verb, _, arg = action.partition(" ")
        if verb == "stall":
            return stall()
        if verb == "hang":
            self.hung.set()
            return stall()
        if verb == "slow" and request.function_call_outputs():  # a command, then silence
            return stall()
        if verb == "fail":
            return failure("the model broke", code=arg)
        if verb == "flaky" and count == 1:  # the first attempt leaves a stray file...
            return shell("echo stray > stray.txt")
        if verb == "flaky" and count == 2:  # ...when the service refuses, then it works
            return failure("slow down", code="rate_limit_exceeded")
        if verb == "big" and not request.function_call_outputs():  # a 9 MB file
            return shell("head -c 9000000 /dev/zero | tr '\\0' a > big.txt")
        if verb == "answer":
            return json_reply({"answer": int(arg)})
        if request.function_call_outputs():
            return text(f"wrote {arg}")
        return shell(f"printf %s {arg} > result.txt; echo noise > run.log")


@pytest.fixture(scope="module")
def script() -> Script:
    return Script()


@pytest.fixture(scope="module")
def model(script: Script) -> Iterator[ScriptedModel]:
    with ScriptedModel(default=script) as scripted:
        yield scripted


@pytest.fixture(scope="module")
def home(model: ScriptedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model.codex_home(tmp_path_factory.mktemp("fleet") / "home")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain folder tasks get copies of."""
    path = tmp_path_factory.mktemp("fleet") / "folder"
    path.mkdir()
    (path / SOURCE_FILE).write_text("a plain folder\n")
    (path / ".gitignore").write_text("*.log\n")  # ignored files stay out of diffs
    return path


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository with two commits: tasks run at the first (tag ``v1``)."""
    path = tmp_path_factory.mktemp("fleet") / "repo"
    path.mkdir()
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (path / SOURCE_FILE).write_text("version 1\n")
    (path / ".gitignore").write_text("*.log\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    subprocess.run([*git, "tag", "v1"], check=True)
    (path / "later.txt").write_text("only after v1\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "two"], check=True)
    return path


def write_task(i: int, folder: Path, repo: Path, **extra: object) -> Task:
    """Task ``i`` writes its own token; even ones in a copy of ``folder``, odd ones in a
    worktree of ``repo`` at ``v1``. Its check passes when the file holds the token."""
    token = f"token-{i}"
    source = {"workdir": str(folder)} if i % 2 == 0 else {"repo": str(repo), "ref": "v1"}
    fields: dict[str, object] = {
        "id": f"w{i}",
        "prompt": f"task w{i}: write {token}",
        "sandbox": "workspace-write",
        "check": f'test "$(cat result.txt)" = {token} && test ! -e later.txt',
        **source,
        **extra,
    }
    return Task.model_validate(fields)


def worktrees_of(repo: Path, under: Path | None = None) -> list[str]:
    """The repository's worktrees besides its own (those under ``under`` only). The
    repository is the module's: a batch killed with SIGKILL in one test may leave a
    worktree entry behind, which later tests must not count."""
    listed = subprocess.run(
        ["git", "-C", str(repo), "worktree", "list", "--porcelain"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    paths = [line.split(" ", 1)[1] for line in listed.splitlines() if line.startswith("worktree ")]
    others = [p for p in paths if Path(p) != repo]
    return [p for p in others if under is None or Path(p).is_relative_to(under)]


def tasks_file(path: Path, tasks: list[Task]) -> Path:
    path.write_text("".join(t.model_dump_json(exclude_defaults=True) + "\n" for t in tasks))
    return path


def cli(*args: str, home: Path) -> list[str]:
    return [sys.executable, "-m", "codexkit.cli", "batch", *args, "--codex-home", str(home)]


@pytest.mark.real
@pytest.mark.slow
def test_fifty_tasks_at_concurrency_eight_each_correct_in_its_own_copy(
    home: Path, folder: Path, repo: Path, tmp_path: Path
) -> None:
    tasks = [write_task(i, folder, repo) for i in range(50)]
    worktrees_before = worktrees_of(repo)
    events: list[BatchEvent] = []
    peak = 0

    def watch(event: BatchEvent) -> None:
        nonlocal peak
        events.append(event)
        peak = max(peak, event.progress.running)

    out = tmp_path / "results.jsonl"
    results = list(
        run_batch(
            tasks, out=out, concurrency=8, client_options={"codex_home": str(home)}, on_event=watch
        )
    )
    by_id = {r.id: r for r in results}
    assert sorted(by_id) == sorted(t.id for t in tasks)
    assert peak == 8
    for i in range(50):
        result = by_id[f"w{i}"]
        assert result.status == "passed", result
        assert result.check is not None
        assert result.check.exit_code == 0
        assert result.final_response == f"wrote token-{i}"
        assert [(c.command, c.exit_code) for c in result.commands] == [
            (f"printf %s token-{i} > result.txt; echo noise > run.log", 0)
        ]
        # Each diff is its task's own file alone: no other task's edit leaked in, and
        # the ignored run.log is left out.
        assert result.diff.count("diff --git") == 1
        assert "b/result.txt" in result.diff
        assert f"+token-{i}" in result.diff
        assert result.usage is not None
        assert result.usage.total_tokens == 30
    # The sources were never touched, and no worktree or copy was left behind.
    assert sorted(p.name for p in folder.iterdir()) == [".gitignore", SOURCE_FILE]
    status = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True
    )
    assert status.stdout == ""
    assert worktrees_of(repo) == worktrees_before
    # One line per task in the file, as yielded.
    assert read_results(out).results == by_id
    assert events[-1].kind == "finished"
    assert events[-1].progress.counts["passed"] == 50


@pytest.mark.real
async def test_checks_grade_and_only_retryable_service_failures_are_retried(
    home: Path, folder: Path, repo: Path, script: Script, model: ScriptedModel
) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    suffix = f"-{id(script)}-{time.monotonic_ns()}"  # the test runs once per event loop
    tasks = [
        write_task(0, folder, repo, id=f"pass{suffix}"),
        write_task(1, folder, repo, id=f"wrong{suffix}", check="test -e missing.txt"),
        Task(
            id=f"flaky{suffix}",
            prompt=f"task flaky{suffix}: flaky token-f",
            workdir=str(folder),
            sandbox="workspace-write",
            check="grep -q token-f result.txt",
        ),
        Task(
            id=f"broken{suffix}",
            prompt=f"task broken{suffix}: fail server_error",
            workdir=str(folder),
        ),
        Task(
            id=f"answer{suffix}",
            prompt=f"task answer{suffix}: answer 42",
            workdir=str(folder),
            output_schema=schema,
            config={"model_reasoning_effort": "low"},
        ),
        Task(
            id=f"setup{suffix}", prompt="never sent", workdir=str(folder), setup="echo nope; exit 3"
        ),
    ]
    settings = BatchSettings(retries=2, backoff=0.01)
    results = {
        r.id.removesuffix(suffix): r
        async for r in arun_batch(
            tasks, concurrency=6, settings=settings, client_options={"codex_home": str(home)}
        )
    }
    assert results["pass"].status == "passed"
    wrong = results["wrong"]
    assert (wrong.status, wrong.attempts) == ("failed", 1)  # the agent's failure: no retry
    assert wrong.check is not None
    assert (wrong.check.exit_code, wrong.check.passed) == (1, False)
    assert "+token-1" in wrong.diff
    flaky = results["flaky"]
    assert (flaky.status, flaky.attempts, flaky.error) == ("passed", 2, None)
    assert script.seen[f"flaky{suffix}"] == 4  # a command, refused; a command, an answer
    assert "stray.txt" not in flaky.diff  # the retry started from the copy as set up
    assert "+token-f" in flaky.diff
    broken = results["broken"]
    assert (broken.status, broken.attempts) == ("error", 1)
    assert broken.error is not None
    assert "the model broke" in broken.error
    answer = results["answer"]
    assert (answer.status, answer.output) == ("passed", {"answer": 42})
    [asked] = [r for r in model.requests if r.last_user_text == tasks[4].prompt]
    assert asked.output_schema == schema
    assert asked.body["reasoning"]["effort"] == "low"  # the task's own config
    setup = results["setup"]
    assert setup.status == "error"
    assert setup.error is not None
    assert "setup exited 3" in setup.error
    assert "nope" in setup.error
    assert f"setup{suffix}" not in script.seen  # the agent never ran


@pytest.mark.real
def test_a_task_that_times_out_is_reported_and_the_batch_goes_on(
    home: Path, folder: Path, repo: Path
) -> None:
    tasks = [
        Task(
            id="slow",
            prompt="task slow: slow token-s",
            workdir=str(folder),
            sandbox="workspace-write",
            timeout=1.5,
            check="true",
        ),
        *(write_task(i, folder, repo, id=f"after{i}") for i in range(3)),
    ]
    started = time.monotonic()
    results = {
        r.id: r for r in run_batch(tasks, concurrency=2, client_options={"codex_home": str(home)})
    }
    slow = results["slow"]
    assert (slow.status, slow.error) == ("timeout", "the agent ran past 1.5 s")
    # What the agent did before time ran out is kept; the check did not run.
    assert [c.command for c in slow.commands] == [
        "printf %s token-s > result.txt; echo noise > run.log"
    ]
    assert "+token-s" in slow.diff
    assert slow.check is None
    assert all(results[f"after{i}"].status == "passed" for i in range(3))
    assert time.monotonic() - started < 60  # the stalled task did not hold the batch


@pytest.mark.real
def test_huge_output_and_diffs_are_cut_to_a_bound(home: Path, folder: Path) -> None:
    from codexkit.fleet._workspace import MAX_DIFF_BYTES, OUTPUT_TAIL_CHARS

    task = Task(
        id="big",
        prompt="task big: big token-b",
        workdir=str(folder),
        sandbox="workspace-write",
        check="yes | head -c 50000000; echo the end; exit 4",
    )
    [result] = run_batch([task], client_options={"codex_home": str(home)})
    assert result.status == "failed"
    assert result.check is not None
    assert result.check.exit_code == 4
    assert len(result.check.output_tail) == OUTPUT_TAIL_CHARS
    assert result.check.output_tail.endswith("y\nthe end\n")
    head, _, note = result.diff.rpartition("\n# codexkit: the diff has ")
    assert len(head.encode()) == MAX_DIFF_BYTES
    assert head.startswith("diff --git a/big.txt b/big.txt")
    assert note.startswith(f"9000147 bytes; its first {MAX_DIFF_BYTES} are above.")
    assert note.endswith("All files changed:\n big.txt | 1 +\n 1 file changed, 1 insertion(+)\n")


def app_servers_of(parent: int) -> list[int]:
    """The app-server processes ``parent`` started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"app-server" in command:
            found.append(int(entry.name))
    return found


@pytest.mark.real
def test_an_app_server_that_dies_fails_its_task_as_error_and_is_replaced(
    home: Path, folder: Path, repo: Path, script: Script
) -> None:
    from codexkit.fleet import LocalExecutor

    script.hung.clear()
    executor = LocalExecutor(1, servers=1, client_options={"codex_home": str(home)})
    tasks = [
        Task(id="doomed", prompt="task doomed: hang", workdir=str(folder), timeout=60),
        *(write_task(i, folder, repo, id=f"later{i}") for i in range(2)),
    ]

    def kill_the_server() -> None:
        assert script.hung.wait(timeout=60)
        [server] = app_servers_of(os.getpid())
        os.kill(server, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_server)
    killer.start()
    results = {r.id: r for r in run_batch(tasks, executor=executor)}
    killer.join(timeout=60)
    doomed = results["doomed"]
    assert doomed.status == "error"  # the harness broke, not the agent
    assert doomed.error is not None
    assert doomed.error.startswith("TransportClosedError")
    assert [results[f"later{i}"].status for i in range(2)] == ["passed", "passed"]
    assert app_servers_of(os.getpid()) == []  # the replacement was closed with the batch


@pytest.mark.real
@pytest.mark.slow
def test_a_batch_killed_midway_resumes_with_only_the_unfinished_tasks(
    home: Path, folder: Path, repo: Path, tmp_path: Path
) -> None:
    tasks = [write_task(i, folder, repo, id=f"k{i}") for i in range(12)]
    source = tasks_file(tmp_path / "tasks.jsonl", tasks)
    out = tmp_path / "results.jsonl"
    copies = ["--workspace-root", str(tmp_path / "copies")]  # the killed run leaves some
    first = subprocess.Popen(
        cli(str(source), "--out", str(out), "--json", "-j", "2", *copies, home=home),
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its app-servers die with it
    )
    assert first.stdout is not None
    finished = 0
    for line in first.stdout:
        if json.loads(line)["event"] == "task_finished":
            finished += 1
            if finished == 4:
                break
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    kept = read_results(out).results
    assert 4 <= len(kept) < 12  # results of tasks that ended before the kill survive
    second = subprocess.run(
        cli(str(source), "--out", str(out), "--json", "-j", "4", *copies, home=home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0, second.stderr
    events = [json.loads(line) for line in second.stdout.splitlines()]
    assert (events[0]["event"], events[0]["skipped"]) == ("started", len(kept))
    rerun = {e["id"] for e in events if e["event"] == "task_finished"}
    assert rerun == {t.id for t in tasks} - set(kept)
    final = read_results(out)
    assert sorted(final.results) == sorted(t.id for t in tasks)
    assert all(r.status == "passed" for r in final.results.values())


@pytest.mark.real
def test_retry_failed_reruns_only_what_did_not_pass(
    home: Path, folder: Path, repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "results.jsonl"
    good = write_task(0, folder, repo, id="good")
    bad = write_task(1, folder, repo, id="bad", check="false")
    assert [
        r.status for r in run_batch([good, bad], out=out, client_options={"codex_home": str(home)})
    ] in (
        ["passed", "failed"],
        ["failed", "passed"],
    )
    assert list(run_batch([good, bad], out=out)) == []  # both finished: nothing runs
    fixed = bad.model_copy(update={"check": "true"})
    again = list(
        run_batch(
            [good, fixed], out=out, retry_failed=True, client_options={"codex_home": str(home)}
        )
    )
    assert [(r.id, r.status) for r in again] == [("bad", "passed")]
    assert {r.id: r.status for r in read_results(out).results.values()} == {
        "good": "passed",
        "bad": "passed",
    }


def test_invalid_task_lines_are_all_reported_before_anything_runs(
    folder: Path, tmp_path: Path
) -> None:
    lines = [
        json.dumps({"id": "ok", "prompt": "p", "workdir": str(folder)}),
        "{not json",
        "",
        json.dumps({"id": "ok", "prompt": "again", "workdir": str(folder)}),
        json.dumps({"id": "both", "prompt": "p", "workdir": str(folder), "repo": str(folder)}),
        json.dumps({"id": "gone", "prompt": "p", "workdir": "no/such/dir"}),
        json.dumps({"id": "norepo", "prompt": "p", "repo": str(folder), "ref": "main"}),
        json.dumps({"id": "typo", "prompt": "p", "workdir": str(folder), "timeout": -1, "x": 1}),
    ]
    with pytest.raises(TaskFileError) as caught:
        parse_tasks(lines, base=tmp_path)
    problems = {p.line: p.message for p in caught.value.problems}
    assert sorted(problems) == [2, 4, 5, 6, 7, 8]
    assert problems[2].startswith("not JSON")
    assert problems[4] == "id 'ok' repeats line 1"
    assert "exactly one of 'workdir'" in problems[5]
    assert "is not an existing directory" in problems[6]
    assert "not a git repository with a commit at ref 'main'" in problems[7]
    assert "timeout: Input should be greater than 0" in problems[8]
    assert "x: Extra inputs are not permitted" in problems[8]
    # The command refuses the file with every line listed, and writes no results.
    source = tmp_path / "tasks.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "results.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "codexkit.cli", "batch", str(source), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "400"},  # no line wrapped
    )
    assert run.returncode == 2
    assert "6 invalid task lines" in run.stderr
    for number in (2, 4, 5, 6, 7, 8):
        assert f"line {number}:" in run.stderr
    assert not out.exists()


def test_retryable_service_failures_are_those_worth_waiting_for() -> None:
    assert is_retryable({"codexErrorInfo": "rateLimitExceeded"})
    assert is_retryable({"codexErrorInfo": "serverOverloaded"})
    assert is_retryable(
        {"codexErrorInfo": {"responseStreamDisconnected": {"httpStatusCode": None}}}
    )
    assert is_retryable({"codexErrorInfo": {"httpConnectionFailed": {"httpStatusCode": 503}}})
    assert not is_retryable({"codexErrorInfo": {"httpConnectionFailed": {"httpStatusCode": 400}}})
    assert not is_retryable({"codexErrorInfo": "usageLimitExceeded"})
    assert not is_retryable({"codexErrorInfo": "contextWindowExceeded"})
    assert not is_retryable({"codexErrorInfo": "other"})
    assert not is_retryable(None)


def test_a_results_line_cut_by_a_crash_is_skipped_and_the_next_starts_clean(
    tmp_path: Path,
) -> None:
    from codexkit.fleet import ResultWriter

    out = tmp_path / "results.jsonl"
    out.write_text(
        TaskResult(id="a", status="passed").model_dump_json() + "\n" + '{"id": "b", "sta'
    )
    writer = ResultWriter(out)
    writer.write(TaskResult(id="c", status="failed"))
    writer.close()
    stored = read_results(out)
    assert sorted(stored.results) == ["a", "c"]
    assert stored.unreadable_lines == [2]


def test_report_prints_the_summary_and_writes_a_self_contained_page(tmp_path: Path) -> None:
    from codexkit.fleet import CheckOutcome, ResultWriter, TaskUsage

    out = tmp_path / "results.jsonl"
    writer = ResultWriter(out)
    for i in range(8):
        status = ["passed", "passed", "passed", "failed", "passed", "error", "timeout", "passed"]
        writer.write(
            TaskResult(
                id=f"<b>t{i}</b>",
                status=status[i],  # type: ignore[arg-type]
                duration_s=float(i),
                usage=TaskUsage(total_tokens=100 * i),
                check=CheckOutcome(
                    command="make test",
                    passed=i != 3,
                    exit_code=int(i == 3),
                    output_tail="",
                    duration_s=0.1,
                ),
            )
        )
    writer.write(TaskResult(id="<b>t3</b>", status="passed", duration_s=3.0))  # a rerun
    writer.close()
    run = subprocess.run(
        [sys.executable, "-m", "codexkit.cli", "batch", "report", str(out), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert (summary["total"], summary["passed"], summary["error"]) == (8, 6, 1)
    assert summary["pass_rate"] == 0.75
    page = Path(summary["html"]).read_text()
    assert Path(summary["html"]) == tmp_path / "results.html"
    assert "<b id='pass-rate'>75.0%</b>" in page
    assert page.count("<svg") == 2  # the duration and token histograms
    assert page.count("class='bar'") == 20  # ten bins each
    assert "&lt;b&gt;t3&lt;/b&gt;" in page
    assert "<b>t3</b>" not in page  # ids are escaped
    assert "http" not in page  # nothing to fetch
    assert "<script" not in page
    table = subprocess.run(
        [sys.executable, "-m", "codexkit.cli", "batch", "report", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "pass rate 75.0%" in table.stdout


@pytest.fixture(scope="module")
def loopback_namespace() -> Iterator[str]:
    """A network namespace with only loopback up: Ray inside it stays on 127.0.0.1."""
    name = f"codexkit-fleet-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_batch_on_a_local_ray_cluster_survives_a_killed_worker(
    loopback_namespace: str, tmp_path: Path
) -> None:
    helper = Path(__file__).parent / "support" / "fleet_ray.py"
    run = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            loopback_namespace,
            sys.executable,
            str(helper),
            str(tmp_path),
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=280,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["returncode"] == 0, report["stderr"]
    results = report["results"]
    assert len(results) == 8
    for i, task_id in enumerate(["r0", "victim", *(f"r{i}" for i in range(2, 8))]):
        result = results[task_id]
        assert result["status"] == "passed", result
        assert f"+token-{i}" in result["diff"]
    # The victim's worker was killed mid-turn; Ray ran the task again on another worker.
    victim = results["victim"]
    assert not victim["worker"].endswith(f":{report['killed']}")
    assert report["victim_requests"] == 3  # the hung request, then the rerun's two
    assert len(list((tmp_path / "pids").iterdir())) == 2  # two attempts ran the setup


def test_the_ray_executor_without_ray_says_which_extra_to_install() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'ray':\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from codexkit.fleet import RayExecutor\n"
        "from codexkit import InvalidArgumentError\n"
        "try:\n"
        "    RayExecutor(2)\n"
        "except InvalidArgumentError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "the Ray executor needs Ray: pip install 'codexkit[ray]'"


@pytest.mark.real
def test_leaving_run_batch_early_stops_the_batch_and_its_app_servers(
    home: Path, folder: Path, repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "results.jsonl"
    copies = tmp_path / "copies"
    tasks = [write_task(i, folder, repo, id=f"early{i}") for i in range(6)]
    results = run_batch(
        tasks,
        out=out,
        concurrency=1,
        settings=BatchSettings(workspace_root=str(copies)),
        client_options={"codex_home": str(home)},
    )
    first = next(results)
    results.close()
    assert first.status == "passed"
    assert app_servers_of(os.getpid()) == []
    assert list(copies.iterdir()) == []  # the task cut short removed its copy too
    assert worktrees_of(repo, under=copies) == []
    assert 1 <= len(read_results(out).results) <= 2  # at most the one running when we left
