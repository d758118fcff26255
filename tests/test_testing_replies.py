"""codexkit.testing without a server: replies, recorded requests, config, scripts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codexkit.testing import (
    RecordedRequest,
    Reply,
    Usage,
    failure,
    json_reply,
    load_script,
    shell,
    stall,
    text,
    tool_call,
    write_codex_home,
)
from codexkit.testing._replies import Pause


def sse(reply: Reply) -> list[tuple[str, dict[str, Any]]]:
    """The events of `reply`, pauses left out."""
    return [e for e in reply.events() if not isinstance(e, Pause)]


def kinds(reply: Reply) -> list[str]:
    return [kind for kind, _ in sse(reply)]


def done_items(reply: Reply) -> list[dict[str, Any]]:
    return [d["item"] for k, d in sse(reply) if k == "response.output_item.done"]


def user(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": list(parts)}


def input_text(s: str) -> dict[str, Any]:
    return {"type": "input_text", "text": s}


# -- replies --------------------------------------------------------------------


def test_text_streams_deltas_then_the_full_message_then_completes() -> None:
    reply = text("one two three four five six")
    assert kinds(reply) == [
        "response.created",
        "response.output_item.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [d["delta"] for k, d in sse(reply) if k == "response.output_text.delta"]
    assert deltas == ["one two ", "three four ", "five six"]
    (item,) = done_items(reply)
    assert item["role"] == "assistant"
    assert item["content"][0] == {
        "type": "output_text",
        "text": "one two three four five six",
        "annotations": [],
    }


@pytest.mark.parametrize(
    ("s", "chunks", "expected"),
    [("abcdef", 3, ["ab", "cd", "ef"]), ("abc", 10, ["a", "b", "c"]), ("abc", 1, ["abc"])],
)
def test_text_chunks_splits_by_characters(s: str, chunks: int, expected: list[str]) -> None:
    deltas = [d["delta"] for k, d in sse(text(s, chunks=chunks)) if k.endswith(".delta")]
    assert deltas == expected


def test_text_edge_cases() -> None:
    assert [d["delta"] for k, d in sse(text("hi")) if k.endswith(".delta")] == ["hi"]
    assert "response.output_text.delta" not in kinds(text(""))
    with pytest.raises(ValueError, match="chunks"):
        text("x", chunks=0)


def test_usage_defaults_and_overrides() -> None:
    completed = sse(text("x"))[-1][1]["response"]
    assert completed["usage"]["input_tokens"] == 10
    assert completed["usage"]["output_tokens"] == 5
    assert completed["usage"]["total_tokens"] == 15
    assert text("x", usage=(7, 3)).usage == Usage(7, 3)
    assert sse(shell("ls").with_usage(100, 1))[-1][1]["response"]["usage"]["total_tokens"] == 101


def test_ids_are_fresh_each_time_a_reply_is_rendered() -> None:
    reply = text("a") + shell("ls")
    first, second = sse(reply), sse(reply)
    ids = {json.dumps(first[0][1]), json.dumps(second[0][1])}
    assert len(ids) == 2  # response ids differ
    calls = [item["call_id"] for r in (reply, reply) for item in done_items(r)[1:]]
    assert calls[0] != calls[1]
    assert done_items(shell("ls", call_id="c1"))[0]["call_id"] == "c1"


def test_shell_arguments() -> None:
    (item,) = done_items(shell("echo hi"))
    assert item["type"] == "function_call"
    assert item["name"] == "exec_command"
    assert json.loads(item["arguments"]) == {"cmd": "echo hi", "login": False}
    (item,) = done_items(shell("rm x", workdir="/w", escalate=True, justification="why"))
    assert json.loads(item["arguments"]) == {
        "cmd": "rm x",
        "login": False,
        "workdir": "/w",
        "sandbox_permissions": "require_escalated",
        "justification": "why",
    }


def test_tool_call_and_json_reply() -> None:
    (item,) = done_items(tool_call("add", {"a": 1}, call_id="c9", namespace="math"))
    assert (item["name"], item["call_id"], item["namespace"]) == ("add", "c9", "math")
    assert json.loads(item["arguments"]) == {"a": 1}
    (message,) = done_items(json_reply({"answer": 42}))
    assert json.loads(message["content"][0]["text"]) == {"answer": 42}


def test_failure_and_stall() -> None:
    events = sse(failure("nope", code="rate_limit_exceeded"))
    assert [k for k, _ in events] == ["response.created", "response.failed"]
    response = events[1][1]["response"]
    assert response["error"] == {"code": "rate_limit_exceeded", "message": "nope"}
    assert response["id"] == events[0][1]["response"]["id"]
    stalled = stall(2).events()
    assert stalled[1:] == [Pause(2)]
    assert kinds(stall()) == ["response.created"]  # never completes
    with pytest.raises(ValueError, match="negative"):
        stall(-1)


def test_combining_puts_items_in_one_response() -> None:
    reply = text("Let me look.") + shell("ls") + tool_call("add", {})
    assert [i["type"] for i in done_items(reply)] == ["message", "function_call", "function_call"]
    assert kinds(reply).count("response.created") == 1
    assert kinds(reply)[-1] == "response.completed"
    assert kinds(text("partial") + stall())[-1] == "response.output_item.done"  # stalls mid-turn
    assert kinds(stall(0.1) + text("late"))[-1] == "response.completed"
    assert kinds(text("a") + failure())[-1] == "response.failed"


def test_nothing_follows_a_final_step() -> None:
    with pytest.raises(ValueError, match="nothing can follow"):
        failure() + text("x")
    with pytest.raises(ValueError, match="nothing can follow"):
        stall() + text("x")
    with pytest.raises(ValueError, match="different matches"):
        text("a").matching("x") + text("b").matching("y")
    assert (text("a").matching("x") + text("b")).match == "x"


def test_matching() -> None:
    request = RecordedRequest({"input": [user(input_text("please do thread-3 work"))]})
    assert text("x").matches(request)
    assert text("x").matching("thread-3").matches(request)
    assert not text("x").matching("thread-4").matches(request)
    assert text("x").matching(lambda r: r.model is None).matches(request)
    assert not text("x").matching("x").matches(RecordedRequest({"input": []}))


# -- recorded requests ----------------------------------------------------------

ENVIRONMENT = "<environment_context>\n  <cwd>/w</cwd>\n</environment_context>"
AGENTS = "# AGENTS.md instructions for /w\n\n<INSTRUCTIONS>\nBe nice.\n</INSTRUCTIONS>"

# The shape codex 0.163.0 sends, trimmed: developer messages, the injected
# context, the prompt (here with an image), then a tool call and its output.
BODY: dict[str, Any] = {
    "model": "mock-model",
    "stream": True,
    "input": [
        {"type": "message", "role": "developer", "content": [input_text("You are Codex.")]},
        user(input_text(AGENTS), input_text(ENVIRONMENT)),
        user(
            input_text('<image name=[Image #1] path="/w/a.png">'),
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "high"},
            input_text("</image>"),
            input_text("what is this?"),
        ),
        {"type": "function_call", "name": "exec_command", "arguments": "{}", "call_id": "c1"},
        {"type": "function_call_output", "call_id": "c1", "output": "hi\n"},
    ],
    "tools": [
        {"type": "function", "name": "exec_command"},
        {"type": "namespace", "name": "math", "tools": []},
        {"type": "web_search"},
    ],
    "text": {"format": {"type": "json_schema", "name": "s", "schema": {"type": "object"}}},
}


def test_recorded_request_helpers() -> None:
    request = RecordedRequest(BODY)
    assert request.model == "mock-model"
    assert len(request.input) == 5
    assert request.last_user_text == "what is this?"
    assert request.user_texts()[:2] == [AGENTS, ENVIRONMENT]
    assert request.user_texts()[-1] == "what is this?"
    assert request.function_call_outputs() == [BODY["input"][4]]
    assert request.function_calls()[0]["call_id"] == "c1"
    assert request.tools == ["exec_command", "math", "web_search"]
    assert request.output_schema == {"type": "object"}
    assert request.images() == ["data:image/png;base64,AAAA"]


def test_recorded_request_tolerates_odd_bodies() -> None:
    empty = RecordedRequest({})
    assert (empty.input, empty.model, empty.tools, empty.images()) == ([], None, [], [])
    assert empty.last_user_text is None
    assert empty.output_schema is None
    only_context = RecordedRequest({"input": [user(input_text(ENVIRONMENT))]})
    assert only_context.last_user_text is None
    several = RecordedRequest({"input": [user(input_text("a"), input_text("b"))]})
    assert several.last_user_text == "a\nb"
    bare = RecordedRequest({"input": [{"role": "user", "content": "plain"}]})
    assert bare.last_user_text == "plain"


# -- config.toml ----------------------------------------------------------------


def test_write_codex_home(tmp_path: Path) -> None:
    tomllib = pytest.importorskip("tomllib")
    home = write_codex_home(
        tmp_path / "h",
        "http://127.0.0.1:9/v1",
        approval_policy="on-request",
        extra_config={
            "model": "gpt-x",
            "features": {"web_search": False},
            "notify": ["a", 'q"uote\u007f'],
            "weird key": 1.5,
            "model_providers": {"codexkit-scripted": {"stream_idle_timeout_ms": 1000}},
        },
    )
    config = tomllib.loads((home / "config.toml").read_text())
    assert config["model"] == "gpt-x"
    assert config["approval_policy"] == "on-request"
    assert config["sandbox_mode"] == "read-only"
    provider = config["model_providers"][config["model_provider"]]
    assert provider["base_url"] == "http://127.0.0.1:9/v1"
    assert provider["wire_api"] == "responses"
    assert provider["stream_max_retries"] == 0
    assert provider["stream_idle_timeout_ms"] == 1000
    assert config["features"] == {"web_search": False}
    assert config["notify"] == ["a", 'q"uote\u007f']
    assert config["weird key"] == 1.5


def test_write_codex_home_rejects_what_toml_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="null"):
        write_codex_home(tmp_path, "http://x/v1", extra_config={"model": None})
    with pytest.raises(TypeError, match="object"):
        write_codex_home(tmp_path, "http://x/v1", extra_config={"model": object()})


# -- script files ---------------------------------------------------------------


def write_script(tmp_path: Path, entries: Any) -> Path:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(entries))
    return path


def test_load_script_builds_every_kind(tmp_path: Path) -> None:
    path = write_script(
        tmp_path,
        [
            {"text": "Hello", "chunks": 2},
            {"shell": "echo hi", "match": "run it", "call_id": "c1"},
            {"tool": "add", "arguments": {"a": 1}},
            {"json": {"answer": 42}},
            {"fail": "boom", "code": "server_error"},
            {"stall": 5},
            {"stall": None},
            [{"text": "Let me check."}, {"shell": "ls"}],
            {"text": "t", "usage": [1, 2]},
        ],
    )
    replies = load_script(path)
    assert len(replies) == 9
    assert [d["delta"] for k, d in sse(replies[0]) if k.endswith(".delta")] == ["He", "llo"]
    assert replies[1].match == "run it"
    assert done_items(replies[1])[0]["call_id"] == "c1"
    assert json.loads(done_items(replies[2])[0]["arguments"]) == {"a": 1}
    assert json.loads(done_items(replies[3])[0]["content"][0]["text"]) == {"answer": 42}
    assert kinds(replies[4])[-1] == "response.failed"
    assert replies[5].events()[-1] == Pause(5)
    assert replies[6].events()[-1] == Pause(None)
    assert [i["type"] for i in done_items(replies[7])] == ["message", "function_call"]
    assert replies[8].usage == Usage(1, 2)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"text": "x"}, "must be a JSON list"),
        ([{"text": "ok"}, {"txt": "x"}], "entry 1: needs exactly one of"),
        ([{"text": "x", "shell": "y"}], "entry 0: needs exactly one of"),
        ([{"text": 3}], "entry 0: 'text' must be a str"),
        ([{"text": "x", "color": "red"}], "entry 0: unknown keys \\['color'\\]"),
        ([{"stall": "long"}], "entry 0: 'stall' must be a number"),
        ([{"text": "x", "usage": [1]}], "entry 0: 'usage' must be"),
        (["hello"], "entry 0: expected an object"),
        ([[]], "entry 0: an empty list"),
        ([{"text": "a"}, [{"fail": "x"}, {"text": "y"}]], "entry 1: nothing can follow"),
        ([[{"text": "a"}, {"shell": 1}]], "entry 0\\[1\\]: 'shell' must be a str"),
    ],
)
def test_load_script_names_the_bad_entry(tmp_path: Path, entries: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_script(write_script(tmp_path, entries))


def test_load_script_rejects_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("[{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_script(path)
