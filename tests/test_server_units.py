"""The server's pure parts, without a server: secrets in logs, login links, the profile
file, settings, and how app-server errors become HTTP answers."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from codexkit.errors import (
    CodexError,
    CodexTimeoutError,
    InternalRpcError,
    InvalidRequestError,
    MethodNotFoundError,
    TransportClosedError,
)
from codexkit.server.auth import LoginLinks, load_or_create_token, session_cookie_value
from codexkit.server.errors import ApiError, runtime_error
from codexkit.server.paths import checked_cwd
from codexkit.server.profile import merge_local_profile, profile_path
from codexkit.server.redact import REDACTED, RedactSecrets
from codexkit.server.settings import ServeSettings, is_loopback


def test_redaction_hides_known_secrets_and_secret_shaped_fields() -> None:
    redactor = RedactSecrets(["tok-123456"])
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/1.1" %d',
        ("127.0.0.1:5", "GET", "/api/auth/login?token=onetime-secret&next=/", 200),
        None,
    )
    assert redactor.filter(record)
    assert isinstance(record.args, tuple)  # uvicorn's formatter unpacks them
    assert len(record.args) == 4
    message = record.getMessage()
    assert "onetime-secret" not in message
    assert f"token={REDACTED}&next=/" in message
    for text, hidden in [
        ("Authorization: Bearer abc.def", "abc.def"),
        ('{"apiKey": "sk-live-abcdefghijk"}', "sk-live-abcdefghijk"),
        ("bad key sk-proj-abcdefghijk used", "sk-proj-abcdefghijk"),
        ("the token tok-123456 leaked", "tok-123456"),
    ]:
        assert hidden not in redactor.redact(text)
    assert redactor.redact("nothing secret here") == "nothing secret here"


def test_redaction_covers_tracebacks() -> None:
    redactor = RedactSecrets(["tok-987654"])
    try:
        raise ValueError("bad token tok-987654")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    redactor.filter(record)
    assert "tok-987654" not in logging.Formatter().format(record)


def test_login_links_work_once_expire_and_are_bounded() -> None:
    links = LoginLinks(ttl=60, limit=2)
    first = links.issue()
    assert links.redeem(first)
    assert not links.redeem(first)
    assert not links.redeem("made-up")
    a, b, c = links.issue(), links.issue(), links.issue()
    assert not links.redeem(a)  # the oldest was dropped for the third
    assert links.redeem(b)
    assert links.redeem(c)
    expired = LoginLinks(ttl=0)
    assert not expired.redeem(expired.issue())


def test_token_is_made_once_private_and_narrowed_if_widened(tmp_path: Path) -> None:
    token = load_or_create_token(tmp_path / "data")
    path = tmp_path / "data" / "token"
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_token(tmp_path / "data") == token
    path.chmod(0o644)
    assert load_or_create_token(tmp_path / "data") == token
    assert path.stat().st_mode & 0o777 == 0o600
    assert session_cookie_value(token) != token
    assert session_cookie_value(token) == session_cookie_value(token)


def test_profile_is_made_with_defaults_and_a_broken_one_is_left_alone(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    path = merge_local_profile("http://127.0.0.1:4000", "t1", env=env)
    assert path == profile_path(env) == tmp_path / "codex-manager" / "cli" / "config.json"
    assert json.loads(path.read_text()) == {
        "currentProfile": "local",
        "profiles": {
            "local": {
                "baseUrl": "http://127.0.0.1:4000",
                "apiPrefix": "/api",
                "timeoutMs": 30000,
                "headers": {},
                "auth": {"bearer": "t1"},
            }
        },
    }
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        merge_local_profile("http://127.0.0.1:4000", "t2", env=env)
    assert path.read_text() == "{not json"
    assert profile_path({"HOME": "/home/u"}) == Path(
        "/home/u/.config/codex-manager/cli/config.json"
    )


def test_settings_refuse_what_cannot_work(tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("example.org")
    ServeSettings(data_dir=tmp_path, token="")  # loopback without a token: allowed
    with pytest.raises(ValueError, match="without a token"):
        ServeSettings(host="0.0.0.0", data_dir=tmp_path, token="")
    ServeSettings(host="0.0.0.0", data_dir=tmp_path)  # with one: allowed
    with pytest.raises(ValueError, match="app_servers"):
        ServeSettings(data_dir=tmp_path, app_servers=0)
    with pytest.raises(ValueError, match="not a directory"):
        ServeSettings(data_dir=tmp_path, allowed_roots=[tmp_path / "missing"])
    # A cluster's settings: roles other than `all` need PostgreSQL (they share its work).
    postgres = "postgresql+asyncpg://db/codexkit"
    with pytest.raises(ValueError, match="role api needs a cluster"):
        ServeSettings(data_dir=tmp_path, role="api")
    assert ServeSettings(data_dir=tmp_path, role="runner", database_url=postgres).clustered
    with pytest.raises(ValueError, match="role must be"):
        ServeSettings(data_dir=tmp_path, role="leader", database_url=postgres)
    with pytest.raises(ValueError, match="advertise_url"):
        ServeSettings(data_dir=tmp_path, database_url=postgres, advertise_url="host:3001")
    with pytest.raises(ValueError, match="lease_seconds"):
        ServeSettings(data_dir=tmp_path, database_url=postgres, lease_seconds=0.5)


def test_a_cwd_must_exist_be_absolute_and_lie_under_an_allowed_root(tmp_path: Path) -> None:
    inside = tmp_path / "root" / "project"
    inside.mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    free = ServeSettings(data_dir=tmp_path / "data")
    assert checked_cwd(free, str(outside)) == str(outside)
    assert checked_cwd(free, None) is None
    bounded = ServeSettings(data_dir=tmp_path / "data", allowed_roots=[tmp_path / "root"])
    assert checked_cwd(bounded, str(inside)) == str(inside)
    assert checked_cwd(bounded, str(tmp_path / "root")) == str(tmp_path / "root")
    for cwd, code in [
        (str(outside), "cwd_not_allowed"),
        (str(inside / ".." / ".." / "elsewhere"), "cwd_not_allowed"),  # no escape by ..
        ("relative/dir", "invalid_cwd"),
        (str(tmp_path / "missing"), "invalid_cwd"),
    ]:
        with pytest.raises(ApiError) as refused:
            checked_cwd(bounded, cwd)
        assert refused.value.status_code == 400
        assert refused.value.body["code"] == code
        assert refused.value.body["issues"][0]["path"] == ["cwd"]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (MethodNotFoundError(-32601, "no such method"), 501, "method_not_supported"),
        (
            InvalidRequestError(-32600, "Invalid request: unknown variant `x/y`"),
            501,
            "method_not_supported",
        ),
        (
            InvalidRequestError(-32600, "invalid type: string, expected struct P"),
            400,
            "invalid_params",
        ),
        (
            InvalidRequestError(-32600, "authentication required to read rate limits"),
            401,
            "auth_required",
        ),
        (InvalidRequestError(-32600, "thread not found: t1"), 404, "not_found"),
        (
            InvalidRequestError(-32600, "Configuration was modified since last read"),
            409,
            "invalid_state",
        ),
        (InternalRpcError(-32603, "failed to upload feedback"), 500, "codex_error"),
        (
            TransportClosedError("closed", stderr_tail="secret internals"),
            503,
            "runtime_unavailable",
        ),
        (CodexTimeoutError("config/read timed out"), 504, "codex_timeout"),
    ],
)
def test_runtime_errors_become_the_contract_answers(
    error: CodexError, status: int, code: str
) -> None:
    mapped = runtime_error(error, "some/method")
    assert mapped.status_code == status
    assert mapped.body["status"] == "error"
    assert mapped.body["code"] == code
    assert mapped.body["details"]["method"] == "some/method"
    assert "secret internals" not in mapped.body["message"]


def test_a_websocket_route_is_documented_with_the_contracts_entry(tmp_path: Path) -> None:
    from codexkit.contract import load_openapi
    from codexkit.server.app import create_app
    from codexkit.server.host import RuntimeHost
    from codexkit.server.run import runtime_settings

    settings = ServeSettings(data_dir=tmp_path, token="t")
    app = create_app(settings, RuntimeHost(runtime_settings(settings)))  # never started
    documented = app.openapi()["paths"]["/api/stream"]
    assert documented == load_openapi()["paths"]["/api/stream"]
    assert documented["get"]["operationId"] == "connectEventStream"


async def test_the_listening_socket_serves_without_nagle(tmp_path: Path) -> None:
    """Keep-alive answers go out at once: with Nagle's algorithm on, each waited about
    40 ms for the client's delayed ACK (measured: 45 ms per /api/health, 3 ms after)."""
    import asyncio
    import socket

    from codexkit.server.run import bind

    listener = bind(ServeSettings(data_dir=tmp_path, port=0))
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = writer.get_extra_info("socket")
        accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_client, sock=listener)
    try:
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(accepted, timeout=10) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
