"""Event type names: app-server methods as the contract spells them."""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["notification_type", "request_type"]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _snake(part: str) -> str:
    return _CAMEL.sub("_", part).lower()


@lru_cache(maxsize=512)
def notification_type(method: str) -> str:
    """``item/agentMessage/delta`` -> ``app_server.item.agent_message.delta``."""
    return "app_server." + ".".join(_snake(part) for part in method.split("/"))


@lru_cache(maxsize=64)
def request_type(method: str) -> str:
    """``item/fileChange/requestApproval`` ->
    ``app_server.request.item.file_change.request_approval``."""
    return "app_server.request." + ".".join(_snake(part) for part in method.split("/"))
