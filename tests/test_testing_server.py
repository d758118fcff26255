"""ScriptedModel over plain HTTP (urllib), and ``python -m codexkit.testing``."""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import pytest

import codexkit.testing
from codexkit.testing import (
    NO_REPLY_MESSAGE,
    RecordedRequest,
    ScriptedModel,
    failure,
    shell,
    stall,
    text,
    tool_call,
)

Events = list[tuple[str, dict[str, Any]]]


@pytest.fixture
def model() -> Iterator[ScriptedModel]:
    with ScriptedModel() as running:
        yield running


def body(prompt: str) -> dict[str, Any]:
    """A minimal Responses API request whose user message is `prompt`."""
    message = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": prompt}],
    }
    return {"model": "mock-model", "stream": True, "input": [message]}


def parse_sse(raw: str) -> Events:
    events = []
    for block in raw.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def post(url: str, prompt: str = "hello", timeout: float = 5.0) -> Events:
    data = json.dumps(body(prompt)).encode()
    request = urllib.request.Request(
        f"{url}/responses", data=data, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        assert response.headers["content-type"] == "text/event-stream"
        return parse_sse(response.read().decode())


def open_stream(url: str, prompt: str = "hello") -> http.client.HTTPResponse:
    """Start a request and return the response with its body still unread."""
    host, port = url.removeprefix("http://").removesuffix("/v1").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("POST", "/v1/responses", json.dumps(body(prompt)))
    return conn.getresponse()


def message_text(events: Events) -> str:
    return "".join(d["delta"] for k, d in events if k == "response.output_text.delta")


def test_text_reply_and_recording(model: ScriptedModel) -> None:
    model.add(text("Hello there"))
    events = post(model.url, "say hello")
    assert events[0][0] == "response.created"
    assert events[-1][0] == "response.completed"
    assert message_text(events) == "Hello there"
    (request,) = model.requests
    assert request.last_user_text == "say hello"
    assert request.path == "/v1/responses"
    assert request.headers["content-type"] == "application/json"
    assert model.pending == []


@pytest.mark.parametrize(
    ("reply", "item_type"), [(shell("ls"), "function_call"), (tool_call("t", {}), "function_call")]
)
def test_function_call_replies(model: ScriptedModel, reply: Any, item_type: str) -> None:
    model.add(reply)
    events = post(model.url)
    (item,) = [d["item"] for k, d in events if k == "response.output_item.done"]
    assert item["type"] == item_type
    assert events[-1][0] == "response.completed"


def test_failure_reply(model: ScriptedModel) -> None:
    model.add(failure("nope"))
    events = post(model.url)
    assert events[-1][0] == "response.failed"
    assert events[-1][1]["response"]["error"]["message"] == "nope"


def test_replies_are_taken_in_order(model: ScriptedModel) -> None:
    model.extend([text("one"), text("two")])
    assert message_text(post(model.url)) == "one"
    assert message_text(post(model.url)) == "two"
    assert len(model.wait_for_requests(2, timeout=1)) == 2


def test_no_reply_left_fails_fast(model: ScriptedModel) -> None:
    events = post(model.url, "anyone?")
    assert [k for k, _ in events] == ["response.created", "response.failed"]
    assert events[-1][1]["response"]["error"]["message"] == NO_REPLY_MESSAGE
    assert [r.last_user_text for r in model.unmatched] == ["anyone?"]


def test_match_picks_the_first_reply_the_request_may_take(model: ScriptedModel) -> None:
    model.add(text("for three"), match="thread-3")
    model.add(text("for a question"), match=lambda r: (r.last_user_text or "").endswith("?"))
    model.add(text("for anyone"))
    assert message_text(post(model.url, "plain")) == "for anyone"
    assert message_text(post(model.url, "why?")) == "for a question"
    assert message_text(post(model.url, "on thread-3 now")) == "for three"
    assert model.pending == []


def test_unmatched_replies_stay_pending(model: ScriptedModel) -> None:
    model.add(text("for three"), match="thread-3")
    assert post(model.url, "thread-4")[-1][0] == "response.failed"
    assert [r.match for r in model.pending] == ["thread-3"]


def test_default_answers_when_nothing_is_queued() -> None:
    with ScriptedModel(default=lambda r: text(f"echo: {r.last_user_text}")) as model:
        model.add(text("queued first"))
        assert message_text(post(model.url, "a")) == "queued first"
        assert message_text(post(model.url, "b")) == "echo: b"
        assert model.unmatched == []


def test_a_failing_callable_fails_the_request_and_is_kept() -> None:
    def default(request: RecordedRequest) -> Any:
        raise AssertionError("unexpected request")

    with ScriptedModel(default=default) as model:
        events = post(model.url)
        assert "unexpected request" in events[-1][1]["response"]["error"]["message"]
        assert isinstance(model.errors[0], AssertionError)
    with ScriptedModel(default=lambda r: "not a reply") as model:  # type: ignore[arg-type,return-value]
        assert post(model.url)[-1][0] == "response.failed"
        assert isinstance(model.errors[0], TypeError)


def test_stall_then_text_is_a_slow_model(model: ScriptedModel) -> None:
    model.add(stall(0.2) + text("late"))
    started = time.monotonic()
    assert message_text(post(model.url)) == "late"
    assert time.monotonic() - started >= 0.2


def test_a_stall_that_ends_drops_the_connection(model: ScriptedModel) -> None:
    model.add(stall(0.1))
    with pytest.raises(http.client.IncompleteRead):
        post(model.url)
    model.add(text("still serving"))
    assert message_text(post(model.url)) == "still serving"


def test_stop_ends_a_stall_quickly(model: ScriptedModel) -> None:
    model.add(stall())
    response = open_stream(model.url)
    assert response.readline().startswith(b"event: response.created")
    started = time.monotonic()
    model.stop()
    assert time.monotonic() - started < 1.0
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    model.stop()  # idempotent


def handler_threads() -> int:
    return sum("process_request_thread" in t.name for t in threading.enumerate())


def test_a_stalled_handler_ends_when_the_agent_hangs_up(model: ScriptedModel) -> None:
    model.add(stall())
    baseline = handler_threads()
    response = open_stream(model.url)
    assert response.readline().startswith(b"event: response.created")
    assert handler_threads() > baseline
    response.close()
    deadline = time.monotonic() + 2
    while handler_threads() > baseline and time.monotonic() < deadline:
        time.sleep(0.01)
    assert handler_threads() <= baseline


def test_serves_twenty_requests_at_once(model: ScriptedModel) -> None:
    for i in range(20):
        model.add(stall(0.3) + text(f"reply {i}"), match=f"request {i}:")
    started = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        texts = list(pool.map(lambda i: message_text(post(model.url, f"request {i}:")), range(20)))
    assert texts == [f"reply {i}" for i in range(20)]
    assert time.monotonic() - started < 2.0  # in parallel, not 20 x 0.3 s
    assert len(model.requests) == 20


def test_wait_for_requests_times_out(model: ScriptedModel) -> None:
    with pytest.raises(TimeoutError, match="0 of 1"):
        model.wait_for_requests(1, timeout=0.05)


def test_wait_for_requests_wakes_on_arrival(model: ScriptedModel) -> None:
    model.add(text("x"))
    sender = threading.Timer(0.05, post, args=(model.url,))
    sender.start()
    assert len(model.wait_for_requests(1, timeout=5)) == 1
    sender.join(timeout=5)  # let it read its reply before the server stops


def test_bad_requests_get_4xx(model: ScriptedModel) -> None:
    with pytest.raises(urllib.error.HTTPError) as not_found:
        urllib.request.urlopen(f"{model.url}/models", timeout=5)
    assert not_found.value.code == 404
    bad = urllib.request.Request(f"{model.url}/responses", data=b"{nope")
    with pytest.raises(urllib.error.HTTPError) as bad_json:
        urllib.request.urlopen(bad, timeout=5)
    assert bad_json.value.code == 400
    assert model.requests == []


def test_lifecycle_errors(tmp_path: Path) -> None:
    model = ScriptedModel()
    with pytest.raises(RuntimeError, match="start"):
        _ = model.url
    with pytest.raises(TypeError, match="Reply"):
        model.add("hello")  # type: ignore[arg-type]
    with model:
        with pytest.raises(RuntimeError, match="already running"):
            model.start()
        home = model.codex_home(tmp_path / "home")
        assert model.url in (home / "config.toml").read_text()


# -- python -m codexkit.testing -------------------------------------------------


def read_line(stream: IO[str], timeout: float = 10.0) -> str:
    """One line from `stream`, or fail after `timeout` instead of hanging."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    return lines.get(timeout=timeout)


def run_module(*args: str) -> subprocess.Popen[str]:
    # The checkout's src/ first, so the command runs this code even if not installed.
    src = Path(codexkit.testing.__file__).parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "codexkit.testing", *args]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_module_serves_a_script_until_sigint(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"text": "from the script"}]))
    home = tmp_path / "home"
    proc = run_module(
        "--script", str(script), "--codex-home", str(home), "--sandbox", "workspace-write"
    )
    try:
        assert proc.stdout is not None
        url = read_line(proc.stdout).strip()
        assert url.startswith("http://127.0.0.1:")
        assert message_text(post(url)) == "from the script"
        config = (home / "config.toml").read_text()
        assert url in config
        assert 'sandbox_mode = "workspace-write"' in config
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=5) == 0
    finally:
        proc.kill()
        proc.communicate()


def test_module_rejects_a_bad_script(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"txt": "typo"}]))
    proc = run_module("--script", str(script))
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 2
    assert "entry 0" in err
