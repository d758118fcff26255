"""Pure units: binary resolution, config overrides, inputs, items, events."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from codexkit import (
    AgentMessageItem,
    CodexNotFoundError,
    CommandExecutionItem,
    ImageInput,
    LocalImageInput,
    Notification,
    TextInput,
    UnknownItem,
    find_codex,
)
from codexkit._runtime.binary import PINNED_VERSION, CodexBinary, check_version
from codexkit._runtime.config import config_overrides
from codexkit._runtime.toml import toml_value
from codexkit.events import PlanUpdated, TurnFailed, parse_event
from codexkit.types import normalize_input, parse_item


def _executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_explicit_binary_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEXKIT_CODEX_BIN", str(_executable(tmp_path / "from-env")))
    chosen = find_codex(_executable(tmp_path / "explicit"))
    assert chosen.path == str(tmp_path / "explicit")
    assert chosen.source == "argument"


def test_environment_variable_comes_before_the_bundled_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEXKIT_CODEX_BIN", str(_executable(tmp_path / "from-env")))
    assert find_codex().source == "CODEXKIT_CODEX_BIN"


def test_bundled_binary_is_found_with_its_path_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CODEXKIT_CODEX_BIN", raising=False)
    chosen = find_codex()
    assert chosen.source == "bundled"
    assert chosen.path_dirs, "the bundled runtime's helper directory goes on PATH"
    env = chosen.child_env({"PATH": "/usr/bin"})
    assert env["PATH"].split(os.pathsep) == [*chosen.path_dirs, "/usr/bin"]
    version = subprocess.run([chosen.path, "--version"], capture_output=True, text=True).stdout
    assert PINNED_VERSION in version


def test_nothing_found_names_every_place_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEXKIT_CODEX_BIN", str(tmp_path / "missing"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "codex_cli_bin", None)  # as if not installed
    with pytest.raises(CodexNotFoundError) as caught:
        find_codex()
    message = str(caught.value)
    assert "CODEXKIT_CODEX_BIN" in message
    assert "openai-codex-cli-bin is not installed" in message
    assert "`codex` on PATH" in message
    assert len(caught.value.tried) == 3


def test_a_bad_explicit_binary_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CodexNotFoundError, match="not an executable"):
        find_codex(tmp_path / "nope")


def test_other_version_warns_but_does_not_fail(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="codexkit")
    binary = CodexBinary("/x/codex", "argument")
    assert check_version("codexkit/9.9.9 (Linux)", binary) == "9.9.9"
    assert "not the pinned version" in caplog.text
    caplog.clear()
    assert check_version(f"codexkit/{PINNED_VERSION} (Linux)", binary) == PINNED_VERSION
    assert caplog.text == ""


def test_config_becomes_dotted_toml_overrides() -> None:
    args = config_overrides(
        {
            "model": "gpt-x",
            "features": {"web_search": True, "depth": 3},
            "sandbox_workspace_write": {"writable_roots": ["/a", "/b"]},
            "odd key": 'quote " and \n newline',
            "ratio": 0.5,
            "mcp": {"env": {}},
        }
    )
    pairs = args[1::2]
    assert args[0::2] == ["-c"] * len(pairs)
    assert pairs == [
        'model="gpt-x"',
        "features.web_search=true",
        "features.depth=3",
        'sandbox_workspace_write.writable_roots=["/a", "/b"]',
        '"odd key"="quote \\" and \\n newline"',
        "ratio=0.5",
        "mcp.env={}",
    ]


def test_toml_values_round_trip_through_a_toml_parser() -> None:
    tomllib = pytest.importorskip("tomllib")
    value = {"s": "tab\there ✓", "n": -4, "f": 1e-3, "l": [1, "x", {"k": False}]}
    assert tomllib.loads(f"v = {toml_value(value)}")["v"] == value
    with pytest.raises(TypeError, match="TOML"):
        toml_value(object())


def test_inputs_normalize_to_the_wire_shape(tmp_path: Path) -> None:
    image = tmp_path / "pic.png"
    assert normalize_input("hi") == [{"type": "text", "text": "hi", "text_elements": []}]
    wire = normalize_input(
        ["look", ImageInput("https://x/y.png", detail="low"), LocalImageInput(image)]
    )
    assert wire[1] == {"type": "image", "url": "https://x/y.png", "detail": "low"}
    assert wire[2] == {"type": "localImage", "path": str(image)}
    assert normalize_input(TextInput("one"))[0]["text"] == "one"
    with pytest.raises(ValueError, match="at least one"):
        normalize_input([])
    with pytest.raises(TypeError, match="turn input"):
        normalize_input([42])  # type: ignore[list-item]


def test_items_parse_to_typed_objects_and_unknown_ones_stay_raw() -> None:
    message = parse_item({"type": "agentMessage", "id": "m", "text": "hi", "phase": None})
    assert isinstance(message, AgentMessageItem)
    assert message.text == "hi"
    command = parse_item(
        {
            "type": "commandExecution",
            "id": "c",
            "command": "ls",
            "status": "completed",
            "exitCode": 0,
            "aggregatedOutput": "a\n",
            "cwd": "/",
            "durationMs": 3,
        }
    )
    assert isinstance(command, CommandExecutionItem)
    assert command.exit_code == 0
    future = parse_item({"type": "hologram", "id": "h", "depth": 3})
    assert isinstance(future, UnknownItem)
    assert future.raw["depth"] == 3
    broken = parse_item({"type": "fileChange", "id": "f", "changes": 5})
    assert isinstance(broken, UnknownItem)


def test_events_parse_and_odd_payloads_never_raise() -> None:
    plan = parse_event(
        "turn/plan/updated",
        {"threadId": "t", "turnId": "u", "plan": [{"step": "a", "status": "pending"}]},
        {},
    )
    assert isinstance(plan, PlanUpdated)
    assert plan.plan[0].step == "a"
    failed = parse_event(
        "turn/completed",
        {"threadId": "t", "turn": {"id": "u", "status": "failed", "error": {"message": "x"}}},
        {},
    )
    assert isinstance(failed, TurnFailed)
    assert failed.turn_id == "u"
    odd = parse_event("turn/plan/updated", {"plan": 7}, {"method": "turn/plan/updated"})
    assert isinstance(odd, Notification)


def test_events_validate_into_generated_models_on_demand() -> None:
    params = {"threadId": "t", "turnId": "u", "itemId": "m", "delta": "hi", "future": 1}
    event = parse_event("item/agentMessage/delta", params, {"params": params})
    model = event.model()
    assert type(model).__name__ == "AgentMessageDeltaNotification"
    assert model is not None
    assert model.model_extra == {"future": 1}
    unknown = parse_event("future/thing", {}, {"method": "future/thing", "params": {}})
    assert unknown.model() is None


def test_every_server_request_kind_of_the_protocol_has_a_default_answer() -> None:
    from codexkit._client.server_requests import SERVER_REQUEST_METHODS
    from codexkit.protocol import SERVER_REQUESTS

    assert set(SERVER_REQUESTS) == SERVER_REQUEST_METHODS


async def test_default_answers_validate_against_the_protocol_response_models() -> None:
    from codexkit import RpcError, ServerRequest
    from codexkit._client.server_requests import SERVER_REQUEST_METHODS, default_response
    from codexkit.protocol import server_request_types

    refused = set()
    for method in sorted(SERVER_REQUEST_METHODS):
        types = server_request_types(method)
        assert types is not None
        try:
            answer = await default_response(ServerRequest(0, method, {"tool": "x"}))
        except RpcError:
            refused.add(method)
            continue
        assert types[1] is not None
        types[1].model_validate(answer)  # raises if the shape is wrong
    # Only the two requests that need credentials the client does not hold are refused.
    assert refused == {"account/chatgptAuthTokens/refresh", "attestation/generate"}


def test_file_changes_keep_their_move_target() -> None:
    from codexkit import FileChangeItem

    item = parse_item(
        {
            "type": "fileChange",
            "id": "f",
            "status": "completed",
            "changes": [
                {"path": "a.py", "kind": {"type": "update", "move_path": "b.py"}, "diff": "@@"},
                {"path": "c.py", "kind": {"type": "add"}, "diff": "x"},
            ],
        }
    )
    assert isinstance(item, FileChangeItem)
    assert [(c.kind, c.move_path) for c in item.changes] == [("update", "b.py"), ("add", None)]


def test_commands_show_without_the_shell_codex_wraps_them_in() -> None:
    from codexkit.types import unwrap_shell

    assert unwrap_shell("/bin/bash -lc 'ls -la'") == "ls -la"
    assert unwrap_shell("""/bin/bash -c "echo 'hi' > x" """) == "echo 'hi' > x"
    assert unwrap_shell("git status") == "git status"
    item = parse_item(
        {"type": "commandExecution", "id": "c", "command": "bash -lc 'make test'", "status": "x"}
    )
    assert isinstance(item, CommandExecutionItem)
    assert item.display_command == "make test"
