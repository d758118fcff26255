"""Who may use a real ``codexkit serve``: the bearer token, the login link and its cookie,
the websocket, the token file and the codex-manager profile, and no secret in the logs."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.serve import ServeProcess, run_serve
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from codexkit.contract import OPERATIONS
from codexkit.testing import ScriptedModel

pytestmark = pytest.mark.real

UNAUTHORIZED = {
    "status": "error",
    "code": "unauthorized",
    "message": "a valid bearer token or session cookie is required",
}


@pytest.fixture(scope="module")
def server(
    model: ScriptedModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("serve-auth")
    with ServeProcess.scripted(model, root) as running:
        yield running


def _operations(server: ServeProcess) -> set[tuple[str, str]]:
    """Every operation the server documents, and every one of the contract (those whose
    routes other modules add later are covered already)."""
    with server.client() as client:
        document = client.get("/api/openapi.json").json()
    found = {(o.method, o.path) for o in OPERATIONS.values()}
    for path, methods in document["paths"].items():
        found.update((method.upper(), path) for method in methods)
    # {sessionId} -> sessionId: any value will do, authentication comes first.
    return {(method, path.replace("{", "").replace("}", "")) for method, path in found}


def test_every_operation_but_health_refuses_a_missing_or_wrong_token(
    server: ServeProcess,
) -> None:
    operations = _operations(server)
    assert len(operations) >= 73  # the contract's 71 and the login link routes
    wrong = [
        {},
        {"Authorization": "Bearer " + server.token[:-1] + "x"},
        {"Authorization": server.token},  # no scheme
        {"Cookie": "codexkit_session=" + "0" * 64},
    ]
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        for method, path in operations:
            for headers in wrong:
                answer = client.request(method, path, headers=headers, json={})
                if path == "/api/health":
                    assert answer.status_code == 200
                    continue
                if path == "/api/auth/login":  # its own secret is the link: tested below
                    continue
                if path == "/api/auth/session":  # says yes or no about the caller only
                    assert answer.json()["signedIn"] is False
                    continue
                assert (answer.status_code, answer.json()) == (401, UNAUTHORIZED), (method, path)
        assert client.get("/api/openapi.json").status_code == 401
        assert client.get("/api/no-such-route").status_code == 401  # nothing shows unsigned


def test_the_token_opens_every_route(server: ServeProcess) -> None:
    with server.client() as client:
        assert client.get("/api").json()["name"] == "codexkit serve"
        assert client.get("/api/models").status_code == 200


def test_the_websocket_refuses_a_missing_or_wrong_token(server: ServeProcess) -> None:
    ws = server.url.replace("http://", "ws://") + "/api/stream"
    for headers in ({}, {"Authorization": "Bearer nope"}):
        with pytest.raises(InvalidStatus) as refused:
            connect(ws, additional_headers=headers, open_timeout=10).close()
        assert refused.value.response.status_code == 401
        assert json.loads(refused.value.response.body or b"{}") == UNAUTHORIZED
    # With the token the socket opens and the stream says it is ready.
    with connect(ws, additional_headers=server.headers, open_timeout=10) as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "ready"


def test_the_web_page_is_open_and_nothing_else_is_through_it(server: ServeProcess) -> None:
    """The page's own files load without a token (they hold no data), under a policy that
    lets them talk to this server only; nothing of the API opens through their paths."""
    with httpx.Client(base_url=server.url, timeout=30.0) as anyone:
        page = anyone.get("/")
        assert page.status_code == 200
        assert '<script type="module" src="/web/app.js">' in page.text
        assert "connect-src 'self'" in page.headers["content-security-policy"]
        script = anyone.get("/web/app.js")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
        assert "default-src 'self'" in script.headers["content-security-policy"]
        assert anyone.get("/web/no-such-file.js").status_code == 404
        for sneaky in ("/web/../api/models", "/web/%2e%2e/api/models", "/web/../auth.py"):
            assert anyone.get(sneaky).status_code in (401, 404), sneaky
        assert anyone.get("/api/auth/session").json() == {"status": "ok", "signedIn": False}
    with server.client() as client:
        assert client.get("/api/auth/session").json()["signedIn"] is True
    ws = server.url.replace("http://", "ws://") + "/web/app.js"
    with pytest.raises(InvalidStatus):  # a websocket gets nothing open on the page's paths
        connect(ws, open_timeout=10).close()


def test_a_browser_opening_the_login_link_lands_on_the_page(
    tmp_path: Path, model: ScriptedModel
) -> None:
    html = {"Accept": "text/html,application/xhtml+xml"}
    with ServeProcess.scripted(model, tmp_path) as server, httpx.Client(timeout=30.0) as browser:
        signed_in = browser.get(server.login_link, headers=html)
        assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/")
        assert "HttpOnly" in signed_in.headers["set-cookie"]
        again = browser.get(server.login_link, headers=html)
        assert (again.status_code, again.headers["location"]) == (303, "/?signin=failed")
        assert "set-cookie" not in again.headers


def test_login_link_works_once_and_its_cookie_opens_rest_and_websocket(
    tmp_path: Path, model: ScriptedModel
) -> None:
    with ServeProcess.scripted(model, tmp_path) as server:
        with httpx.Client(timeout=30.0) as browser:
            signed_in = browser.get(server.login_link)
            assert signed_in.status_code == 200
            cookie = signed_in.headers["set-cookie"]
            assert "HttpOnly" in cookie
            assert "SameSite=strict" in cookie
            assert server.token not in cookie
            assert browser.get(server.api + "/models").status_code == 200  # the cookie only
            again = browser.get(server.login_link)
            assert again.status_code == 401
            assert again.json()["code"] == "invalid_login_link"
            value = browser.cookies["codexkit_session"]
        ws = server.url.replace("http://", "ws://") + "/api/stream"
        with_cookie = {"Cookie": f"codexkit_session={value}"}
        with connect(ws, additional_headers=with_cookie, origin=Origin(server.url)) as socket:
            assert json.loads(socket.recv(timeout=10))["type"] == "ready"
        # A page of another site cannot use the browser's cookie on the websocket.
        foreign_page = Origin("http://evil.example")
        with pytest.raises(InvalidStatus) as foreign:
            connect(ws, additional_headers=with_cookie, origin=foreign_page).close()
        assert foreign.value.response.status_code == 401
        # A signed-in client can ask for a fresh link for a browser.
        with server.client() as client:
            fresh = client.post("/api/auth/login-links").json()["url"]
        assert httpx.get(fresh).status_code == 200
        assert httpx.get(fresh).status_code == 401


def test_token_file_is_private_and_reused_and_the_profile_keeps_other_keys(
    tmp_path: Path, model: ScriptedModel
) -> None:
    profile = tmp_path / "config" / "codex-manager" / "cli" / "config.json"
    profile.parent.mkdir(parents=True)
    before = {
        "currentProfile": "staging",
        "telemetry": {"enabled": False},
        "profiles": {
            "staging": {"baseUrl": "https://staging.example", "auth": {"bearer": "keep-me"}},
            "local": {
                "baseUrl": "http://127.0.0.1:9",
                "apiPrefix": "/api",
                "timeoutMs": 5000,
                "headers": {"X-Team": "blue"},
                "auth": {"bearer": "old", "header": "Authorization"},
            },
        },
    }
    profile.write_text(json.dumps(before))
    home = model.codex_home(tmp_path / "home")
    first = ServeProcess(
        data_dir=tmp_path / "data", codex_home=home, config_home=tmp_path / "config"
    )
    with first:
        token = first.token
        mode = stat.S_IMODE(os.stat(tmp_path / "data" / "token").st_mode)
        assert mode == 0o600
        after = json.loads(profile.read_text())
        expected = json.loads(json.dumps(before))
        expected["profiles"]["local"]["baseUrl"] = first.url
        expected["profiles"]["local"]["auth"]["bearer"] = token
        assert after == expected
        assert stat.S_IMODE(profile.stat().st_mode) == 0o600
        assert "codex-manager profile 'local'" in first.text()
    second = ServeProcess(
        data_dir=tmp_path / "data", codex_home=home, config_home=tmp_path / "config"
    )
    with second:
        assert second.token == token
        with httpx.Client(base_url=second.url) as client:
            headers = {"Authorization": f"Bearer {token}"}
            assert client.get("/api", headers=headers).status_code == 200


def test_no_profile_leaves_the_profile_alone(tmp_path: Path, model: ScriptedModel) -> None:
    with ServeProcess.scripted(model, tmp_path, args=["--no-profile"]):
        pass
    assert not (tmp_path / "config" / "codex-manager").exists()


def test_a_non_loopback_host_without_a_token_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    done = run_serve(
        ["--host", "0.0.0.0", "--port", "0", "--no-auth", "--data-dir", str(tmp_path)], env=env
    )
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0 without a token" in done.stderr
    assert "codexkit serve:" not in done.stdout  # it never started


def test_no_secret_reaches_the_logs(tmp_path: Path, model: ScriptedModel) -> None:
    with ServeProcess.scripted(model, tmp_path) as server:
        secret = server.login_link.rsplit("=", 1)[1]
        assert httpx.get(server.login_link).status_code == 200
        with server.client() as client:
            client.get(f"/api/models?token={server.token}")
            client.get("/api/account")
            client.post(
                "/api/account/login/start",
                json={"type": "apiKey", "apiKey": "sk-test-0123456789abcdef"},
            )
            client.post("/api/account/logout")
        token = server.token
        server.stop()
        logs = server.text()
    assert "GET /api/auth/login?token=[redacted]" in logs  # the access log ran
    after_start = logs.split("bearer token:", 1)[1]  # the printed link holds the secret
    assert secret not in after_start
    assert token not in logs
    assert "sk-test-0123456789abcdef" not in logs
