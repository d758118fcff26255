"""The generated protocol layer: drift, import cost, method tables, real payloads."""

from __future__ import annotations

import difflib
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import codexkit.protocol as protocol
from codexkit.protocol import (
    AgentMessageThreadItem,
    ClientInfo,
    InitializeCapabilities,
    InitializeParams,
    InitializeResponse,
    ItemCompletedNotification,
    TextUserInput,
    ThreadReadParams,
    ThreadReadResponse,
    ThreadStartedNotification,
    ThreadStartParams,
    ThreadStartResponse,
    TurnStartParams,
    UnknownVariant,
)

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "generate_protocol.py"
GENERATED = REPO / "src" / "codexkit" / "protocol" / "_generated"
TIMEOUT = 30.0


def codex_bin() -> str:
    from codex_cli_bin import bundled_codex_path

    return str(bundled_codex_path())


@pytest.fixture(scope="module")
def schema_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("schema")
    subprocess.run(
        [codex_bin(), "app-server", "generate-json-schema", "--experimental", "--out", out],
        check=True,
        capture_output=True,
    )
    return out


def schema_methods(schema_dir: Path, union: str) -> list[str]:
    data = json.loads((schema_dir / f"{union}.json").read_text(encoding="utf-8"))
    return [v["properties"]["method"]["enum"][0] for v in data["oneOf"]]


# --------------------------------------------------------------------------- generated code


def first_difference(name: str, committed: str, fresh: str) -> str:
    diff = difflib.unified_diff(
        committed.splitlines(),
        fresh.splitlines(),
        f"committed/{name}",
        f"regenerated/{name}",
        lineterm="",
    )
    return "\n".join(list(diff)[:40])


def test_generated_code_matches_generator(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, SCRIPT, "--codex-bin", codex_bin(), "--out", tmp_path],
        check=True,
        capture_output=True,
    )
    committed = {p.name: p for p in GENERATED.glob("*.py")}
    fresh = {p.name: p for p in tmp_path.glob("*.py")}
    assert sorted(committed) == sorted(fresh), "generated file set changed: rerun the script"
    for name in sorted(fresh):
        old = committed[name].read_text(encoding="utf-8")
        new = fresh[name].read_text(encoding="utf-8")
        if old != new:
            pytest.fail(
                f"{name} differs from a fresh run of {SCRIPT.name}; rerun it.\n"
                + first_difference(name, old, new)
            )


def run_python(code: str) -> Any:
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out)


def test_import_is_cheap_and_lazy() -> None:
    result = run_python(
        "import json, sys, time\n"
        "start = time.process_time()\n"  # CPU time: steady on a busy machine
        "import codexkit.protocol as p\n"
        "took = time.process_time() - start\n"
        "loaded = lambda: sorted(m for m in sys.modules if m == 'pydantic' or '.models' in m)\n"
        "before = loaded()\n"
        "p.ThreadStartParams\n"
        "core = loaded()\n"
        "p.ConfigReadParams\n"
        "print(json.dumps([took, before, core, loaded()]))\n"
    )
    took, before, core, everything = result
    gen = "codexkit.protocol._generated"
    assert before == []
    assert took < 0.25, f"import codexkit.protocol took {took:.3f}s"
    assert core == [f"{gen}.models_core", "pydantic"]
    assert everything == [f"{gen}.models_core", f"{gen}.models_rest", "pydantic"]


def test_dir_lists_lazy_models() -> None:
    names = dir(protocol)
    assert "ThreadStartParams" in names
    assert "parse_notification" in names
    assert set(protocol.__all__) <= set(names)
    with pytest.raises(AttributeError):
        _ = protocol.NoSuchModel  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- method tables


def test_tables_cover_the_schema(schema_dir: Path) -> None:
    client = schema_methods(schema_dir, "ClientRequest")
    server = schema_methods(schema_dir, "ServerRequest")
    notes = schema_methods(schema_dir, "ServerNotification")
    assert list(protocol.CLIENT_REQUESTS) == client
    assert list(protocol.SERVER_REQUESTS) == server
    assert list(protocol.NOTIFICATIONS) == notes
    assert list(protocol.CLIENT_NOTIFICATIONS) == schema_methods(schema_dir, "ClientNotification")
    assert protocol.SCHEMA_VERSION == "0.163.0"
    assert (len(client), len(server), len(notes)) == (172, 11, 85)
    assert {"applyPatchApproval", "execCommandApproval", "item/tool/call"} <= set(server)


def method_models() -> list[type[BaseModel] | None]:
    models: list[type[BaseModel] | None] = []
    for method in protocol.CLIENT_REQUESTS:
        models.extend(protocol.client_request_types(method))
    for method in protocol.SERVER_REQUESTS:
        types = protocol.server_request_types(method)
        assert types is not None, method
        models.extend(types)
    models.extend(protocol.notification_type(method) for method in protocol.NOTIFICATIONS)
    return models


def test_every_method_has_models() -> None:
    models = method_models()
    assert None not in models
    assert all(isinstance(m, type) and issubclass(m, BaseModel) for m in models)


def test_every_method_model_builds() -> None:
    # Models are built on first use; build them all so that no annotation is left broken.
    for model in dict.fromkeys(method_models()):
        assert model is not None
        model.model_rebuild(force=True)


def test_result_types_follow_the_server() -> None:
    # Methods whose result type is named after neither params nor method.
    assert protocol.CLIENT_REQUESTS["config/value/write"][1] == "ConfigWriteResponse"
    assert protocol.CLIENT_REQUESTS["account/logout"] == ("EmptyParams", "LogoutAccountResponse")
    assert protocol.CLIENT_REQUESTS["thread/start"] == ("ThreadStartParams", "ThreadStartResponse")
    assert "memory/reset" in protocol.PARAMS_OPTIONAL


def test_unknown_methods() -> None:
    assert protocol.parse_notification("thread/teleported", {"x": 1}) is None
    assert protocol.notification_type("thread/teleported") is None
    assert not protocol.is_known_notification("thread/teleported")
    assert protocol.server_request_types("item/teleport/requestApproval") is None
    assert protocol.parse_server_request("item/teleport/requestApproval", {}) is None
    with pytest.raises(KeyError):
        protocol.client_request_types("thread/teleport")


# --------------------------------------------------------------------------- forward compat


def test_unknown_union_member_and_enum_value() -> None:
    note = ItemCompletedNotification.model_validate(
        {
            "threadId": "t",
            "turnId": "u",
            "completedAtMs": 1,
            "item": {"type": "hologram", "id": "i1", "depth": 3},
        }
    )
    assert isinstance(note.item, UnknownVariant)
    assert note.item.model_extra == {"type": "hologram", "id": "i1", "depth": 3}
    assert protocol.to_wire(note)["item"] == {"type": "hologram", "id": "i1", "depth": 3}
    params = ThreadStartParams.model_validate({"approvalPolicy": "sometimes"})
    assert params.approval_policy == "sometimes"


def test_known_union_member_is_checked() -> None:
    payload = {"type": "agentMessage", "id": "i1", "text": "hi"}
    note = ItemCompletedNotification.model_validate(
        {"threadId": "t", "turnId": "u", "completedAtMs": 1, "item": payload}
    )
    assert isinstance(note.item, AgentMessageThreadItem)
    assert note.item.text == "hi"


def test_to_wire_uses_wire_names_and_keeps_tags() -> None:
    params = TurnStartParams(thread_id="t1", input=[TextUserInput(text="hi")])
    assert protocol.to_wire(params) == {
        "threadId": "t1",
        "input": [{"type": "text", "text": "hi"}],
    }
    assert protocol.to_wire(ThreadStartParams()) == {}


# --------------------------------------------------------------------------- real server


class AppServer:
    """A real ``codex app-server`` on stdio, read by a thread into a queue."""

    def __init__(self, home: Path) -> None:
        self.proc = subprocess.Popen(
            [codex_bin(), "app-server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "CODEX_HOME": os.fspath(home)},
            cwd=home,
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.notifications: list[dict[str, Any]] = []
        self.last_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def next(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.lines.get(timeout=TIMEOUT))
        if "id" not in message:
            self.notifications.append(message)
        return message

    def request(self, method: str, params: BaseModel) -> Any:
        self.last_id += 1
        request_id = self.last_id
        self.send({"id": request_id, "method": method, "params": protocol.to_wire(params)})
        while (message := self.next()).get("id") != request_id or "method" in message:
            pass
        assert "result" in message, message
        return message["result"]

    def notification(self, method: str) -> dict[str, Any]:
        for message in self.notifications:
            if message["method"] == method:
                return message
        while (message := self.next()).get("method") != method:
            pass
        return message

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=TIMEOUT)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    home = tmp_path_factory.mktemp("codex-home")
    # A provider on a closed port: thread/start needs a configured model, never a call.
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\napproval_policy = "never"\n'
        'sandbox_mode = "read-only"\n[model_providers.mock]\nname = "mock"\n'
        'base_url = "http://127.0.0.1:9/v1"\nwire_api = "responses"\n'
    )
    app = AppServer(home)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture(scope="module")
def handshake(server: AppServer) -> dict[str, Any]:
    params = InitializeParams(
        client_info=ClientInfo(name="codexkit-tests", title="codexkit tests", version="0"),
        capabilities=InitializeCapabilities(experimental_api=True),
    )
    result: dict[str, Any] = server.request("initialize", params)
    server.send({"method": "initialized"})
    return result


@pytest.fixture(scope="module")
def started(server: AppServer, handshake: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = server.request("thread/start", ThreadStartParams())
    return result


def test_initialize_result_validates(handshake: dict[str, Any]) -> None:
    model = protocol.parse_result("initialize", handshake)
    assert isinstance(model, InitializeResponse)
    assert protocol.to_wire(model) == handshake


def test_thread_start_result_validates(started: dict[str, Any]) -> None:
    model = protocol.parse_result("thread/start", started)
    assert isinstance(model, ThreadStartResponse)
    assert model.thread.id == started["thread"]["id"]
    assert protocol.to_wire(model) == started


def test_thread_started_notification_validates(server: AppServer, started: dict[str, Any]) -> None:
    message = server.notification("thread/started")
    model = protocol.parse_notification(message["method"], message["params"])
    assert isinstance(model, ThreadStartedNotification)
    assert model.thread.id == started["thread"]["id"]
    assert protocol.to_wire(model) == message["params"]


def test_every_notification_seen_validates(server: AppServer, started: dict[str, Any]) -> None:
    server.notification("thread/started")
    assert len(server.notifications) >= 2
    for message in server.notifications:
        model = protocol.parse_notification(message["method"], message["params"])
        assert model is not None, message["method"]
        assert protocol.to_wire(model) == message["params"], message["method"]


def test_unknown_fields_are_kept(started: dict[str, Any]) -> None:
    payload = {**started, "teleport": {"enabled": True}}
    payload["thread"] = {**started["thread"], "gravityWell": 3}
    model = ThreadStartResponse.model_validate(payload)
    assert model.model_extra == {"teleport": {"enabled": True}}
    assert model.thread.model_extra == {"gravityWell": 3}
    assert protocol.to_wire(model) == payload


@pytest.mark.parametrize(
    "method",
    [
        "model/list",
        "thread/list",
        "thread/loaded/list",
        "config/read",
        "configRequirements/read",
        "account/gatewayOAuth/read",
        "remoteControl/status/read",
    ],
)
def test_read_only_results_validate(
    server: AppServer, handshake: dict[str, Any], method: str
) -> None:
    params, _ = protocol.client_request_types(method)
    result = server.request(method, params())
    model = protocol.parse_result(method, result)
    assert model is not None
    assert protocol.to_wire(model) == result


def test_thread_read_result_validates(server: AppServer, started: dict[str, Any]) -> None:
    params = ThreadReadParams(thread_id=started["thread"]["id"])
    result = server.request("thread/read", params)
    model = protocol.parse_result("thread/read", result)
    assert isinstance(model, ThreadReadResponse)
    assert protocol.to_wire(model) == result


# -- the SDK's own requests against the pinned schema ------------------------------------


def test_every_method_the_sdk_sends_is_in_the_pinned_schema() -> None:
    """Every literal method name passed to a request in the SDK's source is a client
    request of the pinned schema (mypy checks the same through ``ClientMethod``)."""
    import ast

    from codexkit.protocol import CLIENT_REQUESTS

    src = Path(__file__).resolve().parents[1] / "src" / "codexkit"
    sent: dict[str, str] = {}
    for path in src.rglob("*.py"):
        if "_generated" in path.parts or "testing" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "request"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                sent[node.args[0].value] = f"{path.relative_to(src)}:{node.lineno}"
    assert len(sent) > 20  # the scan sees the SDK's requests
    unknown = {method: where for method, where in sent.items() if method not in CLIENT_REQUESTS}
    assert unknown == {}


def test_the_request_check_refuses_what_the_schema_refuses() -> None:
    from codexkit import InvalidParamsError, MethodNotFoundError
    from codexkit._client.router import _check

    _check("turn/start", {"threadId": "t", "input": [{"type": "text", "text": "hi"}]})
    with pytest.raises(InvalidParamsError, match="turn/start"):
        _check("turn/start", {"threadId": "t"})  # no input
    with pytest.raises(InvalidParamsError):
        _check("turn/start", {"threadId": "t", "input": "a string, not a list of inputs"})
    with pytest.raises(MethodNotFoundError):
        _check("thread/strat", {})


def test_the_suite_checks_every_request() -> None:
    """The conftest turns the check on for every test (and the processes they start)."""
    assert os.environ.get("CODEXKIT_VALIDATE_REQUESTS") == "1"
