"""``codexkit serve``: codex-manager's REST and websocket contract over the codexkit SDK.

Needs the ``server`` extra (``pip install 'codexkit[server]'``). ``create_app`` builds the
FastAPI application; ``serve`` runs it the way the ``codexkit serve`` command does.
See ``docs/serve.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app as create_app
    from .run import serve as serve
    from .settings import ServeSettings as ServeSettings

__all__ = ["ServeSettings", "create_app", "serve"]

_WHERE = {"create_app": ".app", "serve": ".run", "ServeSettings": ".settings"}


def __getattr__(name: str) -> Any:
    # FastAPI and uvicorn load when first needed, not when the package is named.
    if name not in _WHERE:
        raise AttributeError(name)
    import importlib

    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value
