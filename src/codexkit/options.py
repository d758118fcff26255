"""The options vocabulary: one name per setting, whichever engine or command takes it.

``TurnOptions`` are what a turn takes (``AsyncThread.turn`` and, through it, ``run`` and
``ask``); ``ThreadOptions`` how a thread is set up (``start_thread``, ``fork``).
``CLIENT_DEFAULT`` marks an argument left to the client's setting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from .approvals import ApprovalPolicy

__all__ = ["CLIENT_DEFAULT", "ThreadOptions", "TurnOptions"]

Json = dict[str, Any]


class TurnOptions(TypedDict, total=False):
    """The options of :meth:`AsyncThread.turn`, as taken by ``run`` and ``ask``."""

    model: str | None
    effort: str | None
    cwd: str | None
    output_type: type[Any] | None
    output_schema: Json | None
    approval_policy: str | None
    summary: str | None
    collaboration_mode: str | None
    idle_timeout: float | None
    params: Json | None


class ThreadOptions(TypedDict, total=False):
    """How a thread is set up: the options of ``start_thread``, as taken by ``fork``."""

    cwd: str | os.PathLike[str] | None
    model: str | None
    sandbox: str | None
    approval_policy: str | ApprovalPolicy | None
    instructions: str | None
    base_instructions: str | None
    ephemeral: bool | None
    config: Mapping[str, Any] | None
    params: Json | None


class _ClientDefault:
    """The value of an argument left to the client's setting (``turn_idle_timeout``)."""

    def __repr__(self) -> str:
        return "CLIENT_DEFAULT"


CLIENT_DEFAULT: Any = _ClientDefault()
