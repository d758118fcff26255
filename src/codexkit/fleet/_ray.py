"""The Ray executor (not built yet)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidArgumentError
from ._local import Executor

__all__ = ["RayExecutor"]


class RayExecutor(Executor):
    def __init__(
        self,
        concurrency: int = 4,
        *,
        address: str | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        raise InvalidArgumentError("the Ray executor is not available yet")
