"""The web page of ``codexkit serve``: static files shipped in ``server/web/`` (HTML, CSS,
ES modules; nothing to build, nothing fetched from elsewhere), served at ``/`` and
``/web/...``. The page talks to the server's own REST routes and ``/api/stream`` only,
signed in by the login link's cookie; ``docs/web.md`` describes it."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from .auth import PAGE_PATH, PAGE_PREFIX

__all__ = ["PAGE_HEADERS", "WEB_DIR", "mount_page", "wants_page"]

WEB_DIR = Path(__file__).parent / "web"

#: The page runs only its own files and talks only to its own server ('self' covers the
#: websocket on the same host and port); no other site may frame it. ``no-cache``: a
#: browser revalidates, so a new codexkit's page is never mixed with an old one's files.
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class _PageFiles(StaticFiles):
    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(PAGE_HEADERS)
        return response


def mount_page(app: FastAPI) -> None:
    """``/`` answers the page, ``/web/<file>`` its files; neither is in the API document."""
    app.mount(PAGE_PREFIX.rstrip("/"), _PageFiles(directory=WEB_DIR), name="web")

    @app.get(PAGE_PATH, include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers=PAGE_HEADERS)


def wants_page(headers: Headers) -> bool:
    """Whether a request comes from a browser's address bar (it asks for HTML), so the
    answer should be the page rather than JSON."""
    return "text/html" in headers.get("accept", "")
