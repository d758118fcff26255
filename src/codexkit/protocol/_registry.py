"""Method name -> model lookups over the generated tables.

Model modules are imported on first use, so importing this module does not import pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, cast

from ._generated.methods import CLIENT_REQUESTS, MODEL_MODULES, NOTIFICATIONS, SERVER_REQUESTS

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = [
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

_GENERATED = __name__.rpartition(".")[0] + "._generated"


def load_model(name: str) -> Any:
    """The generated model (or type alias) called ``name``, importing its module if needed.

    Raises ``AttributeError`` for a name the generated code does not define.
    """
    module = MODEL_MODULES.get(name)
    if module is None:
        raise AttributeError(f"codexkit.protocol has no model named {name!r}")
    return getattr(importlib.import_module(f"{_GENERATED}.{module}"), name)


def _model(name: str) -> type[BaseModel]:
    return cast("type[BaseModel]", load_model(name))


def _pair(names: tuple[str, str | None]) -> tuple[type[BaseModel], type[BaseModel] | None]:
    params, result = names
    return _model(params), None if result is None else _model(result)


def client_request_types(method: str) -> tuple[type[BaseModel], type[BaseModel] | None]:
    """The params and result models of a client -> server request.

    Methods without params use ``EmptyParams``. Raises ``KeyError`` for a method the
    protocol does not define.
    """
    names = CLIENT_REQUESTS.get(method)
    if names is None:
        raise KeyError(f"unknown client request method {method!r}")
    return _pair(names)


def server_request_types(method: str) -> tuple[type[BaseModel], type[BaseModel] | None] | None:
    """The params and result models of a server -> client request; None if unknown.

    A newer server may send requests this version does not know: answer those with an
    error rather than fail.
    """
    names = SERVER_REQUESTS.get(method)
    return None if names is None else _pair(names)


def notification_type(method: str) -> type[BaseModel] | None:
    """The params model of a server notification; None for a method this version lacks."""
    name = NOTIFICATIONS.get(method)
    return None if name is None else _model(name)


def is_known_notification(method: str) -> bool:
    """Whether ``method`` is a server notification of this protocol version."""
    return method in NOTIFICATIONS


def _validate(model: type[BaseModel] | None, payload: Any) -> BaseModel | None:
    if model is None:
        return None
    return model.model_validate({} if payload is None else payload)


def parse_notification(method: str, params: Any) -> BaseModel | None:
    """Validate a notification's params; None for an unknown method.

    Raises ``pydantic.ValidationError`` when a known notification does not match its model.
    """
    return _validate(notification_type(method), params)


def parse_server_request(method: str, params: Any) -> BaseModel | None:
    """Validate a server request's params; None for an unknown method."""
    types = server_request_types(method)
    return _validate(None if types is None else types[0], params)


def parse_result(method: str, result: Any) -> BaseModel | None:
    """Validate the result of a client request; None if the method has no result model.

    Raises ``KeyError`` for a method the protocol does not define.
    """
    return _validate(client_request_types(method)[1], result)


def validate_params(method: str, params: Any) -> None:
    """Check the params of a client request against the pinned schema.

    Raises ``KeyError`` for a method the protocol does not define and
    ``pydantic.ValidationError`` for params its model does not accept.
    """
    _validate(client_request_types(method)[0], params)


def to_wire(model: BaseModel) -> Any:
    """A model as JSON-ready data with wire names, holding only the fields that were set.

    Unset optional fields are left out (the server applies its own defaults), unknown
    fields kept in ``model_extra`` go along, and union tags are always included.
    """
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)
