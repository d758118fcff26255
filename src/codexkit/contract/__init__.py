"""The control plane's wire contract as pydantic models (``codexkit serve`` and its client).

One model per request body, response body and error body of the 71 operations of
codex-manager's REST contract (``codex-manager-openapi.json`` beside this file), with the
contract's JSON names as aliases; ``OPERATIONS`` says where each operation lives and what
it takes and answers. Pure values: importing this package imports pydantic only, so the
server (``codexkit.server``) and the client (``codexkit.manager``) share it::

    from codexkit.contract import SendSessionMessageRequest, to_wire

    body = SendSessionMessageRequest(text="hello", approval_policy="never")
    to_wire(body)  # {"text": "hello", "approvalPolicy": "never"}

Inline schemas of the document are named after their operation: ``<OperationId>Request``
for a request body, ``<OperationId>Query`` for query parameters. Bodies the contract leaves
open (``fork``, ``archive``, ...) are ``OpenBody``. What the document does not name but
clients rely on (pending approvals and tool input, the session list, the websocket frames)
is in ``records`` and ``stream``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from ._base import ContractModel, OpenBody, Operation, to_wire
from ._generated import *  # noqa: F403
from ._generated import __all__ as _generated_names
from .records import *  # noqa: F403
from .records import __all__ as _record_names
from .stream import *  # noqa: F403
from .stream import __all__ as _stream_names

__all__ = [
    "CONTRACT_PATH",
    "ContractModel",
    "OpenBody",
    "Operation",
    "load_openapi",
    "operation",
    "to_wire",
    *_generated_names,
    *_record_names,
    *_stream_names,
]

#: The OpenAPI document the models were generated from (codex-manager commit 2042d3f).
CONTRACT_PATH = Path(__file__).with_name("codex-manager-openapi.json")


@cache
def load_openapi() -> dict[str, Any]:
    """The contract's OpenAPI document, as parsed JSON (read once)."""
    loaded: dict[str, Any] = json.loads(CONTRACT_PATH.read_text())
    return loaded


def operation(operation_id: str) -> Operation:
    """The contract's operation ``operation_id``, or codexkit's own of that id
    (``CODEXKIT_OPERATIONS``); ``KeyError`` for neither."""
    found = OPERATIONS.get(operation_id) or CODEXKIT_OPERATIONS.get(operation_id)  # noqa: F405
    if found is None:
        raise KeyError(f"no operation {operation_id!r}")
    return found
