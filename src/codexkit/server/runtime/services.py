"""What the runtime lends the code it hosts: the built-in extensions (the supervisor,
the chat namer) and the actions every extension gets.

They are given the runtime itself, but know it only as :class:`Services`, so none of
them imports ``runtime.py``, which assembles them: the runtime stays the one module
that knows every part.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..store import Store
from .controls import Controls
from .hub import EventHub
from .orchestrator import Orchestrator
from .ordered import OrderedJobs
from .queue import JobQueue
from .sessions import Sessions
from .turns import Turns

__all__ = ["Services"]

Json = dict[str, Any]


class Services(Protocol):
    """The parts of a started runtime (``runtime.Runtime`` is one)."""

    store: Store
    hub: EventHub
    jobs: OrderedJobs
    sessions: Sessions
    turns: Turns
    controls: Controls
    queue: JobQueue
    orchestrator: Orchestrator

    async def decide(
        self,
        kind: str,
        request_id: str,
        body: Json,
        *,
        actor: str | None = None,
        source: str | None = None,
    ) -> Json:
        """A person's or an extension's decision on a pending request."""
        ...
