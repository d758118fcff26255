"""The codex app-server protocol: typed models and method tables.

Generated from the pinned codex binary by ``scripts/generate_protocol.py``::

    from codexkit.protocol import ThreadStartParams, parse_notification, to_wire

    params = ThreadStartParams(model="gpt-5", approval_policy="never")
    to_wire(params)  # {"approvalPolicy": "never", "model": "gpt-5"}

    note = parse_notification("turn/started", raw["params"])  # None if the method is new

Importing this package is cheap: it holds plain tables, and a model's module (and pydantic)
is imported the first time a model is looked up.

Models are forward compatible: unknown fields stay in ``model_extra``, string enums are
``Literal[...] | str``, and a union member with an unknown tag becomes ``UnknownVariant``.
Fields are snake_case in Python and camelCase on the wire; dump with :func:`to_wire` (or
``model_dump(by_alias=True)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._generated.methods import (
    CLIENT_NOTIFICATIONS,
    CLIENT_REQUESTS,
    MODEL_MODULES,
    NOTIFICATIONS,
    PARAMS_OPTIONAL,
    SCHEMA_VERSION,
    SERVER_REQUESTS,
    ClientMethod,
)
from ._registry import (
    client_request_types,
    is_known_notification,
    load_model,
    notification_type,
    parse_notification,
    parse_result,
    parse_server_request,
    server_request_types,
    to_wire,
    validate_params,
)

__all__ = [
    "CLIENT_NOTIFICATIONS",
    "CLIENT_REQUESTS",
    "NOTIFICATIONS",
    "PARAMS_OPTIONAL",
    "SCHEMA_VERSION",
    "SERVER_REQUESTS",
    "ClientMethod",
    "client_request_types",
    "is_known_notification",
    "load_model",
    "notification_type",
    "parse_notification",
    "parse_result",
    "parse_server_request",
    "server_request_types",
    "to_wire",
    "validate_params",
]

if TYPE_CHECKING:
    from ._generated import models as _models
    from ._generated.models import *  # noqa: F403

    __all__ += _models.__all__
else:
    __all__ += list(MODEL_MODULES)

    def __getattr__(name: str) -> Any:
        # Models load on first access; cache them so later lookups skip this hook.
        value = load_model(name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
