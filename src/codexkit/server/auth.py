"""Who may talk to the server: a bearer token, a one-time login link, a session cookie.

- The token is made on first start (``secrets.token_urlsafe``), kept in the data dir with
  mode 0600, and reused after; the codex-manager CLI profile gets a copy (``profile``).
- Every request and websocket but ``/api/health`` and the login link itself needs
  ``Authorization: Bearer TOKEN`` or the session cookie.
- Browsers cannot put a header on a websocket: they open the one-time login link that
  ``codexkit serve`` prints, which sets an HttpOnly, SameSite=Strict cookie.
- The web page's own files (``/`` and ``/web/...``) are open: they hold no data, and a
  browser that is not signed in must be able to load the page that says how to sign in.

Secrets are compared with ``hmac.compare_digest`` (constant time).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_body

__all__ = [
    "COOKIE_NAME",
    "LOGIN_PATH",
    "OPEN_PATHS",
    "PAGE_PATH",
    "PAGE_PREFIX",
    "SIGNED_IN_PATH",
    "AuthMiddleware",
    "LoginLinks",
    "load_or_create_token",
    "session_cookie_value",
    "signed_in",
]

log = logging.getLogger("codexkit.server")

TOKEN_FILE = "token"
COOKIE_NAME = "codexkit_session"
LOGIN_PATH = "/api/auth/login"
#: Whether the caller is signed in: the web page asks before it reads anything, so a
#: browser that is not signed in sees the sign-in help instead of a string of 401s.
SIGNED_IN_PATH = "/api/auth/session"
#: Paths anyone may reach: the health probe, the login link (it carries its own secret)
#: and the sign-in probe (it answers a yes or no about the caller only).
OPEN_PATHS = frozenset({"/api/health", LOGIN_PATH, SIGNED_IN_PATH})
#: The web page (``/``) and its static files (``server/web/``): open to plain HTTP only.
PAGE_PATH = "/"
PAGE_PREFIX = "/web/"


def load_or_create_token(data_dir: Path) -> str:
    """The server's bearer token: read from ``data_dir/token``, made there on first start.

    The file is created with mode 0600 in one step (never readable by others, not even
    for a moment); a file found with wider permissions is narrowed.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / TOKEN_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
            log.warning("narrowed the permissions of %s to 0600", path)
        token = path.read_text().strip()
        if token:
            return token
        raise ValueError(f"{path} is empty: delete it to make a new token") from None
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    log.info("made a new bearer token in %s", path)
    return token


def session_cookie_value(token: str) -> str:
    """The session cookie's value: derived from the token, so it stays valid across
    restarts, changes when the token does, and does not reveal the token."""
    return hmac.new(token.encode(), b"codexkit-session-cookie", hashlib.sha256).hexdigest()


class LoginLinks:
    """One-time login secrets: each works once, within ``ttl`` seconds; at most
    ``limit`` are outstanding (the oldest is dropped first)."""

    def __init__(self, *, ttl: float = 600.0, limit: int = 16) -> None:
        self.ttl = ttl
        self.limit = limit
        self._issued: dict[str, float] = {}

    def issue(self) -> str:
        self._expire()
        while len(self._issued) >= self.limit:
            self._issued.pop(next(iter(self._issued)))
        secret = secrets.token_urlsafe(24)
        self._issued[secret] = time.monotonic() + self.ttl
        return secret

    def redeem(self, secret: str) -> bool:
        """Whether ``secret`` is a live link; it is spent either way."""
        self._expire()
        found = None
        for issued in list(self._issued):  # every entry is compared: no early exit
            if hmac.compare_digest(issued.encode(), secret.encode()):
                found = issued
        if found is None:
            return False
        del self._issued[found]
        return True

    def _expire(self) -> None:
        now = time.monotonic()
        for secret, deadline in list(self._issued.items()):
            if deadline <= now:
                del self._issued[secret]


def _is_open(scope: Scope) -> bool:
    path: str = scope["path"]
    if path in OPEN_PATHS:
        return True
    return scope["type"] == "http" and (path == PAGE_PATH or path.startswith(PAGE_PREFIX))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _cookies(header: str | None) -> Iterable[tuple[str, str]]:
    for part in (header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            yield name, value


def _same_origin(scope: Scope) -> bool:
    """Whether a browser's request comes from a page of this server. Browsers send the
    cookie on a websocket opened by any site's page; its ``Origin`` tells them apart.
    Without an ``Origin`` (not a browser, or a same-origin GET) there is nothing to check."""
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    host = _header(scope, b"host") or ""
    return origin.split("://", 1)[-1].rstrip("/") == host


def _carries(scope: Scope, bearer: bytes, cookie: bytes) -> bool:
    """Whether ``scope`` has the bearer header, or the cookie from the server's own page."""
    given = (_header(scope, b"authorization") or "").encode("latin-1")
    if hmac.compare_digest(given, bearer):
        return True
    by_cookie = False
    for name, value in _cookies(_header(scope, b"cookie")):
        if name == COOKIE_NAME:
            by_cookie |= hmac.compare_digest(value.encode("latin-1"), cookie)
    return by_cookie and _same_origin(scope)


def signed_in(scope: Scope, token: str) -> bool:
    """Whether the request would pass ``AuthMiddleware`` (always, without a token)."""
    if not token:
        return True
    return _carries(scope, f"Bearer {token}".encode(), session_cookie_value(token).encode())


class AuthMiddleware:
    """Refuses every request and websocket without the token or the session cookie, but
    those to ``OPEN_PATHS``. A refused websocket gets the same 401 body as REST where the
    ASGI server can send it (uvicorn can), else a close before the handshake (403)."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self._bearer = f"Bearer {token}".encode()
        self._cookie = session_cookie_value(token).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or _is_open(scope):
            await self.app(scope, receive, send)
            return
        if self._allowed(scope):
            await self.app(scope, receive, send)
            return
        await self._refuse(scope, send)

    def _allowed(self, scope: Scope) -> bool:
        return _carries(scope, self._bearer, self._cookie)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            error_body("unauthorized", "a valid bearer token or session cookie is required")
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b'Bearer realm="codexkit"'),
        ]
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 401, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if "websocket.http.response" in scope.get("extensions", {}):
            start: Message = {
                "type": "websocket.http.response.start",
                "status": 401,
                "headers": headers,
            }
            await send(start)
            await send({"type": "websocket.http.response.body", "body": body})
            return
        await send({"type": "websocket.close", "code": 1008})


def login_cookie_header(token: str, *, max_age: int = 30 * 24 * 3600) -> dict[str, Any]:
    """The arguments of ``Response.set_cookie`` for the session cookie."""
    return {
        "key": COOKIE_NAME,
        "value": session_cookie_value(token),
        "max_age": max_age,
        "path": "/api",
        "httponly": True,
        "samesite": "strict",
    }
