"""How domain methods reach the core, for the async client and the sync one alike.

A domain method builds its coroutine on the async core and hands it to ``run``: the async
client's ``run`` returns the coroutine for the caller to await; the sync client's runs it
on its private loop thread and returns the result. So each domain is written once and
the two clients mirror each other name for name by construction.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from pydantic.alias_generators import to_camel

from ._core import AsyncCore

__all__ = ["Bridge", "Runner", "body", "local_path"]

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


class Bridge:
    def __init__(self, core: AsyncCore, run: Runner, *, sync: bool) -> None:
        self.core = core
        self.run = run
        self.sync = sync  # whether plain handlers must leave the loop thread

    def call(
        self,
        operation_id: str,
        *,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotent_decision: bool = False,
    ) -> Any:
        return self.run(
            self.core.call(
                operation_id,
                params=params,
                query=query,
                body=body,
                idempotent_decision=idempotent_decision,
            )
        )


def body(**fields: Any) -> dict[str, Any]:
    """A request body from snake_case keywords: wire (camelCase) names, ``None`` left out
    (the server fills its defaults; some fields refuse ``null``)."""
    return {to_camel(k): v for k, v in fields.items() if v is not None}


def local_path(path: str | None) -> str | None:
    """A relative path made absolute against this process's directory: the server
    takes absolute paths only, and ``cwd="."`` means "here" to whoever writes it."""
    return None if path is None else os.path.abspath(path)
