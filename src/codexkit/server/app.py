"""``create_app``: the FastAPI application of ``codexkit serve``."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic.warnings import UnsupportedFieldAttributeWarning
from starlette.routing import BaseRoute, WebSocketRoute

from .._version import __version__
from ..contract import load_openapi
from .auth import AuthMiddleware, LoginLinks, load_or_create_token
from .deps import Runtime
from .errors import install_error_handlers
from .forward import ClusterForward
from .limits import BodyLimit
from .page import mount_page
from .routes import ROUTERS
from .settings import ServeSettings

__all__ = ["OPENAPI_PATH", "create_app"]

OPENAPI_PATH = "/api/openapi.json"


def create_app(
    settings: ServeSettings,
    runtime: Runtime,
    *,
    login_links: LoginLinks | None = None,
    on_ready: Callable[[], None] | None = None,
) -> FastAPI:
    """The app: every router of ``routes.ROUTERS``, the contract's error bodies, the body
    size limit and, unless ``settings.token`` is ``""``, the bearer token on every path
    but ``/api/health``. ``runtime`` is started with the app and closed after it;
    ``on_ready`` is called once it has started."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title="codexkit serve",
        version=__version__,
        description="codex-manager's REST and websocket contract, served by codexkit.",
        openapi_url=OPENAPI_PATH,
        docs_url=None,  # the docs pages load scripts from a CDN; the document is enough
        redoc_url=None,
        lifespan=lifespan,
    )
    token = settings.token
    if token is None:
        token = load_or_create_token(settings.data_dir)
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.token = token
    app.state.login_links = login_links or LoginLinks()
    install_error_handlers(app)
    # FastAPI hands a parameter's name to pydantic as the alias of the whole (query or
    # body) model, which pydantic calls useless when it builds the model on first use.
    # True, and harmless: keep it out of the server's output.
    warnings.filterwarnings(
        "ignore", "The 'alias' attribute", category=UnsupportedFieldAttributeWarning
    )
    for router in ROUTERS:
        app.include_router(router)
    _document_websockets(app)
    mount_page(app)
    # The last added runs first: the size limit, then authentication, then (in a
    # cluster) sending a request on to the process that runs its session.
    app.add_middleware(ClusterForward, runtime=runtime)
    if token:
        app.add_middleware(AuthMiddleware, token=token)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app


def _document_websockets(app: FastAPI) -> None:
    """OpenAPI has no websockets, so FastAPI leaves them out of the document; the
    contract describes ``/api/stream`` as a GET that upgrades (101). Each websocket route
    the app has is documented with the contract's own entry for its path."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        contract_paths = load_openapi()["paths"]
        for path in _websocket_paths(app.routes):
            if path in contract_paths:
                document["paths"][path] = contract_paths[path]
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _websocket_paths(routes: Iterable[BaseRoute]) -> Iterator[str]:
    """The paths of the websocket routes among ``routes``, those of included routers too
    (FastAPI keeps an included router as one route holding the router)."""
    for route in routes:
        if isinstance(route, WebSocketRoute):
            yield route.path
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _websocket_paths(included.routes)
