"""The ``codexkit`` command line, run as a process: the real binary, the scripted model."""

from __future__ import annotations

import json
import os
import re
import shlex
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import pytest
from rich.console import Console

from codexkit import PINNED_VERSION, find_codex
from codexkit.events import ItemCompleted, PlanStep, PlanUpdated
from codexkit.testing import (
    RecordedRequest,
    Reply,
    ScriptedModel,
    apply_patch,
    failure,
    json_reply,
    mcp_tool_call,
    shell,
    text,
)
from codexkit.types import parse_item

pytestmark = pytest.mark.real

_THREAD_ID = re.compile(r"thread ([0-9a-f-]{36})")


def codexkit(
    *args: str | Path, cwd: Path | None = None, input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``codexkit ARGS`` (through ``python -m codexkit.cli``) and capture its output,
    without the trailing spaces rich pads lines with."""
    env = {key: value for key, value in os.environ.items() if key != "CODEX_HOME"}
    env["COLUMNS"] = "200"  # no wrapping in what the assertions look at
    done = subprocess.run(
        [sys.executable, "-m", "codexkit.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    done.stdout = _unpadded(done.stdout)
    done.stderr = _unpadded(done.stderr)
    return done


def _unpadded(output: str) -> str:
    return "".join(line.rstrip() + "\n" for line in output.splitlines())


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


def _run(
    codex_home: Path, workspace: Path, prompt: str, *options: str
) -> subprocess.CompletedProcess[str]:
    return codexkit("run", "--codex-home", codex_home, "--cwd", workspace, *options, prompt)


# What codexkit logs when the binary is not the pinned one (`make compat`), as rich
# prints it: on as many lines as the width needs.
_VERSION_WARNING = re.compile(
    r"WARNING\s+codex \S+ at \S+\s+is\s+not\s+the\s+pinned\s+version.*?may\s+differ\s*\n", re.S
)


def _without_version_warning(stderr: str) -> str:
    """``stderr`` without the version warning, which comes first on another runtime."""
    return _VERSION_WARNING.sub("", stderr)


def _png() -> bytes:
    """A valid one-pixel PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _thread_id(stdout: str) -> str:
    match = _THREAD_ID.search(stdout)
    assert match, stdout
    return match.group(1)


# -- run ------------------------------------------------------------------------------------


def test_run_streams_the_answer_commands_and_usage(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path
) -> None:
    scripted_model.extend(
        [
            text("Let me look.") + shell("echo from-the-shell"),
            text("The answer is forty-two.", chunks=4, usage=(100, 7)),
        ]
    )
    done = _run(codex_home, workspace, "What is the answer?")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "What is the answer?" in out
    assert "Let me look." in out
    assert "$ echo from-the-shell\n  from-the-shell\n  ✓ exit 0" in out
    assert "The answer is forty-two." in out
    assert "✓ completed in" in out
    assert "122 tokens (110 in, 12 out)" in out  # both model calls of the turn
    assert f"codexkit threads resume {_thread_id(out)} PROMPT" in out
    assert scripted_model.requests[0].last_user_text == "What is the answer?"


def test_run_json_prints_only_events_one_per_line(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path
) -> None:
    scripted_model.extend([shell("echo hi"), text("done")])
    done = _run(codex_home, workspace, "go", "--json")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert all(isinstance(event, dict) and "method" in event for event in events)
    methods = [event["method"] for event in events]
    assert methods[-1] == "turn/completed"
    assert "item/agentMessage/delta" in methods
    assert events[-1]["params"]["turn"]["status"] == "completed"
    commands = [
        event["params"]["item"]
        for event in events
        if event["method"] == "item/completed"
        and event["params"]["item"]["type"] == "commandExecution"
    ]
    assert [command["aggregatedOutput"] for command in commands] == ["hi\n"]


def test_a_failed_turn_exits_1_and_says_why(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path
) -> None:
    scripted_model.add(failure("the model is overloaded"))
    done = _run(codex_home, workspace, "go")
    assert done.returncode == 1
    assert "✗ failed in" in done.stdout
    assert "the model is overloaded" in done.stdout
    assert "Traceback" not in done.stderr


def test_output_schema_prints_the_parsed_answer(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path, tmp_path: Path
) -> None:
    schema = {
        "type": "object",
        "properties": {"version": {"type": "string"}, "breaking": {"type": "boolean"}},
        "required": ["version", "breaking"],
        "additionalProperties": False,
    }
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(schema))
    scripted_model.add(json_reply({"version": "1.4.0", "breaking": False}))
    done = _run(codex_home, workspace, "Which release?", "--output-schema", str(schema_file))
    assert done.returncode == 0, done.stderr
    answer = done.stdout[done.stdout.index("{") : done.stdout.rindex("}") + 1]
    assert json.loads(answer) == {"version": "1.4.0", "breaking": False}
    assert scripted_model.requests[0].output_schema == schema


def test_an_answer_that_is_not_json_fails_a_schema_turn(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path, tmp_path: Path
) -> None:
    schema_file = tmp_path / "schema.json"
    schema_file.write_text('{"type": "object"}')
    scripted_model.add(text("no JSON here"))
    done = _run(codex_home, workspace, "go", "--output-schema", str(schema_file))
    assert done.returncode == 1
    assert "error: the final answer is not JSON" in done.stderr


def test_without_a_terminal_approvals_are_declined_and_shown(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path
) -> None:
    scripted_model.extend(
        [shell("touch escaped.txt", escalate=True, justification="why"), text("ok")]
    )
    done = _run(codex_home, workspace, "go")
    assert done.returncode == 0, done.stderr
    assert "The agent wants to run a command" in done.stdout
    assert "$ touch escaped.txt" in done.stdout
    assert "reason: why" in done.stdout
    assert "✗ declined automatically (no terminal to ask" in done.stdout
    assert not (workspace / "escaped.txt").exists()


def test_a_file_change_approval_shows_the_diff(
    scripted_model: ScriptedModel, workspace: Path, tmp_path: Path
) -> None:
    # codex offers apply_patch only to models it knows.
    home = scripted_model.codex_home(tmp_path / "home", extra_config={"model": "gpt-5.5"})
    patch = "*** Begin Patch\n*** Add File: notes.md\n+# Notes\n+remember\n*** End Patch\n"
    scripted_model.extend([apply_patch(patch), text("ok")])
    done = _run(home, workspace, "write notes")  # read-only: the change needs approval
    assert done.returncode == 0, done.stderr
    assert "The agent wants to change files" in done.stdout
    assert "│ ✎ added notes.md" in done.stdout  # the diff, in the approval's panel
    assert "│   +# Notes" in done.stdout
    assert "✗ declined automatically" in done.stdout
    assert "✎ added notes.md\n  +# Notes\n  +remember\n  ✗ change declined" in done.stdout
    assert not (workspace / "notes.md").exists()


def test_auto_accept_accepts_and_says_so(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path
) -> None:
    scripted_model.extend([shell("touch escaped.txt", escalate=True), text("ok")])
    done = _run(codex_home, workspace, "go", "--approval", "auto-accept")
    assert done.returncode == 0, done.stderr
    assert "✓ approved automatically (--approval auto-accept)" in done.stdout
    assert (workspace / "escaped.txt").exists()


def test_the_prompt_and_images_can_come_from_stdin_and_files(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path, tmp_path: Path
) -> None:
    image = tmp_path / "dot.png"
    image.write_bytes(_png())
    scripted_model.add(text("a dot"))
    done = codexkit(
        "run", "--codex-home", codex_home, "--cwd", workspace, "--image", image, "-",
        input="What is in the picture?",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [request] = scripted_model.requests
    assert request.last_user_text == "What is in the picture?"
    assert len(request.images()) == 1


# -- threads --------------------------------------------------------------------------------


def test_threads_list_show_resume_fork_archive_and_rm(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path
) -> None:
    scripted_model.extend([text("Noted: milk."), text("You asked about milk.")])
    first = _run(codex_home, workspace, "Remember the milk")
    assert first.returncode == 0, first.stderr
    thread_id = _thread_id(first.stdout)
    home = ("--codex-home", str(codex_home))

    listed = codexkit("threads", "list", *home)
    assert listed.returncode == 0, listed.stderr
    assert thread_id in listed.stdout
    assert "Remember the milk" in listed.stdout
    as_json = json.loads(codexkit("threads", "list", "--json", *home).stdout)
    assert [thread["id"] for thread in as_json] == [thread_id]

    resumed = codexkit("threads", "resume", thread_id, "What did I ask?", *home)
    assert resumed.returncode == 0, resumed.stderr
    assert "You asked about milk." in resumed.stdout
    assert f"in {workspace}" in resumed.stdout  # the thread's own directory, not ours
    assert "Remember the milk" in scripted_model.requests[1].user_texts()

    shown = codexkit("threads", "show", thread_id, *home)
    assert shown.returncode == 0, shown.stderr
    assert "turn 1 · completed" in shown.stdout
    assert "turn 2 · completed" in shown.stdout
    for line in ("Remember the milk", "Noted: milk.", "What did I ask?", "You asked about milk."):
        assert line in shown.stdout

    forked = codexkit("threads", "fork", thread_id, *home)
    assert forked.returncode == 0, forked.stderr
    fork_id = forked.stdout.strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", fork_id)
    assert fork_id != thread_id

    archived = codexkit("threads", "archive", "--yes", fork_id, *home)
    assert archived.returncode == 0, archived.stderr
    assert f"archived {fork_id}" in archived.stdout
    assert fork_id not in codexkit("threads", "list", *home).stdout
    assert fork_id in codexkit("threads", "list", "--archived", *home).stdout

    removed = codexkit("threads", "delete", "--yes", fork_id, *home)
    assert removed.returncode == 0, removed.stderr
    gone = codexkit("threads", "show", fork_id, *home)
    assert gone.returncode == 1
    assert _without_version_warning(gone.stderr).startswith("error: thread/read:")
    assert "Traceback" not in gone.stderr


def test_archive_without_a_terminal_needs_yes(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path
) -> None:
    scripted_model.add(text("ok"))
    thread_id = _thread_id(_run(codex_home, workspace, "hello").stdout)
    done = codexkit("threads", "archive", thread_id, "--codex-home", codex_home)
    assert done.returncode == 1
    assert "add --yes" in done.stderr
    assert thread_id in codexkit("threads", "list", "--codex-home", codex_home).stdout


def test_threads_list_when_there_are_none(codex_home: Path) -> None:
    done = codexkit("threads", "list", "--codex-home", codex_home)
    assert done.returncode == 0, done.stderr
    assert "No threads in this CODEX_HOME yet." in done.stdout


# -- models, account, doctor, demo ------------------------------------------------------------


def test_models_lists_the_catalogue(codex_home: Path) -> None:
    done = codexkit("models", "--codex-home", codex_home)
    assert done.returncode == 0, done.stderr
    assert "MODEL" in done.stdout
    assert re.search(r"^gpt-5\.5 ", done.stdout, re.M)
    assert "(default)" in done.stdout
    catalogue = json.loads(codexkit("models", "--json", "--codex-home", codex_home).stdout)
    assert "gpt-5.5" in [model["id"] for model in catalogue]


def test_login_with_an_api_key_whoami_and_logout(codex_home: Path) -> None:
    done = codexkit("login", "--with-api-key", "--codex-home", codex_home, input="sk-test\n")
    assert done.returncode == 0, done.stderr
    assert "Signed in with an API key" in done.stdout
    assert json.loads((codex_home / "auth.json").read_text())["OPENAI_API_KEY"] == "sk-test"
    # The scripted provider needs no OpenAI account, so codex reports none.
    who = codexkit("whoami", "--codex-home", codex_home)
    assert who.returncode == 0, who.stderr
    assert "needs no OpenAI account" in who.stdout
    done = codexkit("logout", "--codex-home", codex_home)
    assert done.returncode == 0, done.stderr
    assert not (codex_home / "auth.json").exists()


def test_doctor_reports_a_working_setup(codex_home: Path) -> None:
    done = codexkit("doctor", "--codex-home", codex_home)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    runtime = subprocess.run(
        [find_codex().path, "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    if runtime == PINNED_VERSION:
        assert f"✓ codex version {PINNED_VERSION} (the pinned version)" in out
    else:  # `make compat` against another runtime: a warning, not a failure
        assert f"! codex version {runtime}; codexkit is pinned to {PINNED_VERSION}" in out
    assert f"✓ CODEX_HOME    {codex_home} (--codex-home)" in out
    assert "✓ sign-in       not needed" in out
    assert "✓ sandbox       a read-only sandboxed command ran, and its write was blocked" in out
    assert "Everything essential works." in out


def test_doctor_fails_for_a_missing_codex_home(tmp_path: Path) -> None:
    done = codexkit("doctor", "--codex-home", tmp_path / "missing")
    assert done.returncode == 1
    assert f"✗ CODEX_HOME    {tmp_path / 'missing'} does not exist" in done.stdout
    assert f"mkdir -p {tmp_path / 'missing'}" in done.stdout


def test_demo_runs_the_agent_with_a_command_an_approval_and_a_diff() -> None:
    done = codexkit("demo", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "$ ls && cat notes.txt\n  notes.txt\n  # TODO" in out  # a command and its output
    assert "$ python3 hello.py\n  Hello from codexkit\n  ✓ exit 0" in out
    assert "✎ added hello.py" in out  # the file change, as a diff
    assert '+    print("Hello from codexkit")' in out
    assert "-- [ ] greet the world from Python" in out
    assert "+- [x] greet the world from Python (hello.py)" in out
    assert "The agent wants to run a command" in out  # the approval, answered for the user
    assert "✓ approved automatically (by the demo" in out
    assert "✓ completed in" in out
    assert "+ outbox/greeting.txt" in out
    assert "~ workspace/notes.txt" in out
    scratch = re.search(r"(/\S+codexkit-demo-\S+) is removed again", out)
    assert scratch
    assert not Path(scratch.group(1)).exists()


def test_python_m_codexkit_demo_is_the_same_demo() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "codexkit.demo", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "--interactive" in done.stdout


# -- usage and errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--approval", "sometimes", "hi"],
        ["run", "--no-such-option", "hi"],
        ["run"],
        ["run", "--engine", "exec", "--approval", "on-request", "hi"],
        ["threads", "show"],
    ],
)
def test_bad_usage_exits_2(args: list[str]) -> None:
    done = codexkit(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Usage:" in done.stderr or "Usage:" in done.stdout


def test_a_missing_codex_home_is_one_clear_error(tmp_path: Path) -> None:
    done = codexkit("run", "--codex-home", tmp_path / "nope", "hi")
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: CODEX_HOME {tmp_path / 'nope'} does not exist")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("options", [[], ["--json"]], ids=["view", "json"])
def test_a_reader_that_goes_away_ends_the_command_quietly_with_0(
    tmp_path: Path, workspace: Path, options: list[str]
) -> None:
    reader_gone = threading.Event()

    def answer_once_the_reader_left(request: RecordedRequest) -> Reply:
        # The turn cannot end before `head` is gone, so codexkit writes to a closed
        # pipe every time (here, or earlier), not only when the model happens to be slow.
        reader_gone.wait(30)
        return text("plenty to say " * 2000)

    with ScriptedModel(default=answer_once_the_reader_left) as model:
        home = model.codex_home(tmp_path / "home")
        command = shlex.join(
            [sys.executable, "-m", "codexkit.cli", "run", *options, "--codex-home", str(home),
             "--cwd", str(workspace), "hi"]
        )  # fmt: skip
        # `exec 0<&-` closes the subshell's end of the pipe too, so once "gone" is
        # printed nobody reads what codexkit writes.
        script = f'{command} | {{ head -1; exec 0<&-; echo gone; }}; echo "exit=${{PIPESTATUS[0]}}"'
        shell_run = subprocess.Popen(
            ["bash", "-c", script],
            env={**os.environ, "COLUMNS": "200"},  # the version warning on one line
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert shell_run.stdout is not None
        first_line = shell_run.stdout.readline()
        assert shell_run.stdout.readline() == "gone\n"
        reader_gone.set()
        rest, stderr = shell_run.communicate(timeout=60)
    assert first_line.startswith("{" if options else "thread ")
    assert rest == "exit=0\n", stderr
    assert _without_version_warning(stderr) == ""


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = codexkit("run", "--debug", "--codex-home", tmp_path / "nope", "hi")
    assert done.returncode == 1
    assert "Traceback" in done.stderr


def test_importing_codexkit_does_not_load_the_cli() -> None:
    code = (
        "import sys, codexkit, codexkit.testing; codexkit.AsyncCodex; codexkit.testing.text\n"
        "assert not {'typer', 'rich', 'codexkit.cli'} & set(sys.modules), sorted(sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# -- the exec engine ------------------------------------------------------------------------


def test_exec_engine_streams_the_turn(
    scripted_model: ScriptedModel, codex_home: Path, workspace: Path
) -> None:
    scripted_model.extend([shell("echo via-exec"), text("Ran it through codex exec.")])
    done = _run(codex_home, workspace, "go", "--engine", "exec")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "$ echo via-exec" in done.stdout
    assert "via-exec" in done.stdout
    assert "Ran it through codex exec." in done.stdout
    assert "✓ completed in" in done.stdout


# -- MCP servers ----------------------------------------------------------------------------


KIT = "kit=" + shlex.join(
    [sys.executable, str(Path(__file__).parent / "support" / "mcp_server.py"), "stdio"]
)


def test_run_with_an_mcp_server_asks_before_its_tool_and_shows_the_call(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([mcp_tool_call("kit", "add", {"a": 2, "b": 3}), text("The sum is 5.")])
    done = codexkit(
        "run", "--codex-home", codex_home, "--cwd", tmp_path, "--mcp", KIT,
        "--approval", "auto-accept", "add 2 and 3",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The agent wants to use an MCP tool" in done.stdout
    assert 'kit.add({"a": 2, "b": 3})' in done.stdout
    assert "✓ approved automatically (--approval auto-accept)" in done.stdout
    assert "The sum is 5." in done.stdout
    assert "5" in str(scripted_model.requests[1].function_call_outputs())


def test_run_without_a_terminal_declines_the_tool(
    scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path
) -> None:
    scripted_model.extend([mcp_tool_call("kit", "add", {"a": 2, "b": 3}), text("declined")])
    done = codexkit(
        "run", "--codex-home", codex_home, "--cwd", tmp_path, "--mcp", KIT, "add 2 and 3"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✗ declined automatically" in done.stdout
    assert "rejected" in str(scripted_model.requests[1].function_call_outputs())


def test_mcp_status_lists_tools_and_says_why_a_server_failed(
    codex_home: Path, tmp_path: Path
) -> None:
    broken = f"broken={tmp_path / 'no-such-program'} --flag"
    done = codexkit("mcp", "status", "--codex-home", codex_home, "--mcp", KIT, "--mcp", broken)
    assert done.returncode == 1, done.stdout + done.stderr  # one server failed
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert "ready" in lines["kit"]
    assert "add, boom, count, greet" in lines["kit"]
    assert "+1 resources" in lines["kit"]
    assert "failed" in lines["broken"]
    assert "No such file" in lines["broken"]


def test_mcp_status_json_and_exit_0_when_all_are_up(codex_home: Path) -> None:
    done = codexkit("mcp", "status", "--json", "--codex-home", codex_home, "--mcp", KIT)
    assert done.returncode == 0, done.stdout + done.stderr
    [server] = json.loads(done.stdout)
    assert server["name"] == "kit"
    assert sorted(server["tools"]) == ["add", "boom", "count", "greet"]


def test_mcp_status_without_servers(codex_home: Path) -> None:
    done = codexkit("mcp", "status", "--codex-home", codex_home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No MCP server is configured" in done.stdout


@pytest.mark.parametrize(
    "value", ["kit", "=python x.py", "bad name=python x.py", "kit=https://", "kit='open"]
)
def test_a_bad_mcp_value_is_a_usage_error(value: str, codex_home: Path) -> None:
    done = codexkit("run", "--codex-home", codex_home, "--mcp", value, "hi")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--mcp" in done.stderr


# -- the renderer on its own ------------------------------------------------------------------


def test_the_plan_and_file_changes_render_readably() -> None:
    from codexkit.cli._render import TurnView

    console = Console(record=True, width=100, force_terminal=False)
    view = TurnView(console, cwd="/repo")
    plan = [PlanStep("Read the code", "completed"), PlanStep("Fix the bug", "inProgress")]
    view.show(PlanUpdated("turn/plan/updated", "t", "u", {}, "Two steps", plan))
    change = {
        "type": "fileChange",
        "id": "c1",
        "status": "completed",
        "changes": [
            {
                "path": "/repo/src/a.py",
                "kind": {"type": "update", "move_path": "/repo/src/b.py"},
                "diff": "@@ -1 +1 @@\n-x = 1\n+x = 2\n",
            }
        ],
    }
    view.show(ItemCompleted("item/completed", "t", "u", {}, parse_item(change)))
    shown = console.export_text()
    assert "Two steps" in shown
    assert "✓ Read the code" in shown
    assert "▸ Fix the bug" in shown
    assert "✎ edited src/a.py → src/b.py" in shown
    assert "-x = 1" in shown
    assert "+x = 2" in shown
