"""The engine under ``codexkit serve``: sessions on a pool of app-servers, the requests
the agent makes of people, and the event hub. Usable without HTTP."""

from __future__ import annotations

from .errors import ServeError
from .hub import EventHub, Frame, Subscription
from .runtime import Runtime, RuntimeSettings

__all__ = ["EventHub", "Frame", "Runtime", "RuntimeSettings", "ServeError", "Subscription"]
