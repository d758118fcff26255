"""A real ``codexkit serve`` (real binary, scripted model) through its REST API: the
contract's error bodies, the served OpenAPI document, and each route group that passes
the runtime's own answers through."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.serve import ServeProcess, run_serve

from codexkit.contract import OPERATIONS, load_openapi
from codexkit.server.routes.automation import NOT_READY
from codexkit.testing import ScriptedModel

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def server(
    model: ScriptedModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("serve-api")
    with ServeProcess.scripted(model, root) as running:
        yield running


@pytest.fixture
def client(server: ServeProcess) -> Iterator[httpx.Client]:
    with server.client() as opened:
        yield opened


def _error(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    body: dict[str, Any] = answer.json()
    assert answer.status_code == status, body
    assert body["status"] == "error"
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert "detail" not in body
    return body


# -- errors are the contract's bodies ------------------------------------------------------


def test_invalid_input_is_400_with_the_issues_listed(client: httpx.Client) -> None:
    missing = _error(client.post("/api/skills/config", json={"path": "x"}), 400, "invalid_request")
    assert [(i["in"], i["path"]) for i in missing["issues"]] == [("body", ["enabled"])]
    wrong_type = _error(
        client.post("/api/commands/exec", json={"command": "echo hi"}), 400, "invalid_request"
    )
    assert wrong_type["issues"][0]["path"] == ["command"]
    query = _error(client.get("/api/models?limit=500"), 400, "invalid_request")
    assert query["issues"][0] == {
        "code": "less_than_equal",
        "path": ["limit"],
        "in": "query",
        "message": "Input should be less than or equal to 200",
    }
    not_json = client.post(
        "/api/skills/config", content=b"{nope", headers={"content-type": "application/json"}
    )
    _error(not_json, 400, "invalid_request")
    empty = _error(client.post("/api/skills/config"), 400, "invalid_request")
    assert empty["issues"][0]["path"] == []  # the body itself is missing


def test_unknown_route_405_and_oversized_body_are_contract_bodies(client: httpx.Client) -> None:
    _error(client.get("/api/no-such-route"), 404, "not_found")
    _error(client.delete("/api/models"), 405, "method_not_allowed")
    huge = {"command": ["echo", "x" * (1024 * 1024)]}
    _error(client.post("/api/commands/exec", json=huge), 413, "payload_too_large")


def test_oversized_streamed_body_is_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"command": ["echo", "'
        for _ in range(40):
            yield b"x" * 32768
        yield b'"]}'

    answer = client.post(
        "/api/commands/exec", content=chunks(), headers={"content-type": "application/json"}
    )
    _error(answer, 413, "payload_too_large")


def test_bodiless_posts_are_accepted(server: ServeProcess) -> None:
    # As codex-manager's clients send them: Content-Length 0 and no content type.
    raw = httpx.Request("POST", server.api + "/mcp/reload", headers=server.headers)
    raw.headers.pop("content-type", None)
    assert raw.headers["content-length"] == "0"
    with httpx.Client(timeout=30.0) as plain:
        answer = plain.send(raw)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "ok", "result": {}}
    # And a JSON body sent without a content type is read as JSON.
    with httpx.Client(timeout=30.0) as plain:
        typed_less = plain.post(
            server.api + "/skills/config",
            content=b'{"path": "/nowhere/SKILL.md", "enabled": false}',
            headers=server.headers,
        )
    assert typed_less.status_code == 200, typed_less.text


# -- the served OpenAPI document ----------------------------------------------------------


def _body_fields(schema: dict[str, Any], components: dict[str, Any]) -> set[str]:
    """Every property name of a body schema, through $ref, anyOf and oneOf."""
    if "$ref" in schema:
        return _body_fields(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    found = set(schema.get("properties", {}))
    for key in ("anyOf", "oneOf", "allOf"):
        for member in schema.get(key, []):
            found |= _body_fields(member, components)
    return found


def test_served_openapi_has_every_path_method_and_request_field_of_the_contract(
    client: httpx.Client,
) -> None:
    served = client.get("/api/openapi.json").json()
    components = served.get("components", {}).get("schemas", {})
    contract = load_openapi()
    contract_components = contract["components"]["schemas"]
    served_ops = {
        (method.upper(), path): op
        for path, methods in served["paths"].items()
        for method, op in methods.items()
    }
    routed = [o for o in OPERATIONS.values() if (o.method, o.path) in served_ops]
    missing = {o.operation_id for o in OPERATIONS.values()} - {o.operation_id for o in routed}
    assert missing == set()  # all 71 operations are served
    for operation in routed:
        op = served_ops[(operation.method, operation.path)]
        spec = contract["paths"][operation.path][operation.method.lower()]
        assert op["operationId"] == operation.operation_id
        served_params = {(p["in"], p["name"]) for p in op.get("parameters", [])}
        wanted = {(p["in"], p["name"]) for p in spec.get("parameters", [])}
        assert wanted <= served_params, operation.operation_id
        if "requestBody" in spec:
            schema = spec["requestBody"]["content"]["application/json"]["schema"]
            served_schema = op["requestBody"]["content"]["application/json"]["schema"]
            want = _body_fields(schema, contract_components)
            assert want <= _body_fields(served_schema, components), operation.operation_id
        success = next(s for s in spec["responses"] if s[0] in "12")  # 101: the websocket
        assert success in op["responses"], operation.operation_id


# -- automation routes wait for their issue ------------------------------------------------


@pytest.mark.parametrize(
    "operation_id", [*sorted(NOT_READY), "readRemoteSkills", "writeRemoteSkills"]
)
def test_routes_of_later_issues_answer_503_not_ready(
    client: httpx.Client, operation_id: str
) -> None:
    operation = OPERATIONS[operation_id]
    path = re.sub(r"\{(\w+)\}", r"\1-1", operation.path)
    body = {"hazelnutId": "h", "isPreload": False} if operation_id == "writeRemoteSkills" else None
    answer = client.request(operation.method, path, json=body)
    assert "not available on this server yet" in _error(answer, 503, "not_ready")["message"]


# -- passthrough groups, end to end against the real binary ---------------------------------


def test_health_and_api_info(server: ServeProcess, client: httpx.Client) -> None:
    health = httpx.get(server.api + "/health").json()  # no token needed
    assert health["status"] == "ok"
    assert health["codex"]["running"] is True
    assert isinstance(health["codex"]["pid"], int)
    assert health["auth"]["likelyUnauthenticated"] in (True, False)
    info = client.get("/api").json()
    assert info["name"] == "codexkit serve"


def test_a_killed_app_server_is_restarted_and_serves_again(
    tmp_path: Path, model: ScriptedModel
) -> None:
    with ServeProcess.scripted(model, tmp_path) as server:
        pid = httpx.get(server.api + "/health").json()["codex"]["pid"]
        os.killpg(pid, signal.SIGKILL)  # the app-server's whole process group
        deadline = time.monotonic() + 60
        while True:  # nothing to wait on over REST: health is polled
            codex = httpx.get(server.api + "/health").json()["codex"]
            if codex["running"] and codex["pid"] != pid:
                break
            assert time.monotonic() < deadline, "the app-server was never restarted"
            time.sleep(0.05)
        with server.client() as client:
            answer = client.get("/api/models")
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]


def test_capabilities_tell_what_the_runtime_knows(client: httpx.Client) -> None:
    body = client.get("/api/capabilities?refresh=true").json()
    assert body["status"] == "ok"
    assert body["methods"]["config/read"] == "available"
    assert body["methods"]["command/exec"] == "available"
    assert body["methods"]["skills/remote/read"] == "disabled"  # not in codex 0.163
    assert body["features"]["configRead"] is True
    assert body["runtime"]["initialized"] is True


def _signed_in(server: ServeProcess) -> bool:
    """What ``/api/health`` says: is there a codex sign-in (``auth.json``) in CODEX_HOME?"""
    auth = httpx.get(server.api + "/health").json()["auth"]
    return bool(auth["codexHomeAuthFile"])


def test_account_read_login_with_api_key_and_logout(
    server: ServeProcess, client: httpx.Client
) -> None:
    # The scripted model is a custom provider: codex needs no OpenAI account for it.
    assert client.get("/api/account").json() == {
        "account": None,
        "requiresOpenaiAuth": False,
        "workspaceRouting": None,
    }
    limits = _error(client.get("/api/account/rate-limits"), 401, "auth_required")
    assert "authentication required" in limits["message"]
    assert not _signed_in(server)
    started = client.post(
        "/api/account/login/start", json={"type": "apiKey", "apiKey": "sk-test-0000000000"}
    )
    assert started.json() == {"status": "ok", "result": {"type": "apiKey"}}
    assert _signed_in(server)  # the runtime stored the key before it answered
    assert client.post("/api/account/logout").json() == {"status": "ok", "result": {}}
    assert not _signed_in(server)
    cancel = client.post("/api/account/login/cancel", json={"loginId": "no-such-login"})
    assert "invalid login id" in _error(cancel, 404, "not_found")["message"]
    bad = client.post("/api/account/login/start", json={"type": "password"})
    _error(bad, 400, "invalid_request")


def test_config_read_write_and_batch(client: httpx.Client) -> None:
    read = client.get("/api/config", params={"includeLayers": "true"}).json()
    assert read["config"]["model"] == "mock-model"
    assert read["layers"]
    written = client.post(
        "/api/config/value",
        json={"keyPath": ["model_reasoning_effort"], "mergeStrategy": "replace", "value": "low"},
    ).json()
    assert written["status"] == "ok"
    assert written["result"]["status"] == "ok"
    assert client.get("/api/config").json()["config"]["model_reasoning_effort"] == "low"
    batch = client.post(
        "/api/config/batch",
        json={
            "edits": [
                {
                    "keyPath": ["model_reasoning_effort"],
                    "mergeStrategy": "replace",
                    "value": "high",
                },
                {"keyPath": ["tools", "web_search"], "mergeStrategy": "upsert", "value": False},
            ]
        },
    ).json()
    assert batch["status"] == "ok"
    config = client.get("/api/config").json()["config"]
    assert config["model_reasoning_effort"] == "high"
    stale = client.post(
        "/api/config/value",
        json={
            "keyPath": ["model_reasoning_effort"],
            "mergeStrategy": "replace",
            "value": "low",
            "expectedVersion": 1,
        },
    )
    _error(stale, 409, "invalid_state")
    requirements = client.get("/api/config/requirements")
    assert requirements.status_code == 200
    assert "requirements" in requirements.json()


def test_models_experimental_features_collaboration_modes_apps_skills(
    client: httpx.Client,
) -> None:
    models = client.get("/api/models", params={"limit": 2}).json()
    assert len(models["data"]) == 2
    assert "nextCursor" in models
    features = client.get("/api/features/experimental", params={"limit": 3}).json()
    assert len(features["data"]) == 3
    modes = client.get("/api/collaboration/modes").json()
    assert {mode["mode"] for mode in modes["data"]} >= {"plan", "default"}
    assert client.get("/api/apps").json() == {"data": [], "nextCursor": None}
    skills = client.get("/api/skills", params={"cwd": "/"}).json()
    assert skills["data"][0]["cwd"] == "/"


def test_mcp_servers_reload_and_oauth_login(client: httpx.Client) -> None:
    assert client.get("/api/mcp/servers").json() == {"data": [], "nextCursor": None}
    assert client.post("/api/mcp/reload", json={}).json() == {"status": "ok", "result": {}}
    login = client.post("/api/mcp/servers/nowhere/oauth/login", json={"scopes": ["read"]})
    assert "No MCP server named 'nowhere'" in _error(login, 404, "not_found")["message"]


def test_commands_exec_runs_in_the_runtime(client: httpx.Client, tmp_path: Path) -> None:
    done = client.post("/api/commands/exec", json={"command": ["pwd"], "cwd": str(tmp_path)}).json()
    assert done == {
        "status": "ok",
        "result": {"exitCode": 0, "stdout": f"{tmp_path}\n", "stderr": ""},
    }
    failed = client.post("/api/commands/exec", json={"command": ["false"]}).json()
    assert failed["result"]["exitCode"] == 1
    nowhere = client.post("/api/commands/exec", json={"command": ["pwd"], "cwd": "/no/such/dir"})
    assert _error(nowhere, 400, "invalid_cwd")["issues"][0]["path"] == ["cwd"]
    nul = client.post("/api/commands/exec", json={"command": ["echo", "a\u0000b"]})
    assert _error(nul, 400, "invalid_request")["issues"][0]["path"] == ["command", 1]


def test_feedback_upload_passes_the_runtimes_error_through(client: httpx.Client) -> None:
    # No network here: the runtime cannot reach its upload service and says so.
    answer = client.post("/api/feedback", json={"classification": "bug", "includeLogs": False})
    body = _error(answer, 500, "codex_error")
    assert body["message"].startswith("failed to upload feedback")
    assert body["details"]["method"] == "feedback/upload"


def test_a_server_whose_app_server_cannot_start_says_so_and_exits(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "CODEXKIT_CODEX_BIN": "/bin/false",  # a "codex" that exits at once
    }
    args = ["--port", "0", "--data-dir", str(tmp_path / "data"), "--no-profile"]
    done = run_serve([*args, "--codex-home", str(tmp_path)], env=env)
    assert done.returncode != 0
    assert "codexkit serve:" not in done.stdout  # no URL for a server that never ran
    assert "the app-server exited" in done.stderr
